// Small helpers shared by the views: escaping, formatting, fetch, toasts.

const TOKEN_KEY = "hyperloom.token";

/** The experiment token from the URL (?token=...), kept for this tab only. */
export function takeToken() {
  const url = new URL(window.location.href);
  const t = url.searchParams.get("token");
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ESC[c]);

export function fmtNum(v, digits = 4) {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

export function fmtVal(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return fmtNum(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function fmtDur(s) {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(sec).padStart(2, "0")}s`;
}

export function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export const badge = (s) => `<span class="badge s-${esc(s)}">${esc(String(s ?? "").replace("_", " ").toLowerCase())}</span>`;

export const STATUS_COLORS = {
  SUCCEEDED: "#16a34a", RUNNING: "#2563eb", WAITING: "#94a3b8", FAILED: "#dc2626",
  EARLY_STOPPED: "#d97706", CANCELED: "#64748b", TIMEOUT: "#9333ea", PAUSED: "#0891b2",
};
export const STATUSES = Object.keys(STATUS_COLORS);

export class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

let collected = null;

/** Starts collecting the store versions (X-Hyperloom-Version) that API responses report. */
export function collectVersions() {
  collected = new Set();
}

/** The versions collected since collectVersions(), and stops collecting. */
export function takeVersions() {
  const c = collected || new Set();
  collected = null;
  return c;
}

export async function getJSON(path, signal) {
  const r = await fetch(path, { signal, headers: { Accept: "application/json" } });
  const v = r.headers.get("X-Hyperloom-Version");
  if (collected && v) collected.add(v);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new HttpError(r.status, body.error || `${r.status} ${r.statusText}`);
  return body;
}

export async function postJSON(path) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers["X-Hyperloom-Token"] = t;
  const r = await fetch(path, { method: "POST", headers });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new HttpError(r.status, body.error || `${r.status} ${r.statusText}`);
  return body;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = message;
  box.appendChild(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

export const api = (expId) => `/api/experiments/${encodeURIComponent(expId)}`;
export const link = (...parts) => "#/" + parts.map(encodeURIComponent).join("/");

export function paramsInline(params, max = 4) {
  const keys = Object.keys(params || {});
  const shown = keys.slice(0, max).map((k) => `<b>${esc(k)}</b>=${esc(fmtVal(params[k]))}`);
  if (keys.length > max) shown.push(`+${keys.length - max}`);
  return `<span class="params">${shown.join("  ")}</span>`;
}

/** Wraps a view's refresh so that live updates redraw it at most every `ms` (the first call,
 * and calls with force=true, run at once; a call inside the window runs at its end). Returns
 * [refresh, cancel]. */
export function throttle(fn, ms) {
  let last = 0;
  let pending = null;
  const run = async (force = false) => {
    const wait = last + ms - Date.now();
    if (!force && last && wait > 0) {
      if (!pending) pending = setTimeout(() => { pending = null; run(true).catch(() => {}); }, wait);
      return;
    }
    last = Date.now();
    await fn();
  };
  return [run, () => clearTimeout(pending)];
}

let serverLive = false;

/** Whether the experiment shown is driven by the manager that serves this dashboard (set by
 * the views from the API's `live`; a read-only `hyperloom view` never is). */
export function setLive(v) { serverLive = Boolean(v); }
export function isLive() { return serverLive; }
