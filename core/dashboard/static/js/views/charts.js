// Charts: parallel coordinates coloured by value, and the overlaid intermediate curves (a colour
// and a legend entry per trial, hover for trial, step and value). Slice plots: the Importance page.
import { axis, chart, grid, labelTips, ready, showEmpty, TRIAL_COLORS, tooltip, VALUE_RAMP } from "../charts.js";
import { api, esc, fmtNum, getJSON, link } from "../util.js";
import { trunc } from "./importance.js";

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
const MAX_SYMBOLS = 6000; // curves: above this many points, hover by step instead of by point
const DASH = { RUNNING: "dashed", EARLY_STOPPED: "dotted", FAILED: "dotted", TIMEOUT: "dotted", CANCELED: "dotted", PAUSED: "dashed" };

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
    <div class="panel" style="margin-bottom:16px" id="parallel-panel"><div class="panel-head"><h2>Parallel coordinates</h2><span class="hint" id="par-hint">coloured by the final value · drag along an axis to filter</span></div>
      <div class="chart tall" id="parallel"></div></div>
    <div class="panel" style="margin-bottom:16px" id="curves-panel"><div class="panel-head"><h2>Intermediate curves</h2>
      <label class="hint">best <select id="ncurves">${[10, 20, 40, 100, 200].map((k) => `<option ${k === n ? "selected" : ""}>${k}</option>`).join("")}</select> trials, plus running ones and recent failures</label></div>
      <div class="chart tall" id="curves"></div>
      <div class="hint">a colour per trial; the legend lists them best first (click one to hide it) · solid: finished, dashed: running, dotted: stopped early or failed · hover a curve for its trial, step and value; click to open the trial</div></div>
    <div class="panel hint">Each trial's value against one parameter, with the importance of each and a contour of any two: the <a href="${link("e", route.exp, "importance")}">Importance</a> tab.</div>`;
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
          : "") + "coloured by the final value · drag along an axis to filter · hover a cut label for its full text";
        const rows = lines.map((p) => [...keys.map((k, i) => { const v = p.params[k]; return dims[i].type === "category" ? (typeof v === "object" ? JSON.stringify(v) : String(v)) : v; }), p.value]);
        // many axes (a NAS cell): shorter labels, names slanted, fewer ticks, thinner lines
        const gap = (par.clientWidth - 170) / Math.max(1, dims.length - 1);
        const chars = Math.max(4, Math.min(dims.length > 8 ? 10 : 24, Math.floor((gap - 16) / 6.2)));
        const crowded = dims.length > 8;
        const nameChars = Math.max(8, Math.floor((crowded ? gap * 1.25 : gap) / 6.5)); // slanted names get more room
        const c = chart(par, {
          parallelAxis: dims.map((a) => ({ ...a, name: trunc(a.name, nameChars), nameLocation: "end", nameGap: 12, nameRotate: crowded ? 18 : 0, triggerEvent: true,
            nameTextStyle: { color: "#1c2130", fontWeight: 600, fontSize: crowded ? 11 : 12, align: crowded ? "left" : "center", ...(a.nameTextStyle || {}) },
            axisLabel: { color: "#475467", fontSize: crowded ? 10 : 12, hideOverlap: true, backgroundColor: "rgba(255,255,255,.82)", padding: [1, 3], borderRadius: 3, formatter: (v) => (a.type === "category" ? trunc(v, chars) : fmtNum(v, 3)),
              ...(a.type === "category" && a.data.length > 12 ? { interval: Math.ceil(a.data.length / 12) - 1 } : {}) },
            ...(a.type !== "category" ? { splitNumber: crowded ? 4 : 5 } : {}),
            axisLine: { lineStyle: { color: "#b7bdcc" } } })),
          parallel: { left: 60, right: 110, top: crowded ? 64 : 40, bottom: 30, parallelAxisDefault: { name: "" } },
          visualMap: visual,
          tooltip: { ...tooltip },
          series: [{ type: "parallel", data: rows, lineStyle: { width: lines.length > 500 || crowded ? 0.7 : 1.3, opacity: lines.length > 500 || crowded ? 0.3 : 0.6 }, emphasis: { lineStyle: { width: 3, opacity: 1 } }, progressive: 0 }],
        });
        if (c) labelTips(c, par, (i) => dims[i]?.name);
      }

      // overlaid curves: a colour per trial, the legend best first
      const cv = root.querySelector("#curves");
      if (!d.curves.length) showEmpty(cv, "No intermediate reports yet.");
      else {
        const sign = d.mode === "maximize" ? -1 : 1;
        const ranked = [...d.curves].sort((a, b) => (a.value === null) - (b.value === null) || sign * (a.value - b.value) || a.sequence - b.sequence);
        const colourOf = new Map(ranked.map((c, i) => [c.trial_id, TRIAL_COLORS[i % TRIAL_COLORS.length]]));
        const byId = new Map(d.curves.map((c) => [c.trial_id, c]));
        const total = d.curves.reduce((k, c) => k + c.points.length, 0);
        const byPoint = total <= MAX_SYMBOLS;
        const label = (c) => `${c.trial_id}  ${c.value === null ? c.status.toLowerCase().replace("_", " ") : fmtNum(c.value)}`;
        const c = chart(cv, {
          grid: { ...grid, right: 190 },
          legend: { type: "scroll", orient: "vertical", right: 0, top: 24, bottom: 16, width: 170, data: ranked.map((c) => c.trial_id),
            formatter: (name) => label(byId.get(name)), textStyle: { color: "#475467", fontFamily: "ui-monospace, monospace", fontSize: 11 },
            itemWidth: 18, itemHeight: 12, itemGap: 6, pageIconSize: 10, pageTextStyle: { color: "#667085" } },
          tooltip: byPoint
            ? { ...tooltip, trigger: "item", formatter: (p) => { const t = byId.get(p.seriesName); return `trial <b>${esc(p.seriesName)}</b> · ${esc(t.status.toLowerCase().replace("_", " "))}<br>step <b>${p.data[0]}</b>: ${fmtNum(p.data[1])}<br>final value ${t.value === null ? "–" : `<b>${fmtNum(t.value)}</b>`}`; } }
            : { ...tooltip, trigger: "axis", formatter: (ps) => { const top = ps.filter((p) => p.data).sort((a, b) => sign * (a.data[1] - b.data[1])).slice(0, 8); return `step <b>${ps[0]?.data?.[0] ?? ""}</b><br>` + top.map((p) => `${p.marker}${esc(p.seriesName)}: <b>${fmtNum(p.data[1])}</b>`).join("<br>") + (ps.length > 8 ? `<br>… ${ps.length - 8} more` : ""); } },
          xAxis: axis({ type: "value", name: "step", nameLocation: "middle", nameGap: 28, minInterval: 1 }),
          yAxis: axis({ type: "value", scale: true, axisLabel: { color: "#667085", formatter: (v) => fmtNum(v, 3) } }),
          series: d.curves.map((t) => ({ name: t.trial_id, type: "line", data: t.points, showSymbol: byPoint, symbol: "circle", symbolSize: 4,
            lineStyle: { width: t.status === "RUNNING" ? 2.2 : 1.6, color: colourOf.get(t.trial_id), type: DASH[t.status] || "solid" },
            itemStyle: { color: colourOf.get(t.trial_id) }, emphasis: { focus: "series", lineStyle: { width: 3.2 } }, z: t.status === "RUNNING" ? 5 : 2 })),
        });
        goto(c);
      }
    },
  };
  self.destroy = () => clearTimeout(pending);
  return self;
}
