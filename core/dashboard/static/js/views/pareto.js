// Pareto: two objectives against each other (axis chooser for 3+), the front highlighted, dominated
// points faded, constraint violations marked; hypervolume over trials against a derived reference point.
import { axis, chart, grid, ready, showEmpty, tooltip } from "../charts.js";
import { api, esc, fmtNum, getJSON, link, throttle } from "../util.js";

const FRONT = 1, INFEASIBLE = 2;
const LARGE = 300; // dominated or infeasible points above this are drawn in ECharts' large mode (one path)

function objLabel(o) { return `${o.name} (${o.mode === "maximize" ? "max" : "min"})`; }

export function mount(root, route) {
  ready();
  const q = route.params;
  let x = Number(q.get("x") ?? 0), y = Number(q.get("y") ?? 1);
  root.innerHTML = `
    <div class="grid cards four" id="pareto-cards"></div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Pareto front</h2>
      <span class="hint" id="pareto-hint"></span><span id="axes"></span></div>
      <div class="chart tall" id="pareto-chart"></div>
      <div class="hint legend-row"><span class="dot front"></span> on the front (feasible, no trial better in every objective)
        <span class="dot dom"></span> dominated <span class="dot bad"></span> violates a constraint · click a point to open its trial</div></div>
    <div class="grid two">
      <div class="panel"><div class="panel-head"><h2>Hypervolume over trials</h2></div>
        <div class="chart" id="hv-chart"></div><div class="hint" id="hv-ref"></div></div>
      <div class="panel"><h2>Trials on the front</h2><div class="scroll-x tablewrap short" id="front-table"></div></div>
    </div>`;
  let data = null;

  const go = (tid) => { if (tid) window.location.hash = link("e", route.exp, "trials", tid); };

  function setAxes(nx, ny) {
    x = nx; y = ny;
    const p = new URLSearchParams({ x, y });
    history.replaceState(null, "", `${link("e", route.exp, "pareto")}?${p}`);
    draw();
  }

  function drawAxes() {
    const objs = data.objectives;
    const box = root.querySelector("#axes");
    if (objs.length < 3) { box.innerHTML = ""; return; }
    const opts = (sel) => objs.map((o, i) => `<option value="${i}" ${i === sel ? "selected" : ""}>${esc(o.name)}</option>`).join("");
    box.innerHTML = `<label class="hint">x <select id="px">${opts(x)}</select></label> <label class="hint">y <select id="py">${opts(y)}</select></label>`;
    box.querySelector("#px").addEventListener("change", (ev) => setAxes(Number(ev.target.value), y));
    box.querySelector("#py").addEventListener("change", (ev) => setAxes(x, Number(ev.target.value)));
  }

  function draw() {
    const d = data;
    const objs = d.objectives;
    if (x >= objs.length || x < 0) x = 0;
    if (y >= objs.length || y < 0 || y === x) y = x === 1 ? 0 : Math.min(1, objs.length - 1);
    drawAxes();
    const el = root.querySelector("#pareto-chart");
    if (objs.length < 2) { showEmpty(el, "This experiment has one objective: the Pareto page needs two or more (<code>objectives:</code> in the config)."); return; }
    if (!d.points.length) { showEmpty(el, "No trial has reported every objective yet."); return; }
    const front = [], dom = [], bad = [];
    d.points.forEach((p, i) => {
      const row = [p[3][x], p[3][y], i];
      if (p[4] & FRONT) front.push(row); else if (p[4] & INFEASIBLE) bad.push(row); else dom.push(row);
    });
    const dominatedTotal = d.total - d.front_size - d.infeasible;
    const sampled = d.shown < d.total;
    root.querySelector("#pareto-hint").textContent = `${d.total.toLocaleString()} trials · ${d.front_size} on the front` +
      (sampled ? ` · showing ${(d.shown - d.front_size).toLocaleString()} of ${(d.total - d.front_size).toLocaleString()} others (even sample; the front is never sampled)` : "") +
      (dominatedTotal >= 0 && objs.length > 2 ? " · the front is over all objectives; the dashed line joins those the chosen pair alone leaves undominated" : "");
    // the front's projection on the chosen pair, as a dashed guide (exact for two objectives)
    const sx = objs[x].mode === "maximize" ? -1 : 1, sy = objs[y].mode === "maximize" ? -1 : 1;
    const line = [];
    let bestY = Infinity;
    for (const r of front.slice().sort((a, b) => sx * (a[0] - b[0]) || sy * (a[1] - b[1]))) {
      if (sy * r[1] < bestY) { line.push(r); bestY = sy * r[1]; }
    }
    const tip = (p) => {
      const t = d.points[p.data[2]];
      if (!t) return "";
      const flags = t[4] & FRONT ? "on the front" : t[4] & INFEASIBLE ? "<span style='color:#fca5a5'>violates a constraint</span>" : "dominated";
      return `trial <b>${esc(t[0])}</b> #${t[1]} · ${flags}<br>` + objs.map((o, i) => `${esc(o.name)}: <b>${esc(fmtNum(t[3][i]))}</b>`).join("<br>");
    };
    const c = chart(el, {
      grid: { ...grid, left: 64, bottom: 50 },
      tooltip: { ...tooltip, formatter: tip },
      xAxis: axis({ type: "value", scale: true, name: objLabel(objs[x]), nameLocation: "middle", nameGap: 30, inverse: false }),
      yAxis: axis({ type: "value", scale: true, name: objLabel(objs[y]), nameLocation: "end" }),
      series: [
        { name: "dominated", type: "scatter", data: dom, symbolSize: dom.length > LARGE ? 4 : 6, large: dom.length > LARGE, largeThreshold: LARGE,
          itemStyle: { color: "#94a3b8", opacity: 0.35 }, progressive: 0, z: 1 },
        { name: "infeasible", type: "scatter", data: bad, symbol: "triangle", symbolSize: bad.length > LARGE ? 4 : 7, large: bad.length > LARGE, largeThreshold: LARGE,
          itemStyle: { color: "#dc2626", opacity: 0.55 }, progressive: 0, z: 2 },
        { name: "front line", type: "line", data: line.map((r) => [r[0], r[1], r[2]]), showSymbol: false, silent: true,
          lineStyle: { color: "#4f46e5", width: 1.5, type: "dashed", opacity: 0.8 }, z: 3 },
        { name: "reference point", type: "scatter", data: d.reference ? [[d.reference[x], d.reference[y], -1]] : [], symbol: "rect", symbolSize: 8, silent: true,
          itemStyle: { color: "#fff", borderColor: "#111827", borderWidth: 1.5 }, label: { show: true, position: "right", formatter: "reference", color: "#475467", fontSize: 11 }, z: 5 },
        { name: "front", type: "scatter", data: front, symbolSize: 10, progressive: 0,
          itemStyle: { color: "#4f46e5", borderColor: "#fff", borderWidth: 1.5 }, z: 4 },
      ],
    });
    if (c) c.on("click", (p) => { const t = d.points[p.data?.[2]]; if (t) go(t[0]); });
    drawHv();
    drawFrontTable();
  }

  function drawHv() {
    const d = data;
    const el = root.querySelector("#hv-chart");
    const ref = root.querySelector("#hv-ref");
    if (d.hypervolume === null) { showEmpty(el, "Hypervolume is computed for 2 and 3 objectives."); ref.textContent = ""; return; }
    if (!d.hypervolume.length) { showEmpty(el, "No feasible trial yet."); ref.textContent = ""; return; }
    chart(el, {
      grid: { ...grid, left: 64 },
      tooltip: { ...tooltip, trigger: "axis", formatter: (ps) => `after trial #${ps[0].data[0]}<br>hypervolume <b>${fmtNum(ps[0].data[1])}</b>` },
      xAxis: axis({ type: "value", name: "trial #", nameLocation: "middle", nameGap: 28, minInterval: 1 }),
      yAxis: axis({ type: "value", scale: true }),
      series: [{ type: "line", step: "end", data: d.hypervolume, showSymbol: false, lineStyle: { width: 2.2 }, areaStyle: { opacity: 0.08 } }],
    });
    const last = d.hypervolume[d.hypervolume.length - 1][1];
    ref.innerHTML = `now <b>${esc(fmtNum(last))}</b> · reference point (each objective's worst feasible value + 10% of its range): ` +
      `<span class="mono" id="hv-refpoint">${d.objectives.map((o, i) => `${esc(o.name)} = ${esc(fmtNum(d.reference[i]))}`).join(", ")}</span>`;
  }

  function drawFrontTable() {
    const d = data;
    const rows = d.points.filter((p) => p[4] & FRONT).sort((a, b) => (d.objectives[0].mode === "maximize" ? b[3][0] - a[3][0] : a[3][0] - b[3][0]));
    const box = root.querySelector("#front-table");
    if (!rows.length) { box.innerHTML = `<div class="empty">No feasible trial yet.</div>`; return; }
    box.innerHTML = `<table><thead><tr><th>Trial</th><th class="num">#</th>${d.objectives.map((o) => `<th class="num">${esc(o.name)}</th>`).join("")}</tr></thead><tbody>` +
      rows.slice(0, 500).map((p) => `<tr class="click" data-trial="${esc(p[0])}"><td class="mono">${esc(p[0])}</td><td class="num">${p[1]}</td>${p[3].map((v) => `<td class="num">${esc(fmtNum(v))}</td>`).join("")}</tr>`).join("") +
      `</tbody></table>`;
  }
  root.addEventListener("click", (ev) => {
    const tr = ev.target.closest("#front-table tr[data-trial]");
    if (tr) go(tr.dataset.trial);
  });

  // heavy on large experiments: live updates redraw it at most every few seconds
  const [refresh, cancel] = throttle(async () => {
      const [d] = await Promise.all([getJSON(`${api(route.exp)}/pareto`), ready()]);
      data = d;
      const hv = d.hypervolume?.length ? d.hypervolume[d.hypervolume.length - 1][1] : null;
      root.querySelector("#pareto-cards").innerHTML = `
        <div class="panel card"><div class="label">Trials with every objective</div><div class="big">${d.total.toLocaleString()}</div><div class="small">${d.objectives.map((o) => esc(objLabel(o))).join(" · ")}</div></div>
        <div class="panel card"><div class="label">On the front</div><div class="big" id="front-size">${d.front_size}</div><div class="small">feasible and non-dominated</div></div>
        <div class="panel card"><div class="label">Constraint violations</div><div class="big" id="infeasible">${d.infeasible}</div><div class="small">${d.constraints.length ? d.constraints.map((c) => esc(`${c.min !== undefined ? fmtNum(c.min) + " ≤ " : ""}${c.metric}${c.max !== undefined ? " ≤ " + fmtNum(c.max) : ""}`)).join(", ") : "no constraints"}</div></div>
        <div class="panel card"><div class="label">Hypervolume</div><div class="big" id="hv-now">${hv === null ? "–" : esc(fmtNum(hv))}</div><div class="small">against the reference point below</div></div>`;
      draw();
  }, 3000);
  return { refresh, destroy: cancel };
}
