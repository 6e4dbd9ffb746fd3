// Rungs (multi-fidelity schedulers): how deep each trial got, where trials were paused, stopped
// early or promoted (a PAUSED trial that was resumed and reported deeper).
import { axis, chart, grid, ready, showEmpty, tooltip } from "../charts.js";
import { api, badge, esc, fmtNum, getJSON, link, STATUS_COLORS, throttle } from "../util.js";

const ORDER = ["SUCCEEDED", "RUNNING", "PAUSED", "EARLY_STOPPED", "WAITING", "FAILED", "CANCELED", "TIMEOUT"];

const levelName = (l) => (l.to !== undefined && l.to !== l.step ? `${l.step}–${l.to}` : String(l.step));

export function mount(root, route) {
  ready();
  root.innerHTML = `
    <div class="grid cards four" id="rung-cards"></div>
    <div class="grid two">
      <div class="panel"><div class="panel-head"><h2>Trials by deepest step</h2><span class="hint">stacked by how they stand now</span></div><div class="chart" id="deep-chart"></div></div>
      <div class="panel"><div class="panel-head"><h2>Pauses and promotions by rung</h2><span class="hint">a promotion is a pause followed by a resume</span></div><div class="chart" id="promo-chart"></div></div>
    </div>
    <div class="panel" style="margin-bottom:16px"><div class="panel-head"><h2>Steps reached by each trial</h2>
      <span class="hint">◇ promoted at least once · ○ paused now · click a point to open its trial</span></div><div class="chart" id="reach-chart"></div></div>
    <div class="grid two">
      <div class="panel"><h2>Rungs</h2><div class="scroll-x" id="rung-table"></div></div>
      <div class="panel"><h2>Promoted trials</h2><div class="scroll-x tablewrap short" id="promo-table"></div></div>
    </div>`;
  const go = (tid) => { if (tid) window.location.hash = link("e", route.exp, "trials", tid); };
  root.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-trial]");
    if (tr) go(tr.dataset.trial);
  });

  const [refresh, cancel] = throttle(async () => {
      const [d] = await Promise.all([getJSON(`${api(route.exp)}/rungs`), ready()]);
      const s = d.summary;
      // rows are [trial_id, sequence, status, value, deepest, reports, paused_at, promotions]
      const trials = d.trials.map((r) => ({ trial_id: r[0], sequence: r[1], status: r[2], value: r[3], deepest: r[4], reports: r[5], paused_at: r[6], promotions: r[7] }));
      root.querySelector("#rung-cards").innerHTML = `
        <div class="panel card"><div class="label">Trials</div><div class="big">${s.trials}</div><div class="small">deepest step ${s.deepest ?? "–"}</div></div>
        <div class="panel card"><div class="label">Promoted</div><div class="big" id="promoted">${s.promoted_trials}</div><div class="small">${s.promotions} promotions of ${s.pauses} pauses</div></div>
        <div class="panel card"><div class="label">Paused now</div><div class="big" id="paused-now">${s.paused_now}</div><div class="small">waiting at a rung for a promotion</div></div>
        <div class="panel card"><div class="label">Stopped early</div><div class="big" id="early-stopped">${s.early_stopped}</div><div class="small">not promoted, or stopped by an assessor</div></div>`;
      const levels = d.levels;
      const cats = levels.map(levelName);
      const deep = root.querySelector("#deep-chart");
      if (!levels.length) showEmpty(deep, "No trial has reported yet.");
      else {
        const statuses = ORDER.filter((st) => levels.some((l) => l.ended[st]));
        chart(deep, {
          grid: { ...grid, top: 40 }, legend: { top: 0, textStyle: { color: "#667085" } },
          tooltip: { ...tooltip, trigger: "axis", axisPointer: { type: "shadow" } },
          xAxis: axis({ type: "category", data: cats, name: "deepest step", nameLocation: "middle", nameGap: 28 }),
          yAxis: axis({ type: "value", minInterval: 1, name: "trials" }),
          series: statuses.map((st) => ({ name: st.replace("_", " ").toLowerCase(), type: "bar", stack: "all", data: levels.map((l) => l.ended[st] || 0), itemStyle: { color: STATUS_COLORS[st] }, barMaxWidth: 48 })),
        });
      }
      const promo = root.querySelector("#promo-chart");
      if (!levels.some((l) => l.paused)) showEmpty(promo, "No trial was paused: this scheduler stops trials instead of pausing them.");
      else chart(promo, {
        grid: { ...grid, top: 40 }, legend: { top: 0, textStyle: { color: "#667085" } },
        tooltip: { ...tooltip, trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: axis({ type: "category", data: cats, name: "rung (step)", nameLocation: "middle", nameGap: 28 }),
        yAxis: axis({ type: "value", minInterval: 1, name: "trials" }),
        series: [
          { name: "paused here", type: "bar", data: levels.map((l) => l.paused), itemStyle: { color: STATUS_COLORS.PAUSED }, barMaxWidth: 40 },
          { name: "promoted from here", type: "bar", data: levels.map((l) => l.promoted), itemStyle: { color: STATUS_COLORS.SUCCEEDED }, barMaxWidth: 40 },
        ],
      });
      const reach = root.querySelector("#reach-chart");
      const pts = trials.filter((t) => t.deepest !== null);
      if (!pts.length) showEmpty(reach, "No trial has reported yet.");
      else {
        const LARGE = 2000;
        const groups = ORDER.map((st) => [st, pts.filter((t) => t.status === st)]).filter(([, g]) => g.length);
        const promoted = pts.filter((t) => t.promotions);
        pts.forEach((t, i) => { t.i = i; });
        const row = (t) => [t.sequence, t.deepest, t.i];
        const series = groups.map(([st, g]) => ({
          name: st.replace("_", " ").toLowerCase(), type: "scatter", progressive: 0, large: g.length > LARGE, largeThreshold: LARGE,
          data: g.map(row), symbol: st === "PAUSED" ? "emptyCircle" : "circle", symbolSize: g.length > LARGE ? 4 : 6,
          itemStyle: { color: STATUS_COLORS[st] || "#64748b", opacity: 0.8 },
        }));
        if (promoted.length) series.push({ name: "promoted", type: "scatter", progressive: 0, large: promoted.length > LARGE, largeThreshold: LARGE, data: promoted.map(row),
          symbol: "diamond", symbolSize: promoted.length > LARGE ? 6 : 11, itemStyle: promoted.length > LARGE ? { color: "#111827", opacity: 0.6 } : { color: "rgba(0,0,0,0)", borderColor: "#111827", borderWidth: 1.4 }, z: 5 });
        const c = chart(reach, {
          grid: { ...grid, top: 40 }, legend: { top: 0, textStyle: { color: "#667085" } },
          tooltip: { ...tooltip, formatter: (p) => { const t = pts[p.data[2]]; if (!t) return ""; return `trial <b>${esc(t.trial_id)}</b> #${t.sequence} ${badge(t.status)}<br>deepest step <b>${t.deepest}</b> · ${t.reports} reports` +
            (t.paused_at.length ? `<br>paused at step ${t.paused_at.join(", ")} · ${t.promotions} promotion${t.promotions === 1 ? "" : "s"}` : "") + (t.value !== null ? `<br>value ${esc(fmtNum(t.value))}` : ""); } },
          xAxis: axis({ type: "value", name: "trial #", nameLocation: "middle", nameGap: 28, minInterval: 1, scale: true }),
          yAxis: axis({ type: "value", name: "deepest step", minInterval: 1 }),
          series,
        });
        if (c) c.on("click", (p) => go(pts[p.data?.[2]]?.trial_id));
      }
      root.querySelector("#rung-table").innerHTML = levels.length ? `<table><thead><tr><th>Rung (step)</th><th class="num">Reached</th><th>Ended here</th><th class="num">Paused here</th><th class="num">Promoted from here</th></tr></thead><tbody>` +
        levels.map((l) => `<tr data-step="${l.step}"><td class="mono">${esc(levelName(l))}</td><td class="num">${l.reached}</td><td>${ORDER.filter((st) => l.ended[st]).map((st) => `${badge(st)} ${l.ended[st]}`).join(" ")}</td><td class="num">${l.paused}</td><td class="num">${l.promoted}</td></tr>`).join("") +
        `</tbody></table>` : `<div class="empty">No reports yet.</div>`;
      const promotedRows = trials.filter((t) => t.promotions || t.status === "PAUSED").sort((a, b) => (b.deepest ?? -1) - (a.deepest ?? -1));
      root.querySelector("#promo-table").innerHTML = promotedRows.length ? `<table><thead><tr><th>Trial</th><th>Status</th><th class="num">Deepest step</th><th>Paused at</th><th class="num">Promotions</th></tr></thead><tbody>` +
        promotedRows.slice(0, 300).map((t) => `<tr class="click" data-trial="${esc(t.trial_id)}"><td class="mono">${esc(t.trial_id)}</td><td>${badge(t.status)}</td><td class="num">${t.deepest ?? "–"}</td><td class="mono">${esc(t.paused_at.join(", "))}</td><td class="num">${t.promotions}</td></tr>`).join("") +
        `</tbody></table>` : `<div class="empty">No trial was promoted or is paused.</div>`;
  }, 3000);
  return { refresh, destroy: cancel };
}
