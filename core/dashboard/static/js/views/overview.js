// Overview: status and budget, best so far (by trial number and by time), top trials, config and space.
import { axis, chart, grid, ready, showEmpty, tooltip } from "../charts.js";
import { api, badge, esc, fmtDur, fmtNum, getJSON, link, paramsInline, STATUS_COLORS, STATUSES } from "../util.js";

/** y bounds for the best-so-far line: from the worse of (where the line stands after the first
 * tenth of the trials, the median trial) to the best value, with a margin, rounded to a step
 * that suits the range (so the labels stay short). What lies beyond is clipped. */
export function fitted(series, mode, values) {
  if (series.length < 2) return null;
  const max = mode === "maximize";
  const best = series[series.length - 1][1];
  const last = series[series.length - 1][0], first = series[0][0];
  const at = first + (last - first) * 0.1;
  let early = series[0][1];
  for (const p of series) if (p[0] <= at) early = p[1];
  const vs = values.map((v) => v[1]).sort((a, b) => a - b);
  const median = vs.length ? vs[Math.floor(vs.length / 2)] : early;
  const worse = max ? Math.min(early, median) : Math.max(early, median);
  const lo = Math.min(worse, best), hi = Math.max(worse, best);
  const span = hi - lo || Math.abs(hi) * 0.02 || 1;
  const step = 10 ** Math.floor(Math.log10(span)) / 2;
  const below = max ? 0.15 : 0.08, above = max ? 0.08 : 0.15;
  return { min: Math.floor((lo - span * below) / step) * step, max: Math.ceil((hi + span * above) / step) * step };
}

function pct(a, b) { return b ? Math.min(100, (100 * a) / b) : 0; }

function spaceRows(space) {
  return Object.entries(space || {}).map(([k, v]) => {
    const type = v && typeof v === "object" ? v._type ?? "" : "";
    const val = v && typeof v === "object" && "_value" in v ? JSON.stringify(v._value) : JSON.stringify(v);
    return `<tr><td class="mono"><b>${esc(k)}</b></td><td><span class="badge">${esc(type)}</span></td><td class="mono" style="white-space:normal">${esc(val)}</td></tr>`;
  }).join("");
}

export function mount(root, route, setHeader) {
  ready();
  let byTime = false;
  let fitY = true;
  let data = null;
  root.innerHTML = `
    <div class="grid cards four" id="cards"></div>
    <div class="grid two">
      <div class="panel"><div class="panel-head"><h2>Best so far</h2>
        <div class="seg" id="best-y" title="y axis: fitted to the best-so-far line, or every trial's value"><button data-y="fit" class="on">fit best</button><button data-y="all">all values</button></div>
        <div class="seg" id="best-x"><button data-x="seq" class="on">by trial</button><button data-x="time">by time</button></div></div>
        <div class="chart tall" id="best-chart"></div><div class="hint" id="best-hint"></div></div>
      <div class="panel"><h2>Top trials</h2><div id="top" class="scroll-x"></div></div>
    </div>
    <div class="grid two">
      <div class="panel scroll-x"><h2>Search space</h2><table><thead><tr><th>Parameter</th><th>Type</th><th>Values</th></tr></thead><tbody id="space"></tbody></table></div>
      <div class="panel"><h2>Config</h2><pre class="json" id="config"></pre></div>
    </div>`;
  root.querySelector("#best-x").addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    byTime = b.dataset.x === "time";
    root.querySelectorAll("#best-x button").forEach((x) => x.classList.toggle("on", x === b));
    drawBest();
  });
  root.querySelector("#best-y").addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    fitY = b.dataset.y === "fit";
    root.querySelectorAll("#best-y button").forEach((x) => x.classList.toggle("on", x === b));
    drawBest();
  });

  function drawBest() {
    if (!data) return;
    const series = byTime ? data.best_by_time : data.best_by_sequence;
    const el = root.querySelector("#best-chart");
    if (!series.length) { showEmpty(el, "No finished trial has reported a final value yet."); return; }
    const yr = fitY ? fitted(series, data.mode, data.values) : null;
    const hint = root.querySelector("#best-hint");
    const outside = yr && !byTime ? data.values.filter((p) => p[1] < yr.min || p[1] > yr.max).length : 0;
    hint.textContent = yr ? `y axis fitted to the best-so-far line and the better half of the trials${outside ? `: ${outside.toLocaleString()} trial value${outside === 1 ? " lies" : "s lie"} outside it ("all values" shows them)` : ""}` : "";
    const s = [{ name: "best so far", type: "line", step: "end", data: series, symbol: "circle", symbolSize: 6, lineStyle: { width: 2.5 }, z: 3 }];
    if (!byTime) s.unshift({ name: "trial value", type: "scatter", data: data.values, large: true, largeThreshold: 500, symbolSize: 5, itemStyle: { color: "#94a3b8", opacity: .55 } });
    const c = chart(el, {
      grid, legend: { top: 0, right: 0, textStyle: { color: "#667085" } },
      tooltip: { ...tooltip, formatter: (p) => `${esc(p.seriesName)}<br>trial <b>${esc(p.data[2])}</b><br>${byTime ? "after " + fmtDur(p.data[0]) : "#" + p.data[0]}: <b>${fmtNum(p.data[1])}</b>` },
      xAxis: axis({ type: "value", name: byTime ? "seconds since start" : "trial #", nameLocation: "middle", nameGap: 28, scale: true }),
      yAxis: axis({ type: "value", scale: true, name: "value", axisLabel: { color: "#667085", formatter: (v) => fmtNum(v, 4), showMinLabel: !yr, showMaxLabel: !yr }, ...(yr || {}) }),
      series: s,
    });
    if (c) {
      c.off("click");
      c.on("click", (p) => { if (p.data?.[2]) window.location.hash = link("e", route.exp, "trials", p.data[2]); });
    }
  }

  return {
    header: true, // the overview's data draws the page header too: one request instead of two
    async refresh() {
      data = await getJSON(api(route.exp));
      const e = data.experiment;
      setHeader({ id: e.id, name: e.name, status: e.status, mode: data.mode, features: data.features, total: data.total, budget: data.budget, live: data.live });
      const b = data.budget, c = data.counts, total = data.total || 0;
      const best = data.top[0];
      const stack = STATUSES.filter((s) => c[s]).map((s) => `<span style="width:${(100 * c[s]) / total}%;background:${STATUS_COLORS[s]}"></span>`).join("");
      const chips = STATUSES.filter((s) => c[s]).map((s) => `<a href="${link("e", route.exp, "trials")}?status=${s}">${badge(s)} <b>${c[s]}</b></a>`).join("");
      root.querySelector("#cards").innerHTML = `
        <div class="panel card"><div class="label">Status</div><div class="big">${badge(data.experiment.status)}</div>
          <div class="small">${esc(data.experiment.message || "")}${data.live ? "Live: this dashboard can stop it" : ""}</div></div>
        <div class="panel card"><div class="label">Trials</div><div class="big" id="trial-count">${total}${b.max_trials ? `<span class="muted" style="font-size:16px"> / ${b.max_trials}</span>` : ""}</div>
          ${b.max_trials ? `<div class="bar"><span style="width:${pct(total, b.max_trials)}%"></span></div>` : ""}</div>
        <div class="panel card"><div class="label">Time</div><div class="big">${esc(fmtDur(b.elapsed) || "–")}</div>
          ${b.max_duration ? `<div class="bar"><span style="width:${pct(b.elapsed, b.max_duration)}%"></span></div><div class="small">of ${esc(fmtDur(b.max_duration))}</div>` : `<div class="small">no time limit</div>`}</div>
        <div class="panel card"><div class="label">Best (${esc(data.mode)})</div><div class="big">${best ? esc(fmtNum(best.value)) : "–"}</div>
          <div class="small">${best ? `<a href="${link("e", route.exp, "trials", best.trial_id)}">trial ${esc(best.trial_id)}</a>` : "no value yet"}</div></div>
        <div class="panel card" style="grid-column: 1 / -1"><div class="label">By status</div><div class="stack">${stack}</div><div class="chips" id="counts">${chips || '<span class="muted">no trials yet</span>'}</div></div>`;
      root.querySelector("#top").innerHTML = data.top.length
        ? `<table id="top-table"><thead><tr><th>#</th><th>Trial</th><th class="num">Value</th><th>Parameters</th><th class="num">Duration</th></tr></thead><tbody>
          ${data.top.map((t, i) => `<tr class="click" data-href="${link("e", route.exp, "trials", t.trial_id)}"><td class="muted">${i + 1}</td>
            <td><a class="mono" href="${link("e", route.exp, "trials", t.trial_id)}">${esc(t.trial_id)}</a></td><td class="num"><b>${esc(fmtNum(t.value))}</b></td>
            <td style="white-space:normal">${paramsInline(t.params)}</td><td class="num muted">${esc(fmtDur(t.duration))}</td></tr>`).join("")}</tbody></table>`
        : `<div class="empty">No values yet.</div>`;
      root.querySelectorAll("#top tr[data-href]").forEach((tr) => tr.addEventListener("click", () => { window.location.hash = tr.dataset.href; }));
      root.querySelector("#space").innerHTML = spaceRows(data.experiment.space);
      const cfg = { ...data.experiment.config };
      delete cfg.searchSpace;
      root.querySelector("#config").textContent = JSON.stringify(cfg, null, 2);
      await ready();
      drawBest();
    },
  };
}
