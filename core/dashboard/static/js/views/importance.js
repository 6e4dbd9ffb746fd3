// Importance: which parameters matter (fANOVA on a random forest, computed by the server), the
// contour of any two parameters, and a slice plot per parameter with the forest's marginal.
import { axis, chart, grid, ready, showEmpty, tooltip, VALUE_RAMP } from "../charts.js";
import { api, esc, fmtNum, getJSON, link, throttle } from "../util.js";

const KIND = { float: "uniform", log: "log scale", int: "integer", categorical: "choice" };

/** The page's explanation of the method (also in docs/dashboard.md). */
export const METHOD_TEXT = `<b>How this is computed (fANOVA).</b> A random forest of regression trees is fitted to the
  finished trials (parameters → final value). A tree is constant on boxes, so the mean value with one parameter
  held fixed and every other one averaged out over its whole range (its <i>marginal</i>) is exact. A parameter's
  importance is the variance of its marginal as a share of the total variance, averaged over the trees
  (Hutter et al., ICML 2014). Ranges are uniform on the scale the space gives (log for log types); each option of a
  choice weighs the same; a conditional parameter's "inactive" cell weighs the share of trials where it was
  inactive. The shares need not add up to 100%: the rest is interactions between parameters and noise.
  The out-of-bag R² says how well the forest predicts trials it did not see.`;

function pct(v) { return v === null || v === undefined ? "–" : `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`; }

/** Cell edges around grid points (midpoints; geometric for log axes; ±0.5 for choices). */
function edges(xs, kind) {
  if (kind === "categorical") return xs.map((_, i) => [i - 0.5, i + 0.5]);
  const n = xs.length;
  const mid = (a, b) => (kind === "log" ? Math.sqrt(a * b) : (a + b) / 2);
  return xs.map((x, i) => {
    const lo = i ? mid(xs[i - 1], x) : (kind === "log" ? x * x / mid(x, xs[1] ?? x) : x - (mid(x, xs[1] ?? x) - x));
    const hi = i < n - 1 ? mid(x, xs[i + 1]) : (kind === "log" ? x * x / mid(xs[i - 1] ?? x, x) : x + (x - mid(xs[i - 1] ?? x, x)));
    return [lo, hi];
  });
}

/** An axis for a parameter: log, value, or a value axis with one tick per option. */
function paramAxis(kind, name, options, extra = {}, tidy = false) {
  if (kind === "categorical") {
    const at = options.map((_, i) => i);
    return axis({ type: "value", name, nameLocation: "middle", nameGap: 28, min: -0.5, max: options.length - 0.5,
      axisLabel: { color: "#667085", hideOverlap: true, customValues: at, formatter: (v) => (options[Math.round(v)] !== undefined ? trunc(options[Math.round(v)], 10) : "") },
      axisTick: { customValues: at }, splitLine: { show: false }, axisLine: { onZero: false, lineStyle: { color: "#c9ced9" } }, ...extra });
  }
  return axis({ type: kind === "log" ? "log" : "value", name, nameLocation: "middle", nameGap: 28, scale: true, axisLine: { onZero: false, lineStyle: { color: "#c9ced9" } },
    axisLabel: { color: "#667085", hideOverlap: true, formatter: (v) => fmtNum(v, 3), ...(tidy ? { showMinLabel: false, showMaxLabel: false } : {}) }, ...extra });
}

/** An axis's bounds around grid cells (so a log axis does not round out to a decade). */
function bounds(cellEdges) { return { min: cellEdges[0][0], max: cellEdges[cellEdges.length - 1][1] }; }

export function trunc(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }

export function mount(root, route) {
  ready();
  const q = route.params;
  let x = q.get("x") || null, y = q.get("y") || null, objective = Number(q.get("objective") || 0);
  let data = null;
  root.innerHTML = `
    <div class="grid two">
      <div class="panel"><div class="panel-head"><h2>Hyperparameter importance</h2><span id="obj-box"></span></div>
        <div class="chart" id="imp-chart"></div><div class="hint" id="imp-note"></div></div>
      <div class="panel"><div class="panel-head"><h2>Contour</h2><span id="pair-box"></span></div>
        <div class="chart" id="contour-chart"></div><div class="hint" id="contour-note"></div></div>
    </div>
    <div class="panel" style="margin-bottom:16px"><details class="method" id="method"><summary>How importance is computed</summary><p>${METHOD_TEXT}</p></details></div>
    <div class="panel"><div class="panel-head"><h2>Slice plots</h2><span class="hint">each trial's value against one parameter · line: the forest's mean with every other parameter averaged out (band: ±1 sd over the trees)</span></div>
      <div class="smalls" id="slices"></div></div>`;

  const go = (tid) => { if (tid) window.location.hash = link("e", route.exp, "trials", tid); };
  const better = () => (data?.mode === "minimize" ? [...VALUE_RAMP].reverse() : VALUE_RAMP);

  function address() {
    const p = new URLSearchParams();
    if (x) p.set("x", x);
    if (y) p.set("y", y);
    if (objective) p.set("objective", objective);
    history.replaceState(null, "", `${link("e", route.exp, "importance")}${p.size ? "?" + p : ""}`);
  }

  function drawBars() {
    const d = data;
    const el = root.querySelector("#imp-chart");
    const note = root.querySelector("#imp-note");
    if (!d.params.length) {
      showEmpty(el, `Importance needs at least ${d.min_trials} finished trials with a value (${d.n_trials} so far).`);
      note.textContent = "";
      return;
    }
    const rows = [...d.params].reverse(); // the most important on top
    el.style.height = `${Math.max(180, 34 * rows.length + 60)}px`;
    const c = chart(el, {
      grid: { left: 12, right: 56, top: 10, bottom: 28, containLabel: true },
      tooltip: { ...tooltip, formatter: (p) => { const r = rows[p.dataIndex]; return `<b>${esc(r.name)}</b> (${esc(KIND[r.kind] || r.kind)}${r.conditional ? `, conditional: active in ${r.n_active} of ${d.n_trials}` : ""})<br>importance <b>${pct(r.importance)}</b> ± ${pct(r.std)} over ${d.n_trees} trees`; } },
      xAxis: axis({ type: "value", min: 0, max: (v) => Math.min(1, Math.ceil(Math.max(0.1, v.max * 1.12) * 10) / 10), axisLabel: { color: "#667085", formatter: (v) => `${Math.round(v * 100)}%` } }),
      yAxis: axis({ type: "category", data: rows.map((r) => r.name), axisLabel: { color: "#1c2130", formatter: (v) => trunc(v, 22) } }),
      series: [{ type: "bar", data: rows.map((r) => r.importance), barMaxWidth: 20, itemStyle: { color: "#4f46e5", borderRadius: [0, 4, 4, 0] },
        label: { show: true, position: "right", color: "#475467", formatter: (p) => pct(p.value) } }],
    });
    if (c) c.on("click", (p) => setPair(rows[p.dataIndex].name, x === rows[p.dataIndex].name ? y : x));
    const r2 = d.oob_r2;
    const warn = r2 === null || r2 < 0.2
      ? ` <span class="warn" id="imp-warn">The forest predicts unseen trials ${r2 === null ? "(too few to tell)" : `poorly (out-of-bag R² ${fmtNum(r2, 2)})`}: the value may be mostly noise to it, and so are these shares.</span>`
      : ` Out-of-bag R² <b>${fmtNum(r2, 2)}</b>.`;
    const out = Object.entries(d.left_out || {}).map(([st, n]) => `${n} ${st.toLowerCase().replace("_", " ")}`).join(", ");
    note.innerHTML = `fANOVA on ${d.n_trials.toLocaleString()} finished trials${d.n_trials >= d.max_trials ? " (the newest)" : ""}${out ? ` (left out, their values not final: ${esc(out)})` : ""}, ${d.n_trees} trees, objective <b>${esc(d.objective)}</b>.${warn} Click a bar to put it in the contour.`;
  }

  function drawPicker() {
    const d = data;
    const ob = root.querySelector("#obj-box");
    ob.innerHTML = d.objectives.length > 1 ? `<label class="hint">objective <select id="obj">${d.objectives.map((o, i) => `<option value="${i}" ${i === objective ? "selected" : ""}>${esc(o)}</option>`).join("")}</select></label>` : "";
    ob.querySelector("#obj")?.addEventListener("change", (ev) => { objective = Number(ev.target.value); address(); self.refresh(true); });
    const box = root.querySelector("#pair-box");
    if (d.params.length < 2 || !d.contour) { box.innerHTML = ""; return; }
    const opts = (sel) => d.params.map((p) => `<option value="${esc(p.name)}" ${p.name === sel ? "selected" : ""}>${esc(trunc(p.name, 28))} (${pct(p.importance)})</option>`).join("");
    box.innerHTML = `<label class="hint">x <select id="cx">${opts(d.contour.x)}</select></label> <label class="hint">y <select id="cy">${opts(d.contour.y)}</select></label>`;
    box.querySelector("#cx").addEventListener("change", (ev) => setPair(ev.target.value, d.contour.y === ev.target.value ? d.contour.x : d.contour.y));
    box.querySelector("#cy").addEventListener("change", (ev) => setPair(d.contour.x === ev.target.value ? d.contour.y : d.contour.x, ev.target.value));
  }

  function drawContour() {
    const d = data;
    const el = root.querySelector("#contour-chart");
    const note = root.querySelector("#contour-note");
    const ct = d.contour;
    if (!ct) { showEmpty(el, d.params.length ? "The contour needs two parameters." : "No importance yet."); note.textContent = ""; return; }
    const ix = d.names.indexOf(ct.x), iy = d.names.indexOf(ct.y);
    const ex = edges(ct.xs, ct.x_kind), ey = edges(ct.ys, ct.y_kind);
    const cells = [];
    let lo = Infinity, hi = -Infinity;
    ct.z.forEach((row, j) => row.forEach((v, i) => { if (v !== null) { cells.push([i, j, v]); lo = Math.min(lo, v); hi = Math.max(hi, v); } }));
    const optsX = ct.x_kind === "categorical" ? ct.xs : null, optsY = ct.y_kind === "categorical" ? ct.ys : null;
    const pos = (v, opts) => (opts ? opts.indexOf(v) : v);
    const jitter = (k) => ((k * 7919) % 100) / 100 * 0.5 - 0.25; // deterministic, within the option's cell
    const dots = d.points.map((p, k) => {
      const vx = p[2][ix], vy = p[2][iy];
      if (vx === null || vy === null) return null;
      return [pos(vx, optsX) + (optsX ? jitter(k) : 0), pos(vy, optsY) + (optsY ? jitter(k + 3) : 0), p[1], p[0], vx, vy];
    }).filter(Boolean);
    for (const p of dots) { lo = Math.min(lo, p[2]); hi = Math.max(hi, p[2]); }
    const c = chart(el, {
      grid: { ...grid, left: 64, right: 86, bottom: 50 },
      tooltip: { ...tooltip, formatter: (p) => (p.seriesIndex === 0
        ? `forest's mean at ${esc(ct.x)} = ${esc(fmtNum(ct.xs[p.data[0]]))}, ${esc(ct.y)} = ${esc(fmtNum(ct.ys[p.data[1]]))}: <b>${fmtNum(p.data[2])}</b>`
        : `trial <b>${esc(p.data[3])}</b><br>${esc(ct.x)} = ${esc(fmtNum(p.data[4]))}<br>${esc(ct.y)} = ${esc(fmtNum(p.data[5]))}<br>value <b>${fmtNum(p.data[2])}</b>`) },
      // the bounds are cell edges (half a step past the first and last integer): no labels there
      xAxis: paramAxis(ct.x_kind, ct.x, ct.xs, { nameGap: 30, ...bounds(ex) }, ct.x_kind === "int"),
      yAxis: paramAxis(ct.y_kind, ct.y, ct.ys, { nameLocation: "end", nameGap: 12, ...bounds(ey) }, ct.y_kind === "int"),
      visualMap: { type: "continuous", min: lo, max: hi, dimension: 2, seriesIndex: [0, 1], inRange: { color: better() }, right: 0, top: "middle",
        itemHeight: 160, text: [d.mode === "minimize" ? "worse" : "better", d.mode === "minimize" ? "better" : "worse"], calculable: false, formatter: (v) => fmtNum(v, 3), textStyle: { color: "#667085" } },
      series: [
        { type: "custom", data: cells, silent: false, z: 1, encode: { x: 0, y: 1 },
          renderItem: (params, a) => {
            const i = a.value(0), j = a.value(1);
            const p0 = a.coord([ex[i][0], ey[j][0]]), p1 = a.coord([ex[i][1], ey[j][1]]);
            return { type: "rect", shape: { x: Math.min(p0[0], p1[0]), y: Math.min(p0[1], p1[1]), width: Math.abs(p1[0] - p0[0]) + 0.5, height: Math.abs(p1[1] - p0[1]) + 0.5 },
              style: { fill: a.visual("color"), opacity: 0.85 } };
          } },
        { type: "scatter", data: dots, symbolSize: dots.length > 400 ? 5 : 8, z: 3, itemStyle: { borderColor: "#fff", borderWidth: 1 } },
      ],
    });
    if (c) c.on("click", (p) => { if (p.seriesIndex === 1) go(p.data[3]); });
    const imp = (n) => d.params.find((p) => p.name === n)?.importance ?? 0;
    note.innerHTML = `colour: the forest's mean value with <b>${esc(ct.x)}</b> and <b>${esc(ct.y)}</b> held fixed and every other parameter averaged out; dots: the trials (click one to open it). Alone they explain ${pct(imp(ct.x))} and ${pct(imp(ct.y))}.`;
  }

  function drawSlices() {
    const d = data;
    const box = root.querySelector("#slices");
    if (!d.params.length) { box.innerHTML = `<div class="empty">No slices yet.</div>`; return; }
    const names = d.params.map((p) => p.name);
    box.innerHTML = names.map((n, k) => `<div class="slice"><div class="hint mono" title="${esc(n)}"><b>${esc(trunc(n, 40))}</b> · ${pct(d.params[k].importance)}</div><div class="chart" id="slice-${k}" data-param="${esc(n)}"></div></div>`).join("");
    names.forEach((n, k) => {
      const j = d.names.indexOf(n);
      const m = d.marginals[n];
      const cat = m.kind === "categorical";
      const pts = d.points.map((p, i) => (p[2][j] === null ? null : [cat ? m.x.indexOf(p[2][j]) + (((i * 7919) % 100) / 100 * 0.5 - 0.25) : p[2][j], p[1], p[0], p[2][j]])).filter(Boolean);
      const xs = m.x.map((v, i) => (cat ? i : v));
      const meanLine = xs.map((v, i) => [v, m.mean[i]]);
      const lower = xs.map((v, i) => [v, m.mean[i] - m.std[i]]);
      const band = xs.map((v, i) => [v, 2 * m.std[i]]);
      const c = chart(box.querySelector(`#slice-${k}`), {
        grid: { left: 56, right: 16, top: 14, bottom: 42 },
        tooltip: { ...tooltip, formatter: (p) => (p.seriesName === "trials"
          ? `trial <b>${esc(p.data[2])}</b><br>${esc(n)} = ${esc(fmtNum(p.data[3]))}<br>value <b>${fmtNum(p.data[1])}</b>`
          : `${esc(n)} = ${esc(fmtNum(m.x[p.dataIndex]))}<br>forest's mean <b>${fmtNum(m.mean[p.dataIndex])}</b> ± ${fmtNum(m.std[p.dataIndex])}`) },
        xAxis: paramAxis(m.kind, "", m.x, { nameGap: 0, ...(cat || m.kind === "int" ? {} : bounds(edges(m.x, m.kind))) }),
        yAxis: axis({ type: "value", scale: true, axisLine: { onZero: false, lineStyle: { color: "#c9ced9" } }, axisLabel: { color: "#667085", formatter: (v) => fmtNum(v, 3) } }),
        series: [
          { name: "trials", type: "scatter", data: pts, symbolSize: pts.length > 500 ? 4 : 6, itemStyle: { color: "#64748b", opacity: 0.45 }, z: 2 },
          ...(cat ? [] : [
            { name: "band-lo", type: "line", data: lower, stack: "band", showSymbol: false, silent: true, lineStyle: { opacity: 0 }, z: 1 },
            { name: "band", type: "line", data: band, stack: "band", showSymbol: false, silent: true, lineStyle: { opacity: 0 }, areaStyle: { color: "#4f46e5", opacity: 0.12 }, z: 1 },
          ]),
          { name: "marginal", type: "line", data: meanLine, showSymbol: cat, symbol: "diamond", symbolSize: 11, lineStyle: { color: "#4f46e5", width: cat ? 0 : 2.2 }, itemStyle: { color: "#4f46e5" }, z: 3 },
        ],
      });
      if (c) c.on("click", (p) => { if (p.seriesName === "trials") go(p.data[2]); });
    });
  }

  function draw() {
    drawBars();
    drawPicker();
    drawContour();
    drawSlices();
  }

  function setPair(nx, ny) {
    x = nx; y = ny;
    address();
    self.refresh(true);
  }

  const url = () => {
    const p = new URLSearchParams();
    if (x) p.set("x", x);
    if (y) p.set("y", y);
    if (objective) p.set("objective", objective);
    return `${api(route.exp)}/importance${p.size ? "?" + p : ""}`;
  };
  // fitting the forest is the server's heaviest job: live updates redraw at most every 15 s
  const [refresh, cancel] = throttle(async () => {
    const [d] = await Promise.all([getJSON(url()), ready()]);
    data = d;
    if (d.contour) { x = d.contour.x; y = d.contour.y; }
    draw();
  }, 15000);
  const self = { refresh, destroy: cancel };
  return self;
}
