// Trials table: sort, filter by status, search (text or NAME<OP>NUMBER terms), paging in SQL.
import { api, badge, esc, fmtDur, fmtVal, getJSON, link, STATUSES } from "../util.js";

const SIZES = [25, 50, 100, 200];

export function mount(root, route) {
  const p = route.params;
  const state = {
    q: p.get("q") || "",
    statuses: (p.get("status") || "").split(",").filter(Boolean),
    sort: p.get("sort") || "sequence",
    desc: p.get("order") === "desc",
    offset: Number(p.get("offset")) || 0,
    limit: SIZES.includes(Number(p.get("limit"))) ? Number(p.get("limit")) : 50,
  };
  let data = null;
  let seq = 0;

  root.innerHTML = `
    <div class="toolbar">
      <input type="search" id="search" placeholder="Search: text, or filters like  lr<0.01  value>=0.9  duration>60" value="${esc(state.q)}" aria-label="Search trials">
      <div class="filter" id="status-filter">${STATUSES.map((s) => `<label><input type="checkbox" value="${s}" ${state.statuses.includes(s) ? "checked" : ""}>${badge(s)}</label>`).join("")}</div>
      <div class="pager">
        <select id="page-size" aria-label="Rows per page">${SIZES.map((n) => `<option ${n === state.limit ? "selected" : ""}>${n}</option>`).join("")}</select>
        <button id="prev" aria-label="Previous page">‹</button><span id="range"></span><button id="next" aria-label="Next page">›</button>
      </div>
    </div>
    <div class="tablewrap" id="wrap"><div class="loading">Loading…</div></div>
    <p class="hint">Click a header to sort. Click a status chip to show only that status, more chips to add others. Terms are combined with AND; a parameter or metric name works on either side of &lt; &lt;= &gt; &gt;= = !=.</p>`;

  const allOff = () => state.statuses.length === 0;
  const sync = () => {
    root.querySelectorAll("#status-filter input").forEach((i) => { i.checked = allOff() || state.statuses.includes(i.value); });
  };
  sync();

  function saveHash() {
    const q = new URLSearchParams();
    if (state.q) q.set("q", state.q);
    if (state.statuses.length) q.set("status", state.statuses.join(","));
    if (state.sort !== "sequence") q.set("sort", state.sort);
    if (state.desc) q.set("order", "desc");
    if (state.offset) q.set("offset", state.offset);
    if (state.limit !== 50) q.set("limit", state.limit);
    const s = q.toString();
    history.replaceState(null, "", `${link("e", route.exp, "trials")}${s ? "?" + s : ""}`);
  }

  async function load() {
    const mine = ++seq;
    const q = new URLSearchParams({ sort: state.sort, order: state.desc ? "desc" : "asc", offset: state.offset, limit: state.limit });
    if (state.q) q.set("q", state.q);
    if (state.statuses.length) q.set("status", state.statuses.join(","));
    try {
      const d = await getJSON(`${api(route.exp)}/trials?${q}`);
      if (mine !== seq) return;
      data = d;
      draw();
    } catch (e) {
      if (mine === seq) root.querySelector("#wrap").innerHTML = `<div class="err-box">${esc(e.message)}</div>`;
    }
  }

  function th(key, label, cls = "") {
    const arrow = state.sort === key ? `<span class="arrow">${state.desc ? "▼" : "▲"}</span>` : "";
    return `<th class="sortable ${cls}" data-sort="${esc(key)}" title="Sort by ${esc(label)}">${esc(label)}${arrow}</th>`;
  }

  function draw() {
    const { params, metrics } = data.columns;
    const head = `<tr>${th("sequence", "#", "num")}${th("trial_id", "Trial")}${th("status", "Status")}${th("value", "Value", "num")}${th("duration", "Duration", "num")}
      ${params.map((k) => th("param:" + k, k, "num grp-param")).join("")}${metrics.map((k) => th("metric:" + k, k, "num grp-metric")).join("")}</tr>`;
    const body = data.trials.map((t) => `<tr class="click" data-trial="${esc(t.trial_id)}">
      <td class="num muted">${t.sequence}</td><td><a class="mono" href="${link("e", route.exp, "trials", t.trial_id)}">${esc(t.trial_id)}</a></td>
      <td>${badge(t.status)}</td><td class="num"><b>${esc(fmtVal(t.value))}</b></td><td class="num muted">${esc(fmtDur(t.duration))}</td>
      ${params.map((k) => `<td class="num mono">${esc(fmtVal(t.params[k]))}</td>`).join("")}
      ${metrics.map((k) => `<td class="num mono">${esc(fmtVal(t.metrics[k]))}</td>`).join("")}</tr>`).join("");
    root.querySelector("#wrap").innerHTML = data.trials.length
      ? `<table id="trials-table"><thead>${head}</thead><tbody>${body}</tbody></table>`
      : `<div class="empty">No trial matches.</div>`;
    const end = Math.min(data.total, data.offset + data.trials.length);
    root.querySelector("#range").textContent = data.total ? `${(data.offset + 1).toLocaleString()}–${end.toLocaleString()} of ${data.total.toLocaleString()}` : "0 of 0";
    root.querySelector("#prev").disabled = data.offset <= 0;
    root.querySelector("#next").disabled = end >= data.total;
  }

  root.querySelector("#wrap").addEventListener("click", (ev) => {
    const h = ev.target.closest("th[data-sort]");
    if (h) {
      const key = h.dataset.sort;
      state.desc = state.sort === key ? !state.desc : key === "value" || key.startsWith("metric:");
      state.sort = key;
      state.offset = 0;
      saveHash();
      load();
      return;
    }
    const tr = ev.target.closest("tr[data-trial]");
    if (tr && !ev.target.closest("a")) window.location.hash = link("e", route.exp, "trials", tr.dataset.trial);
  });
  let timer = null;
  root.querySelector("#search").addEventListener("input", (ev) => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = ev.target.value.trim(); state.offset = 0; saveHash(); load(); }, 250);
  });
  root.querySelector("#status-filter").addEventListener("change", (ev) => {
    const s = ev.target.value;
    if (allOff()) state.statuses = [s];
    else if (state.statuses.includes(s)) state.statuses = state.statuses.filter((x) => x !== s);
    else state.statuses = [...state.statuses, s];
    if (state.statuses.length === STATUSES.length) state.statuses = [];
    state.offset = 0;
    sync();
    saveHash();
    load();
  });
  root.querySelector("#page-size").addEventListener("change", (ev) => { state.limit = Number(ev.target.value); state.offset = 0; saveHash(); load(); });
  root.querySelector("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); saveHash(); load(); });
  root.querySelector("#next").addEventListener("click", () => { state.offset += state.limit; saveHash(); load(); });

  return { refresh: load };
}
