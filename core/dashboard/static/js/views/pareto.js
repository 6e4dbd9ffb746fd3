// Pareto: two objectives against each other (axis chooser for 3+), the front highlighted, dominated
// points faded, constraint violations marked; hypervolume over trials against a derived reference point.
import { axis, chart, grid, ready, showEmpty, tooltip } from "../charts.js";
import { api, esc, fmtNum, getJSON, link, throttle } from "../util.js";

const FRONT = 1, INFEASIBLE = 2;
// Dominated and infeasible points (up to thousands) are painted on a canvas under the chart, not
// given to ECharts: its scatter costs ~20 µs a point (data store, layout, a path per symbol),
// a plain canvas path well under 1 µs. ECharts draws the axes (a hidden two-point series spans
// every point, so the axes are those it would choose), the front, its line and the reference
// point; the painted points get their tooltip and click by a nearest-point search here.
const DOT = { dominated: { color: "rgba(148,163,184,.45)", r: 2.2 }, infeasible: { color: "rgba(220,38,38,.6)", r: 3.2 } };
const HIT_PX = 6; // a painted point answers the mouse within this many pixels
const handlers = new WeakMap(); // chart -> the handlers its last draw added

function objLabel(o) { return `${o.name} (${o.mode === "maximize" ? "max" : "min"})`; }

/** ECharts compiles its code the first time a chart is drawn (~0.2 s of CPU on a loaded
 * machine): a tab opened on this page does that with a throw-away chart while the data is on its
 * way (when the library is ready first), so drawing the real one costs only the drawing. */
let warmed = false;
function warmUp() {
  if (warmed || !window.echarts) return;
  warmed = true;
  const el = document.createElement("div");
  el.style.cssText = "position:absolute;left:-10000px;top:0;width:600px;height:400px";
  document.body.appendChild(el);
  try {
    chart(el, {
      grid, tooltip,
      xAxis: axis({ type: "value", scale: true, name: "x", nameLocation: "middle" }),
      yAxis: axis({ type: "value", scale: true, name: "y" }),
      series: [
        { type: "scatter", data: [[0, 1, 0], [1, 0, 1]], symbolSize: 10, itemStyle: { borderColor: "#fff", borderWidth: 1 } },
        { type: "line", data: [[0, 1], [1, 0]], showSymbol: false, lineStyle: { type: "dashed" } },
        { type: "line", step: "end", data: [[0, 0], [1, 1]], showSymbol: false, areaStyle: { opacity: 0.1 } },
      ],
    })?.dispose();
  } finally {
    el.remove();
  }
}

export function mount(root, route) {
  let arrived = false; // the data came: no time to spare for a warm-up
  ready().then(() => { if (!arrived) warmUp(); }).catch(() => {});
  const q = route.params;
  let x = Number(q.get("x") ?? 0), y = Number(q.get("y") ?? 1);
  root.innerHTML = `
    <div class="grid cards four" id="pareto-cards"></div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Pareto front</h2>
      <span class="hint" id="pareto-hint"></span><span id="axes"></span></div>
      <div style="position:relative"><canvas id="pareto-dots" style="position:absolute;left:0;top:0;pointer-events:none;z-index:0"></canvas>
        <div class="chart tall" id="pareto-chart" style="position:relative;z-index:1"></div>
        <div class="dot-tip" id="pareto-tip" hidden style="position:absolute;z-index:6;pointer-events:none;background:rgba(22,26,43,.92);color:#fff;padding:6px 9px;border-radius:4px;font-size:12px;line-height:1.5;white-space:nowrap"></div></div>
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
    if (!d.points.flags.length) { showEmpty(el, "No trial has reported every objective yet."); return; }
    // the API sends columns (points.values: one list per objective)
    const P = d.points, X = P.values[x], Y = P.values[y], F = P.flags;
    const front = [], painted = [];
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, nBad = 0;
    for (let i = 0; i < F.length; i++) {
      const a = X[i], b = Y[i];
      if (a < x0) x0 = a; if (a > x1) x1 = a; if (b < y0) y0 = b; if (b > y1) y1 = b;
      if (F[i] & FRONT) front.push([a, b, i]);
      else { painted.push(i); if (F[i] & INFEASIBLE) nBad++; }
    }
    // infeasible ones last, so they stay visible over the dominated ones
    painted.sort((i, j) => (F[i] & INFEASIBLE) - (F[j] & INFEASIBLE) || i - j);
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
    const tipOf = (i) => {
      const flags = F[i] & FRONT ? "on the front" : F[i] & INFEASIBLE ? "<span style='color:#fca5a5'>violates a constraint</span>" : "dominated";
      return `trial <b>${esc(P.trial_id[i])}</b> #${P.sequence[i]} · ${flags}<br>` + objs.map((o, k) => `${esc(o.name)}: <b>${esc(fmtNum(P.values[k][i]))}</b>`).join("<br>");
    };
    const c = chart(el, {
      grid: { ...grid, left: 64, bottom: 50 },
      tooltip: { ...tooltip, formatter: (p) => (p.seriesName === "front" ? tipOf(p.data[2]) : "") },
      xAxis: axis({ type: "value", scale: true, name: objLabel(objs[x]), nameLocation: "middle", nameGap: 30, inverse: false }),
      yAxis: axis({ type: "value", scale: true, name: objLabel(objs[y]), nameLocation: "end" }),
      series: [
        { name: "extent", type: "scatter", data: [[x0, y0], [x1, y1]], symbolSize: 0, silent: true, tooltip: { show: false }, z: 0 },
        { name: "front line", type: "line", data: line.map((r) => [r[0], r[1], r[2]]), showSymbol: false, silent: true,
          lineStyle: { color: "#4f46e5", width: 1.5, type: "dashed", opacity: 0.8 }, z: 3 },
        { name: "reference point", type: "scatter", data: d.reference ? [[d.reference[x], d.reference[y], -1]] : [], symbol: "rect", symbolSize: 8, silent: true,
          itemStyle: { color: "#fff", borderColor: "#111827", borderWidth: 1.5 }, label: { show: true, position: "right", formatter: "reference", color: "#475467", fontSize: 11 }, z: 5 },
        { name: "front", type: "scatter", data: front, symbolSize: 10, progressive: 0,
          itemStyle: { color: "#4f46e5", borderColor: "#fff", borderWidth: 1.5 }, z: 4 },
      ],
    });
    const canvas = root.querySelector("#pareto-dots");
    const tipBox = root.querySelector("#pareto-tip");
    canvas.dataset.dominated = String(painted.length - nBad);
    canvas.dataset.infeasible = String(nBad);
    if (!c) return;
    // pixel positions of the painted points, for the hit search (value axes: linear maps)
    let px = new Float32Array(0), py = new Float32Array(0);
    const paint = () => {
      const w = el.clientWidth, h = el.clientHeight, dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      const a = c.convertToPixel({ gridIndex: 0 }, [x0, y0]), b = c.convertToPixel({ gridIndex: 0 }, [x1, y1]);
      const kx = x1 > x0 ? (b[0] - a[0]) / (x1 - x0) : 0, ky = y1 > y0 ? (b[1] - a[1]) / (y1 - y0) : 0;
      px = new Float32Array(painted.length); py = new Float32Array(painted.length);
      for (const kind of ["dominated", "infeasible"]) {
        const { color, r } = DOT[kind];
        const bad = kind === "infeasible";
        ctx.beginPath();
        painted.forEach((i, k) => {
          if (((F[i] & INFEASIBLE) !== 0) !== bad) return;
          const u = a[0] + kx * (X[i] - x0), v = a[1] + ky * (Y[i] - y0);
          px[k] = u; py[k] = v;
          if (bad) { ctx.moveTo(u, v - r); ctx.lineTo(u + r, v + r * 0.8); ctx.lineTo(u - r, v + r * 0.8); ctx.closePath(); }
          else { ctx.moveTo(u + r, v); ctx.arc(u, v, r, 0, 2 * Math.PI); }
        });
        ctx.fillStyle = color;
        ctx.fill();
      }
    };
    // the painted point nearest to the mouse, if within HIT_PX (infeasible ones win ties: drawn on top)
    const nearest = (ev) => {
      let best = -1, bestD = HIT_PX * HIT_PX;
      for (let k = 0; k < painted.length; k++) {
        const dx = px[k] - ev.offsetX, dy = py[k] - ev.offsetY, dd = dx * dx + dy * dy;
        if (dd <= bestD) { best = k; bestD = dd; }
      }
      return best < 0 ? undefined : painted[best];
    };
    paint();
    const zr = c.getZr();
    const onMove = (ev) => {
      const i = ev.target ? undefined : nearest(ev);
      if (i === undefined) { tipBox.hidden = true; zr.setCursorStyle("default"); return; }
      tipBox.innerHTML = tipOf(i);
      tipBox.style.left = `${Math.min(ev.offsetX + 12, el.clientWidth - tipBox.offsetWidth - 4)}px`;
      tipBox.style.top = `${ev.offsetY + 12}px`;
      tipBox.hidden = false;
      zr.setCursorStyle("pointer");
    };
    const onOut = () => { tipBox.hidden = true; };
    const onZrClick = (ev) => {
      if (ev.target) return; // a front point: the series' click below
      const i = nearest(ev);
      if (i !== undefined) go(P.trial_id[i]);
    };
    const onClick = (p) => { if (p.seriesName === "front") go(P.trial_id[p.data[2]]); };
    // the chart is reused across redraws (live updates, another axis pair): take off the last
    // draw's handlers (only ours: ECharts has its own on the same zrender events)
    const old = handlers.get(c);
    if (old) {
      c.off("finished", old.paint); c.off("click", old.onClick);
      zr.off("mousemove", old.onMove); zr.off("globalout", old.onOut); zr.off("click", old.onZrClick);
    }
    handlers.set(c, { paint, onClick, onMove, onOut, onZrClick });
    c.on("finished", paint); // after a resize, too
    c.on("click", onClick);
    zr.on("mousemove", onMove);
    zr.on("globalout", onOut);
    zr.on("click", onZrClick);
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
    const P = d.points, sign = d.objectives[0].mode === "maximize" ? -1 : 1;
    const rows = [];
    for (let i = 0; i < P.flags.length; i++) if (P.flags[i] & FRONT) rows.push(i);
    rows.sort((a, b) => sign * (P.values[0][a] - P.values[0][b]));
    const box = root.querySelector("#front-table");
    if (!rows.length) { box.innerHTML = `<div class="empty">No feasible trial yet.</div>`; return; }
    box.innerHTML = `<table><thead><tr><th>Trial</th><th class="num">#</th>${d.objectives.map((o) => `<th class="num">${esc(o.name)}</th>`).join("")}</tr></thead><tbody>` +
      rows.slice(0, 500).map((i) => `<tr class="click" data-trial="${esc(P.trial_id[i])}"><td class="mono">${esc(P.trial_id[i])}</td><td class="num">${P.sequence[i]}</td>${P.values.map((col) => `<td class="num">${esc(fmtNum(col[i]))}</td>`).join("")}</tr>`).join("") +
      `</tbody></table>`;
  }
  root.addEventListener("click", (ev) => {
    const tr = ev.target.closest("#front-table tr[data-trial]");
    if (tr) go(tr.dataset.trial);
  });

  // the first answer may have been asked for by pareto-prefetch.js when the tab opened here
  async function paretoData() {
    const url = `${api(route.exp)}/pareto`;
    const pre = window.__hlParetoPrefetch;
    if (pre) delete window.__hlParetoPrefetch;
    if (pre && pre.url === url) {
      const r = await pre.response.catch(() => null);
      if (r && r.ok) return r.json();
    }
    return getJSON(url);
  }

  // heavy on large experiments: live updates redraw it at most every few seconds
  const [refresh, cancel] = throttle(async () => {
      const [d] = await Promise.all([paretoData().then((v) => { arrived = true; return v; }), ready()]);
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
