// The single-page app: hash router, experiment header, and the live-update loop.
import { disposeAll, ready } from "./charts.js";
import { api, badge, collectVersions, esc, fmtDur, getJSON, isLive, link, postJSON, setLive, takeToken, takeVersions, toast } from "./util.js";
import * as experiments from "./views/experiments.js";
import * as overview from "./views/overview.js";
import * as trials from "./views/trials.js";
import * as trial from "./views/trial.js";
import * as chartsView from "./views/charts.js";
import * as pareto from "./views/pareto.js";
import * as lineage from "./views/lineage.js";
import * as rungs from "./views/rungs.js";
import * as importance from "./views/importance.js";

const POLL_MS = 1000;
const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const liveBox = document.getElementById("live");
const liveText = document.getElementById("live-text");

let current = null; // { route, view, version }
let busy = false;
let firstLoad = true;

function parseRoute() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts[0] === "e" && parts[1]) {
    const exp = parts[1];
    if (parts[2] === "trials" && parts[3]) return { name: "trial", exp, trial: parts[3], params };
    if (parts[2] === "trials") return { name: "trials", exp, params };
    if (parts[2] === "charts") return { name: "charts", exp, params };
    if (parts[2] === "pareto") return { name: "pareto", exp, params };
    if (parts[2] === "lineage") return { name: "lineage", exp, params };
    if (parts[2] === "rungs") return { name: "rungs", exp, params };
    if (parts[2] === "importance") return { name: "importance", exp, params };
    return { name: "overview", exp, params };
  }
  return { name: "experiments", params };
}

const VIEWS = { experiments, overview, trials, trial, charts: chartsView, importance, pareto, lineage, rungs };

function setCrumbs(route, summary) {
  const bits = [];
  if (route.exp) {
    bits.push(`<a href="#/">Experiments</a>`, `<span class="sep">/</span>`,
      `<a href="${link("e", route.exp)}">${esc(summary?.name || route.exp)}</a>`);
    if (route.trial) bits.push(`<span class="sep">/</span>`, `<span>trial ${esc(route.trial)}</span>`);
  } else bits.push(`<span>Experiments</span>`);
  crumbs.innerHTML = bits.join(" ");
}

function expHeader(route, s) {
  const tab = (name, href, label) => `<a class="${route.name === name ? "active" : ""}" href="${href}">${label}</a>`;
  const b = s.budget || {};
  const f = s.features || {};
  const stop = s.live && ["RUNNING", "CREATED"].includes(s.status)
    ? `<button class="danger" id="stop-exp" title="Stops the tuner and every running trial">Stop experiment</button>` : "";
  return `<div class="head">
      <h1>${esc(s.name || s.id)}</h1>${badge(s.status)}
      <span class="sub">${esc(s.id)}${s.live ? " · live" : ""} · ${esc(s.mode)} · ${esc(fmtDur(b.elapsed))}</span>
      <span class="spacer"></span>${stop}
    </div>
    <nav class="tabs">
      ${tab("overview", link("e", route.exp), "Overview")}
      ${tab("trials", link("e", route.exp, "trials"), `Trials <span class="muted">${s.total}</span>`)}
      ${tab("charts", link("e", route.exp, "charts"), "Charts")}
      ${tab("importance", link("e", route.exp, "importance"), "Importance")}
      ${f.pareto || route.name === "pareto" ? tab("pareto", link("e", route.exp, "pareto"), "Pareto") : ""}
      ${f.lineage || route.name === "lineage" ? tab("lineage", link("e", route.exp, "lineage"), "Lineage") : ""}
      ${f.rungs || route.name === "rungs" ? tab("rungs", link("e", route.exp, "rungs"), "Rungs") : ""}
    </nav>`;
}

async function render() {
  const route = parseRoute();
  const view = VIEWS[route.name];
  if (current?.view?.destroy) current.view.destroy();
  disposeAll();
  if (!route.exp) setLive(false); // the list sets it from its rows
  main.innerHTML = `<div class="loading">Loading…</div>`;
  current = { route, view: null, version: null };
  const mine = current;
  try {
    setCrumbs(route, null);
    main.innerHTML = (route.exp ? `<div id="exp-head"></div>` : "") + `<div id="view"></div>`;
    const inst = view.mount(document.getElementById("view"), route, showHeader(mine));
    mine.view = inst;
    // every data response says which store version it read (X-Hyperloom-Version); if they
    // disagree, the first tick reloads
    busy = true;
    collectVersions();
    const jobs = [inst.refresh()];
    if (route.exp && !inst.header) jobs.push(getJSON(`${api(route.exp)}?summary=1&best=0`).then(showHeader(mine)));
    else if (!route.exp) document.title = "hyperloom";
    await Promise.all(jobs);
    showLive(true);
    const versions = takeVersions();
    mine.version = versions.size === 1 ? [...versions][0] : null;
    // when the first view was drawn, in ms since navigation (read by the benchmark)
    if (!document.body.dataset.drawnMs) document.body.dataset.drawnMs = performance.now().toFixed(1);
    document.body.dataset.view = route.name;
    // when this view was drawn (the benchmark times view switches with it)
    document.body.dataset.renderedMs = performance.now().toFixed(1);
    if (firstLoad && route.name === "experiments" && inst.only) {
      firstLoad = false;
      window.location.hash = link("e", inst.only);
    }
    firstLoad = false;
  } catch (e) {
    if (mine !== current) return;
    main.innerHTML = `<div class="err-box">${esc(e.message)}</div>`;
  } finally {
    if (mine === current) busy = false;
  }
}

/** Draws the experiment header from a summary (the overview view supplies its own). */
function showHeader(mine) {
  return (summary) => {
    if (mine !== current) return;
    setLive(summary.live);
    showLive(true);
    setCrumbs(mine.route, summary);
    document.title = `${summary.name || summary.id} · hyperloom`;
    const head = document.getElementById("exp-head");
    if (head) head.innerHTML = expHeader(mine.route, summary);
  };
}

async function refreshHeader(mine) {
  if (mine.view.header) return;
  showHeader(mine)(await getJSON(`${api(mine.route.exp)}?summary=1&best=0`));
}

/** The top bar's state: a green "live" dot only when this dashboard's own manager runs the
 * experiment; "read-only" (no dot) for `hyperloom view`; red when the server is gone. */
function showLive(ok) {
  if (!ok) {
    liveBox.className = "live err";
    liveText.textContent = "disconnected";
    liveBox.title = "The dashboard's server does not answer";
    return;
  }
  const live = isLive();
  liveBox.className = live ? "live on" : "live ro";
  liveText.textContent = live ? "live" : "read-only";
  liveBox.title = live
    ? "This dashboard is served by the experiment's own manager: it can stop trials and the experiment"
    : "Read-only: this dashboard reads the store and refreshes when it changes; it cannot stop anything";
}

async function tick() {
  if (busy || !current?.view || document.hidden) return;
  busy = true;
  const mine = current;
  try {
    let changed = true;
    if (mine.route.exp) {
      const { version } = await getJSON(`${api(mine.route.exp)}/version`);
      changed = version !== mine.version;
      mine.version = version;
    }
    if (changed && mine === current) {
      if (mine.route.exp) await refreshHeader(mine);
      await mine.view.refresh();
    }
    showLive(true);
  } catch (e) {
    showLive(false);
  } finally {
    busy = false;
  }
}

document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("#stop-exp, [data-stop-trial]");
  if (!btn || !current?.route.exp) return;
  const exp = current.route.exp;
  const tid = btn.dataset.stopTrial;
  const what = tid ? `trial ${tid}` : `experiment ${exp}`;
  if (!tid && !window.confirm(`Stop ${what} and all its running trials?`)) return;
  btn.disabled = true;
  try {
    await postJSON(tid ? `${api(exp)}/trials/${encodeURIComponent(tid)}/stop` : `${api(exp)}/stop`);
    toast(`Stop requested for ${what}`);
  } catch (e) {
    toast(`Refused: ${e.message}`, "error");
    btn.disabled = false;
  }
});

takeToken();
window.addEventListener("hashchange", render);
setInterval(tick, POLL_MS);
render();
// every experiment page draws charts: load the library (preloaded by index.html) while the
// first view fetches its data, not after it
ready().catch(() => {});
