// Charts: overlaid intermediate curves, parallel coordinates coloured by value, value vs each parameter.
import { axis, chart, grid, ready, tooltip, VALUE_RAMP } from "../charts.js";
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

export function mount(root, route) {
  let n = Number(route.params.get("curves")) || 40;
  root.innerHTML = `
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Parallel coordinates</h2><span class="hint">coloured by the final value · drag along an axis to filter</span></div>
      <div class="chart tall" id="parallel"></div></div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Intermediate curves</h2>
      <label class="hint">best <select id="ncurves">${[10, 20, 40, 100, 200].map((k) => `<option ${k === n ? "selected" : ""}>${k}</option>`).join("")}</select> trials, plus running ones</label></div>
      <div class="chart tall" id="curves"></div></div>
    <div class="panel"><div class="panel-head"><h2>Value against each parameter</h2></div><div class="smalls" id="scatter"></div></div>`;
  root.querySelector("#ncurves").addEventListener("change", (ev) => { n = Number(ev.target.value); self.refresh(); });

  const goto = (c) => c && c.on("click", (p) => {
    const tid = p.data?.trial_id ?? p.data?.[2] ?? p.seriesName;
    if (tid && typeof tid === "string") window.location.hash = link("e", route.exp, "trials", tid);
  });

  const self = {
    async refresh() {
      const [d] = await Promise.all([getJSON(`${api(route.exp)}/charts?curves=${n}`), ready]);
      const keys = d.columns.params;
      const pts = d.points;
      const values = pts.map((p) => p.value);
      const lo = Math.min(...values), hi = Math.max(...values);
      const visual = { type: "continuous", min: lo, max: hi, dimension: keys.length, inRange: { color: VALUE_RAMP }, right: 0, top: "middle", calculable: true, text: ["high", "low"], formatter: (v) => fmtNum(v, 3), textStyle: { color: "#667085" } };

      // parallel coordinates
      const par = root.querySelector("#parallel");
      if (!pts.length) par.innerHTML = `<div class="empty">No trial has a final value yet.</div>`;
      else {
        const dims = keys.map((k, i) => (isNumeric(pts, k, d.space)
          ? { dim: i, name: k, type: "value", scale: true, ...(d.space?.[k]?._type?.startsWith("log") ? { type: "log" } : {}) }
          : { dim: i, name: k, type: "category", data: category(pts, k) }));
        dims.push({ dim: keys.length, name: "value", type: "value", scale: true, nameTextStyle: { fontWeight: 700 } });
        const rows = pts.map((p) => [...keys.map((k, i) => { const v = p.params[k]; return dims[i].type === "category" ? (typeof v === "object" ? JSON.stringify(v) : String(v)) : v; }), p.value]);
        chart(par, {
          parallelAxis: dims.map((a) => ({ ...a, nameLocation: "end", nameTextStyle: { color: "#1c2130", fontWeight: 600, ...(a.nameTextStyle || {}) }, axisLabel: { color: "#667085" }, axisLine: { lineStyle: { color: "#b7bdcc" } } })),
          parallel: { left: 60, right: 110, top: 40, bottom: 30 },
          visualMap: visual,
          tooltip: { ...tooltip },
          series: [{ type: "parallel", data: rows, lineStyle: { width: pts.length > 2000 ? 0.6 : 1.3, opacity: pts.length > 2000 ? 0.25 : 0.6 }, emphasis: { lineStyle: { width: 3, opacity: 1 } }, progressive: 1000 }],
        });
      }

      // overlaid curves
      const cv = root.querySelector("#curves");
      if (!d.curves.length) cv.innerHTML = `<div class="empty">No intermediate reports yet.</div>`;
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
          series: [{ type: "scatter", symbolSize: pts.length > 2000 ? 4 : 7, itemStyle: { opacity: 0.8 },
            data: pts.filter((p) => p.params[k] !== undefined).map((p) => ({ value: [numeric ? p.params[k] : (typeof p.params[k] === "object" ? JSON.stringify(p.params[k]) : String(p.params[k])), p.value], trial_id: p.trial_id })) }],
        });
        goto(c);
      });
    },
  };
  return self;
}
