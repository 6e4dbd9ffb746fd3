// Experiments list.
import { badge, esc, fmtDur, fmtNum, fmtTime, getJSON, link, setLive, STATUS_COLORS } from "../util.js";

export function mount(root) {
  root.innerHTML = `<div class="loading">Loading…</div>`;
  const self = {
    only: null,
    async refresh() {
      const { experiments } = await getJSON("/api/experiments");
      self.only = experiments.length === 1 ? experiments[0].id : null;
      setLive(experiments.some((e) => e.live));
      if (!experiments.length) {
        root.innerHTML = `<div class="panel empty">No experiments found. Start one with <code>hyperloom run config.yml</code>, or set HYPERLOOM_HOME.</div>`;
        return;
      }
      const rows = experiments.map((e) => {
        if (e.error) return `<tr><td class="mono">${esc(e.id)}</td><td colspan="7" class="muted">${esc(e.error)}</td></tr>`;
        const total = e.total || 0;
        const stack = Object.entries(e.counts || {}).filter(([, n]) => n > 0)
          .map(([s, n]) => `<span style="width:${(100 * n) / total}%;background:${STATUS_COLORS[s]}" title="${esc(s)}: ${n}"></span>`).join("");
        return `<tr class="click" data-href="${link("e", e.id)}">
          <td><a href="${link("e", e.id)}"><b>${esc(e.name || e.id)}</b></a><div class="mono muted">${esc(e.id)}</div></td>
          <td>${badge(e.status)}${e.live ? ' <span class="muted">live</span>' : ""}</td>
          <td class="num">${total}${e.budget?.max_trials ? ` / ${e.budget.max_trials}` : ""}</td>
          <td style="min-width:160px"><div class="stack" style="margin:0">${stack}</div></td>
          <td class="num">${e.best ? `<b>${esc(fmtNum(e.best.value))}</b> <span class="muted mono">${esc(e.best.trial_id)}</span>` : ""}</td>
          <td class="muted">${esc(e.mode)}</td>
          <td class="muted">${esc(fmtTime(e.created))}</td>
          <td class="num muted">${esc(fmtDur(e.budget?.elapsed))}</td></tr>`;
      }).join("");
      root.innerHTML = `<div class="head"><h1>Experiments</h1><span class="sub">${experiments.length}</span></div>
        <div class="tablewrap"><table id="experiments"><thead><tr><th>Experiment</th><th>Status</th><th class="num">Trials</th>
        <th>By status</th><th class="num">Best</th><th>Mode</th><th>Created</th><th class="num">Elapsed</th></tr></thead>
        <tbody>${rows}</tbody></table></div>`;
      root.querySelectorAll("tr[data-href]").forEach((tr) =>
        tr.addEventListener("click", (ev) => { if (!ev.target.closest("a")) window.location.hash = tr.dataset.href; }));
    },
  };
  return self;
}
