// ECharts helpers: one place for the look of every chart.

const PALETTE = ["#4f46e5", "#0ea5e9", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#0d9488", "#ea580c", "#64748b", "#84cc16"];
const AXIS = { axisLine: { lineStyle: { color: "#c9ced9" } }, axisLabel: { color: "#667085" },
  splitLine: { lineStyle: { color: "#eef0f4" } }, nameTextStyle: { color: "#667085" } };

let live = [];

let loading = null;

/** Loads ECharts once (on first use) and resolves with it. A view calls this when it mounts, so
 * the 1 MB library is parsed while the view's data loads, and pages without charts never pay. */
export function ready() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      if (window.echarts) return resolve(window.echarts);
      const s = document.createElement("script");
      s.src = "/static/vendor/echarts/echarts.min.js";
      s.async = true;
      s.onload = () => resolve(window.echarts);
      s.onerror = () => reject(new Error("could not load the charting library"));
      document.head.appendChild(s);
    });
  }
  return loading;
}

/** Creates (or reuses) a chart on `el` and sets `option`. */
export function chart(el, option) {
  if (!window.echarts || !el) return null;
  // views redraw their HTML on live updates: free the charts whose element left the page
  live = live.filter((x) => {
    if (x.isDisposed()) return false;
    if (x.getDom().isConnected) return true;
    x.dispose();
    return false;
  });
  if (el.querySelector(":scope > .empty")) el.innerHTML = "";
  let c = window.echarts.getInstanceByDom(el);
  if (!c) {
    c = window.echarts.init(el, null, { renderer: "canvas" });
    live.push(c);
  }
  c.setOption({ color: PALETTE, animation: false, textStyle: { fontFamily: "inherit" }, ...option }, { notMerge: true });
  return c;
}

/** Replaces a chart (if any) on `el` with a short message. */
export function showEmpty(el, message) {
  const c = window.echarts?.getInstanceByDom(el);
  if (c) c.dispose();
  el.innerHTML = `<div class="empty">${message}</div>`;
}

export function disposeAll() {
  for (const c of live) if (!c.isDisposed()) c.dispose();
  live = [];
}

export function axis(extra) {
  return { ...AXIS, ...extra };
}

window.addEventListener("resize", () => live.forEach((c) => !c.isDisposed() && c.resize()));

export const grid = { left: 56, right: 24, top: 36, bottom: 44, containLabel: false };
export const tooltip = { trigger: "item", confine: true, backgroundColor: "rgba(22,26,43,.92)", borderWidth: 0, textStyle: { color: "#fff", fontSize: 12 } };
export const VALUE_RAMP = ["#dbeafe", "#93c5fd", "#4f46e5", "#312e81"];

/** Twenty colours that stay apart on white (a colour per trial on the curves chart). */
export const TRIAL_COLORS = ["#4f46e5", "#e11d48", "#059669", "#d97706", "#0284c7", "#9333ea", "#65a30d", "#db2777", "#0d9488", "#ea580c",
  "#1d4ed8", "#be123c", "#15803d", "#a16207", "#0369a1", "#7e22ce", "#4d7c0f", "#9d174d", "#0f766e", "#c2410c"];

/** Shows the full text of a shortened axis name or label on hover (axes need triggerEvent). */
export function labelTips(c, el, nameOf) {
  let tip = el.parentElement.querySelector(":scope > .label-tip");
  if (!tip) {
    tip = document.createElement("div");
    tip.className = "label-tip";
    el.parentElement.style.position = "relative";
    el.parentElement.appendChild(tip);
  }
  c.on("mouseover", (p) => {
    if (!p.targetType || !["axisName", "axisLabel"].includes(p.targetType)) return;
    const text = p.targetType === "axisName" ? nameOf(p.componentIndex) : p.value;
    if (text === undefined || text === null) return;
    const ev = p.event?.event;
    const box = el.parentElement.getBoundingClientRect();
    tip.textContent = String(text);
    tip.style.left = `${(ev?.clientX ?? box.left) - box.left + 10}px`;
    tip.style.top = `${(ev?.clientY ?? box.top) - box.top + 12}px`;
    tip.style.display = "block";
  });
  c.on("mouseout", (p) => { if (p.targetType) tip.style.display = "none"; });
}
