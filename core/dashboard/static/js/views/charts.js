// Charts: overlaid intermediate curves, parallel coordinates coloured by value, value vs each parameter.
import { axis, chart, grid, ready, showEmpty, tooltip, VALUE_RAMP } from "../charts.js";
import { api, esc, fmtNum, getJSON, link } from "../util.js";

function isNumeric(points, key, space) {
  if (space?.[key]?._type === "choice") return false;
  return points.every((p) => p.params[key] === undefined || typeof p.params[key] === "number");
}

function category(points, key) {
  const vals = [...new Set(points.map((p) => p.params[key]).filter((v) => v !== undefined))];
  if (vals.every((v) => typeof v === "number")) vals.sort((a, b) => a - b);
  return vals.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v)));
}

const MAX_LINES = 1200; // parallel coordinates
const MAX_DOTS = 1200; // each value-vs-parameter scatter

/** At most `max` points: the best half of the budget, and an even sample of the others. */
function sample(points, max, mode) {
  if (points.length <= max) return points;
  const sign = mode === "maximize" ? -1 : 1;
  const sorted = [...points].sort((a, b) => sign * (a.value - b.value));
  const best = sorted.slice(0, max / 2);
  const rest = sorted.slice(max / 2);
  const step = rest.length / (max / 2);
  const picked = [];
  for (let i = 0; i < max / 2; i++) picked.push(rest[Math.floor(i * step)]);
  return best.concat(picked);
}

export function mount(root, route) {
  let n = Number(route.params.get("curves")) || 40;
  root.innerHTML = `
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Parallel coordinates</h2><span class="hint" id="par-hint">coloured by the final value · drag along an axis to filter</span></div>
      <div class="chart tall" id="parallel"></div></div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Intermediate curves</h2>
      <label class="hint">best <select id="ncurves">${[10, 20, 40, 100, 200].map((k) => `<option ${k === n ? "selected" : ""}>${k}</option>`).join("")}</select> trials, plus running ones</label></div>
      <div class="chart tall" id="curves"></div></div>
    <div class="panel"><div class="panel-head"><h2>Value against each parameter</h2><span class="hint" id="sc-hint"></span></div><div class="smalls" id="scatter"></div></div>`;
  root.querySelector("#ncurves").addEventListener("change", (ev) => { n = Number(ev.target.value); self.refresh(true); });

  const goto = (c) => c && c.on("click", (p) => {
    const tid = p.data?.trial_id ?? p.data?.[2] ?? p.seriesName;
    if (tid && typeof tid === "string") window.location.hash = link("e", route.exp, "trials", tid);
  });

  // the charts are the heaviest page: live updates redraw it at most every few seconds
  const MIN_INTERVAL_MS = 5000;
  let last = 0;
  let pending = null;
  const self = {
    async refresh(force = false) {
      const wait = last + MIN_INTERVAL_MS - Date.now();
      if (!force && last && wait > 0) {
        if (!pending) pending = setTimeout(() => { pending = null; self.refresh(true).catch(() => {}); }, wait);
        return;
      }
      last = Date.now();
      const [d] = await Promise.all([getJSON(`${api(route.exp)}/charts?curves=${n}`), ready()]);
      const keys = d.columns.params;
      const pts = d.points;
      const values = pts.map((p) => p.value);
      const lo = Math.min(...values), hi = Math.max(...values);
      const visual = { type: "continuous", min: lo, max: hi, dimension: keys.length, inRange: { color: VALUE_RAMP }, right: 0, top: "middle", calculable: true, text: ["high", "low"], formatter: (v) => fmtNum(v, 3), textStyle: { color: "#667085" } };

      // parallel coordinates
      const par = root.querySelector("#parallel");
      if (!pts.length) showEmpty(par, "No trial has a final value yet.");
      else {
        const dims = keys.map((k, i) => (isNumeric(pts, k, d.space)
          ? { dim: i, name: k, type: "value", scale: true, ...(d.space?.[k]?._type?.startsWith("log") ? { type: "log" } : {}) }
          : { dim: i, name: k, type: "category", data: category(pts, k) }));
        dims.push({ dim: keys.length, name: "value", type: "value", scale: true, nameTextStyle: { fontWeight: 700 } });
        const lines = sample(pts, MAX_LINES, d.mode);
        root.querySelector("#par-hint").textContent = (lines.length < pts.length
          ? `${lines.length.toLocaleString()} of ${pts.length.toLocaleString()} trials: the best ${MAX_LINES / 2} and an even sample of the rest · `
          : "") + "coloured by the final value · drag along an axis to filter";
        const rows = lines.map((p) => [...keys.map((k, i) => { const v = p.params[k]; return dims[i].type === "category" ? (typeof v === "object" ? JSON.stringify(v) : String(v)) : v; }), p.value]);
        chart(par, {
          parallelAxis: dims.map((a) => ({ ...a, nameLocation: "end", nameTextStyle: { color: "#1c2130", fontWeight: 600, ...(a.nameTextStyle || {}) }, axisLabel: { color: "#667085" }, axisLine: { lineStyle: { color: "#b7bdcc" } } })),
          parallel: { left: 60, right: 110, top: 40, bottom: 30 },
          visualMap: visual,
          tooltip: { ...tooltip },
          series: [{ type: "parallel", data: rows, lineStyle: { width: lines.length > 500 ? 0.7 : 1.3, opacity: lines.length > 500 ? 0.35 : 0.6 }, emphasis: { lineStyle: { width: 3, opacity: 1 } }, progressive: 0 }],
        });
      }

      // overlaid curves
      const cv = root.querySelector("#curves");
      if (!d.curves.length) showEmpty(cv, "No intermediate reports yet.");
      else {
        const cvals = d.curves.map((c) => c.value).filter((v) => v !== null);
        const cmin = Math.min(...cvals), cmax = Math.max(...cvals);
        const colour = (c) => {
          if (c.status === "RUNNING") return "#2563eb";
          if (c.value === null) return "#cbd5e1";
          const r = cmax > cmin ? (c.value - cmin) / (cmax - cmin) : 1;
          const good = d.mode === "maximize" ? r : 1 - r;
          return `hsl(${245 - good * 10}, ${30 + good * 55}%, ${78 - good * 45}%)`;
        };
        chart(cv, {
          grid: { ...grid, right: 30 },
          tooltip: { ...tooltip, formatter: (p) => `trial <b>${esc(p.seriesName)}</b><br>step ${p.data[0]}: <b>${fmtNum(p.data[1])}</b>` },
          xAxis: axis({ type: "value", name: "step", nameLocation: "middle", nameGap: 28, minInterval: 1 }),
          yAxis: axis({ type: "value", scale: true }),
          series: d.curves.map((c) => ({ name: c.trial_id, type: "line", data: c.points, showSymbol: false, lineStyle: { width: c.status === "RUNNING" ? 2.2 : 1.4, color: colour(c) }, itemStyle: { color: colour(c) }, emphasis: { focus: "series", lineStyle: { width: 3 } }, z: c.status === "RUNNING" ? 5 : 2 })),
        });
        goto(window.echarts?.getInstanceByDom(cv));
      }

      // value against each parameter
      const sc = root.querySelector("#scatter");
      const dots = sample(pts, MAX_DOTS, d.mode);
      root.querySelector("#sc-hint").textContent = dots.length < pts.length ? `${dots.length.toLocaleString()} of ${pts.length.toLocaleString()} trials (the best ${MAX_DOTS / 2} and an even sample)` : "";
      const ids = keys.map((_, i) => `sc-${i}`);
      sc.innerHTML = keys.map((k, i) => `<div><div class="hint mono"><b>${esc(k)}</b></div><div class="chart" id="${ids[i]}"></div></div>`).join("") || `<div class="empty">No parameters.</div>`;
      keys.forEach((k, i) => {
        const numeric = isNumeric(pts, k, d.space);
        const log = d.space?.[k]?._type?.startsWith("log");
        const c = chart(sc.querySelector(`#${ids[i]}`), {
          grid: { left: 52, right: 16, top: 16, bottom: 40 },
          tooltip: { ...tooltip, formatter: (p) => `trial <b>${esc(p.data.trial_id)}</b><br>${esc(k)} = ${esc(fmtNum(p.data.value[0]))}<br>value <b>${fmtNum(p.data.value[1])}</b>` },
          xAxis: axis(numeric ? { type: log ? "log" : "value", scale: true, name: k, nameLocation: "middle", nameGap: 26 } : { type: "category", data: category(pts, k), name: k, nameLocation: "middle", nameGap: 26 }),
          yAxis: axis({ type: "value", scale: true }),
          visualMap: { ...visual, dimension: 1, show: false },
          series: [{ type: "scatter", progressive: 0, symbolSize: dots.length > 1000 ? 4 : 7, itemStyle: { opacity: 0.8 },
            data: dots.filter((p) => p.params[k] !== undefined).map((p) => ({ value: [numeric ? p.params[k] : (typeof p.params[k] === "object" ? JSON.stringify(p.params[k]) : String(p.params[k])), p.value], trial_id: p.trial_id })) }],
        });
        goto(c);
      });
    },
  };
  self.destroy = () => clearTimeout(pending);
  return self;
}
