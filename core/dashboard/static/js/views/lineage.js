// Lineage (PBT): the family tree of trials on a step axis, and each member's curve stitched across
// its ancestors (the parent's reports up to the step the child continued from, then the child's).
import { axis, chart, grid, ready, showEmpty, tooltip } from "../charts.js";
import { api, badge, esc, fmtNum, fmtVal, getJSON, link, STATUS_COLORS, throttle } from "../util.js";

const ROW = 20, BAR = 10, LEFT = 64, RIGHT = 24, TOP = 10, AXIS_H = 28;
const SVG = "http://www.w3.org/2000/svg";

const change = (k, v) => {
  if (Array.isArray(v) && v.length === 2) return `${k} ${fmtVal(v[0])} → ${fmtVal(v[1])}`;
  if (v && typeof v === "object" && ("from" in v || "to" in v)) return `${k} ${fmtVal(v.from)} → ${fmtVal(v.to)}${v.how ? ` (${v.how})` : ""}`;
  return `${k}: ${fmtVal(v)}`;
};

/** "lr 0.04 → 0.048, batch 32 → 64" for {lr: [0.04, 0.048]}, {lr: {from, to, how}} or
 * {params: {...}, replaced: ID, ...} (the pbt scheduler's form); JSON otherwise. */
export function perturbationText(p) {
  if (!p || typeof p !== "object") return "";
  const parts = [];
  const params = p.params && typeof p.params === "object" && !Array.isArray(p.params) ? p.params : null;
  if (params) for (const [k, v] of Object.entries(params)) parts.push(change(k, v));
  for (const [k, v] of Object.entries(p)) {
    if (params && k === "params") continue;
    if (params && (k === "donor_step" || k === "donor_value")) continue; // the link shows them
    parts.push(change(k, v));
  }
  return parts.join(", ");
}

/** Lanes: a trial takes its parent's lane when that is free, else the lowest free one. */
function layout(nodes) {
  const byId = new Map(nodes.map((n) => [n.trial_id, n]));
  const start = (n) => n.fork_step ?? n.first_step ?? 0;
  const end = (n) => Math.max(start(n), n.last_step ?? start(n));
  const order = [...nodes].sort((a, b) => start(a) - start(b) || a.sequence - b.sequence);
  const laneEnd = [];
  for (const n of order) {
    const s = start(n);
    const p = n.parent && byId.get(n.parent);
    let lane = -1;
    if (p && p.lane !== undefined && laneEnd[p.lane] <= s && p.trial_id !== n.trial_id) lane = p.lane;
    if (lane < 0) lane = laneEnd.findIndex((e) => e < s);
    if (lane < 0) lane = laneEnd.length;
    laneEnd[lane] = end(n);
    n.lane = lane; n.x0 = s; n.x1 = end(n);
  }
  return laneEnd.length;
}

function rampColor(v, lo, hi, mode) {
  if (v === null || v === undefined) return "#cbd5e1";
  const r = hi > lo ? (v - lo) / (hi - lo) : 1;
  const good = mode === "maximize" ? r : 1 - r;
  return `hsl(${245 - good * 10}, ${30 + good * 55}%, ${80 - good * 45}%)`;
}

export function mount(root, route) {
  ready();
  let selected = route.params.get("trial") || null;
  root.innerHTML = `
    <div class="grid cards four" id="lineage-cards"></div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Family tree</h2>
      <span class="hint">a bar is a trial from the step it started at to its last report; a link is a warm start from the parent's checkpoint at that step · hover for the perturbation · click to follow a member</span></div>
      <div class="tree-wrap" id="tree-wrap"><svg id="tree"></svg></div><div class="tree-tip" id="tree-tip" hidden></div></div>
    <div class="grid two">
      <div class="panel"><div class="panel-head"><h2>Curves across ancestors</h2><span class="hint" id="stitch-hint"></span></div><div class="chart tall" id="stitched"></div></div>
      <div class="panel"><h2>Selected member</h2><div id="lineage-info" class="muted">Click a trial in the tree.</div></div>
    </div>`;
  let data = null;
  const tip = root.querySelector("#tree-tip");

  function chainOf(tid) {
    const byId = new Map(data.nodes.map((n) => [n.trial_id, n]));
    const out = [];
    const seen = new Set();
    let cur = byId.get(tid);
    while (cur && !seen.has(cur.trial_id)) { out.push(cur); seen.add(cur.trial_id); cur = cur.parent ? byId.get(cur.parent) : null; }
    return out.reverse();
  }

  function drawTree() {
    const svg = root.querySelector("#tree");
    const wrap = root.querySelector("#tree-wrap");
    const nodes = data.nodes;
    svg.innerHTML = "";
    if (!nodes.length) { wrap.innerHTML = `<div class="empty">No trials yet.</div><svg id="tree"></svg>`; return; }
    const lanes = layout(nodes);
    const width = Math.max(600, wrap.clientWidth || 1200);
    const height = TOP + lanes * ROW + AXIS_H;
    const labels = nodes.length <= 120;
    const right = labels ? RIGHT + 48 : RIGHT;
    const lo = Math.min(...nodes.map((n) => n.x0)), hi = Math.max(...nodes.map((n) => n.x1), lo + 1);
    const sx = (s) => LEFT + ((s - lo) / (hi - lo)) * (width - LEFT - right);
    const sy = (lane) => TOP + lane * ROW + ROW / 2;
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const vals = nodes.map((n) => n.value).filter((v) => v !== null);
    const vlo = Math.min(...vals), vhi = Math.max(...vals);
    const chain = new Set(selected ? chainOf(selected).map((n) => n.trial_id) : []);
    const byId = new Map(nodes.map((n) => [n.trial_id, n]));
    const parts = [];
    // step axis
    const ticks = 6;
    for (let i = 0; i <= ticks; i++) {
      const s = Math.round(lo + ((hi - lo) * i) / ticks);
      parts.push(`<line class="tick" x1="${sx(s)}" x2="${sx(s)}" y1="${TOP - 4}" y2="${height - AXIS_H + 4}"/>`,
        `<text class="ticklabel" x="${sx(s)}" y="${height - 8}" text-anchor="middle">${s}</text>`);
    }
    parts.push(`<text class="ticklabel" x="${LEFT - 8}" y="${height - 8}" text-anchor="end">step</text>`);
    // links first (under the bars)
    for (const n of nodes) {
      const p = n.parent && byId.get(n.parent);
      if (!p) continue;
      const xf = sx(n.x0), y0 = sy(p.lane), y1 = sy(n.lane);
      const on = chain.has(n.trial_id) && chain.has(p.trial_id);
      parts.push(`<path class="link${on ? " hl" : ""}" data-child="${esc(n.trial_id)}" d="M ${xf} ${y0} C ${xf + 14} ${y0}, ${xf - 14} ${y1}, ${xf + 2} ${y1}"/>`,
        `<circle class="fork${on ? " hl" : ""}" cx="${xf}" cy="${y0}" r="3"/>`);
    }
    for (const n of nodes) {
      const x0 = sx(n.x0), x1 = Math.max(sx(n.x1), x0 + 3);
      const cls = `node${chain.has(n.trial_id) ? " hl" : ""}${selected === n.trial_id ? " sel" : ""}`;
      parts.push(`<rect class="${cls}" data-trial="${esc(n.trial_id)}" x="${x0}" y="${sy(n.lane) - BAR / 2}" width="${x1 - x0}" height="${BAR}" rx="3"
        fill="${rampColor(n.value, vlo, vhi, data.mode)}" stroke="${STATUS_COLORS[n.status] || "#64748b"}"/>`);
      if (labels) parts.push(`<text class="nodelabel" x="${x1 + 4}" y="${sy(n.lane) + 4}">${esc(n.trial_id)}</text>`);
    }
    svg.innerHTML = parts.join("");
  }

  function showTip(ev, n) {
    const pert = perturbationText(n.perturbation);
    tip.innerHTML = `<b class="mono">${esc(n.trial_id)}</b> ${badge(n.status)}<br>` +
      `steps ${n.first_step ?? "–"}–${n.last_step ?? "–"} · generation ${n.generation} · value <b>${esc(fmtNum(n.value) || "–")}</b><br>` +
      (n.parent ? `warm-started from <b class="mono">${esc(n.parent)}</b> at step ${n.fork_step ?? "?"}<br>` : "a root: started fresh<br>") +
      (pert ? `perturbation: <b id="tip-pert">${esc(pert)}</b><br>` : "") +
      `<span class="muted">${Object.entries(n.params || {}).map(([k, v]) => `${esc(k)}=${esc(fmtVal(v))}`).join(" ")}</span>`;
    tip.hidden = false;
    const box = root.querySelector("#tree-wrap").getBoundingClientRect();
    tip.style.left = `${Math.min(ev.clientX - box.left + 14, box.width - 320)}px`;
    tip.style.top = `${ev.clientY - box.top + 14 + root.querySelector("#tree-wrap").offsetTop}px`;
  }

  root.addEventListener("mousemove", (ev) => {
    const r = ev.target.closest?.("rect.node");
    if (!r || !data) { tip.hidden = true; return; }
    const n = data.nodes.find((x) => x.trial_id === r.dataset.trial);
    if (n) showTip(ev, n);
  });
  root.addEventListener("mouseleave", () => { tip.hidden = true; });
  root.addEventListener("click", (ev) => {
    const r = ev.target.closest?.("rect.node");
    if (!r) return;
    selected = r.dataset.trial;
    history.replaceState(null, "", `${link("e", route.exp, "lineage")}?trial=${encodeURIComponent(selected)}`);
    self.select();
  });

  function drawInfo() {
    const box = root.querySelector("#lineage-info");
    if (!selected) return;
    const chain = chainOf(selected);
    if (!chain.length) { box.innerHTML = `<span class="muted">Trial ${esc(selected)} is not in the tree.</span>`; return; }
    const me = chain[chain.length - 1];
    box.className = "";
    box.innerHTML = `<div style="margin-bottom:8px"><b class="mono">${esc(me.trial_id)}</b> ${badge(me.status)} value <b>${esc(fmtNum(me.value) || "–")}</b>
        · <a href="${link("e", route.exp, "trials", me.trial_id)}" id="open-trial">open the trial</a></div>
      <ol class="chain" id="chain">${chain.map((n, i) => `<li><span class="mono">${esc(n.trial_id)}</span> steps ${n.first_step ?? "–"}–${n.last_step ?? "–"}` +
        (i ? ` · from <span class="mono">${esc(n.parent)}</span> at step ${n.fork_step ?? "?"}${n.perturbation ? ` · <b>${esc(perturbationText(n.perturbation))}</b>` : ""}` : " · started fresh") + `</li>`).join("")}</ol>`;
  }

  function drawCurves() {
    const el = root.querySelector("#stitched");
    const curves = data.curves;
    if (!curves.length) { showEmpty(el, "No reports yet."); return; }
    root.querySelector("#stitch-hint").textContent = `${curves.length} members: the best, the running and paused ones${selected ? ", and the selected one" : ""}`;
    const series = curves.map((c) => {
      const sel = c.trial_id === selected;
      // a symbol where the curve passes from an ancestor to its child
      const joins = new Set(c.segments.slice(1).map((s) => s.from));
      return {
        name: c.trial_id, type: "line", showSymbol: true, z: sel ? 10 : 2,
        data: c.points.map((p) => ({ value: [p[0], p[1]], from: p[2], symbol: joins.has(p[0]) ? "circle" : "none", symbolSize: 6 })),
        lineStyle: { width: sel ? 3.2 : 1.4, opacity: selected && !sel ? 0.35 : 0.9 },
        emphasis: { focus: "series", lineStyle: { width: 3 } },
      };
    });
    const c = chart(el, {
      grid: { ...grid, right: 20 },
      tooltip: { ...tooltip, formatter: (p) => `member <b>${esc(p.seriesName)}</b><br>step ${p.data.value[0]}: <b>${esc(fmtNum(p.data.value[1]))}</b><br><span class="muted">reported by ${esc(p.data.from)}</span>` },
      xAxis: axis({ type: "value", name: "step", nameLocation: "middle", nameGap: 28, minInterval: 1 }),
      yAxis: axis({ type: "value", scale: true }),
      series,
    });
    if (c) c.on("click", (p) => { selected = p.seriesName; self.select(); });
  }

  const [refresh, cancel] = throttle(async () => {
      const qs = new URLSearchParams({ members: 20 });
      if (selected) qs.set("trial", selected);
      const [d] = await Promise.all([getJSON(`${api(route.exp)}/lineage?${qs}`), ready()]);
      data = d;
      const gens = d.nodes.length ? Math.max(...d.nodes.map((n) => n.generation)) + 1 : 0;
      const best = d.nodes.filter((n) => n.value !== null).sort((a, b) => (d.mode === "maximize" ? b.value - a.value : a.value - b.value))[0];
      root.querySelector("#lineage-cards").innerHTML = `
        <div class="panel card"><div class="label">Trials</div><div class="big" id="lineage-total">${d.nodes.length}</div><div class="small">${d.total > d.nodes.length ? `the newest ${d.nodes.length} of ${d.total}` : "in the tree"}</div></div>
        <div class="panel card"><div class="label">Warm-started</div><div class="big" id="warm-started">${d.warm_started}</div><div class="small">from a parent's checkpoint</div></div>
        <div class="panel card"><div class="label">Generations</div><div class="big">${gens}</div><div class="small">deepest chain of ancestors</div></div>
        <div class="panel card"><div class="label">Best member</div><div class="big">${best ? esc(fmtNum(best.value)) : "–"}</div><div class="small mono">${best ? esc(best.trial_id) : ""}</div></div>`;
      drawTree();
      drawCurves();
      drawInfo();
  }, 3000);
  // a click (select a member) redraws at once
  const self = { refresh, destroy: cancel, select: () => refresh(true) };
  return self;
}
