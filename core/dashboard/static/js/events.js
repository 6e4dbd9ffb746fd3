// A trial's events in words: one sentence per event kind the manager records, and a readable
// fallback ("key: value, ...") for kinds it does not know.
import { esc, fmtNum, fmtVal } from "./util.js";

const LABELS = {
  assessor: "assessor", stop_request: "stop", warm_start: "warm start", paused: "paused", resumed: "resumed",
  checkpoint_refused: "checkpoint", exploit_refused: "exploit", channel_reject: "report refused",
  trial_retry: "retry", gpu_sample: "GPU", run_start: "run", run_end: "run",
};

const STATUS_WORDS = { EARLY_STOPPED: "stop early", CANCELED: "stop (canceled)", TIMEOUT: "stop (past its time limit)", FAILED: "stop (failed)", PAUSED: "pause" };

/** The badge text of an event kind. */
export function eventLabel(kind) { return LABELS[kind] || String(kind || "event").replace(/_/g, " "); }

function plain(p) {
  if (p === null || p === undefined) return "";
  if (typeof p !== "object") return esc(fmtVal(p));
  return Object.entries(p).map(([k, v]) => `${esc(k.replace(/_/g, " "))}: <b>${esc(fmtVal(v))}</b>`).join(", ");
}

/** One event as HTML text. `stopCause` (the trial's "why it stopped" sentence) is not repeated:
 * an event that only says the same thing refers to it. */
export function eventText(e, stopCause) {
  const p = e.payload && typeof e.payload === "object" ? e.payload : {};
  const reason = p.reason ? String(p.reason) : "";
  // "assessor: below the median" says the same as a cause that contains "below the median"
  const said = (r) => r && stopCause && (stopCause.includes(r) || stopCause.includes(r.replace(/^[\w ]+:\s*/, "")));
  const why = (r) => (r ? (said(r) ? " (the reason above)" : `: ${esc(r)}`) : "");
  const step = p.step !== undefined && p.step !== null ? ` at step <b>${esc(p.step)}</b>` : "";
  switch (e.kind) {
    case "assessor": {
      const who = p.assessor ? `The assessor <b>${esc(p.assessor)}</b>` : "The assessor";
      const verdict = String(p.verdict || "").toUpperCase();
      const act = verdict === "PAUSE" ? "paused it" : verdict === "STOP" ? "stopped it" : `said ${esc(verdict.toLowerCase())}`;
      return `${who} ${act}${step}${why(reason)}`;
    }
    case "stop_request": {
      const what = STATUS_WORDS[p.status] || (p.status ? `stop (${esc(String(p.status).toLowerCase().replace("_", " "))})` : "stop");
      return `The manager asked the trial to ${what}${why(reason)}`;
    }
    case "warm_start": return `Warm-started from <span class="mono">${esc(p.parent)}</span>, continuing after its checkpoint at step <b>${esc(p.step)}</b>`;
    case "exploit_refused": return `Could not warm-start from <span class="mono">${esc(p.parent)}</span>${why(reason)}; started from scratch`;
    case "paused": return `Paused${p.step !== null && p.step !== undefined ? ` after step <b>${esc(p.step)}</b>` : ""}${p.checkpoint !== null && p.checkpoint !== undefined ? `, checkpoint at step ${esc(p.checkpoint)}` : ", no checkpoint"}${why(reason)}`;
    case "resumed": return `Resumed from step <b>${esc(p.start_step)}</b>${p.checkpoint !== null && p.checkpoint !== undefined ? ` (checkpoint at step ${esc(p.checkpoint)})` : ""}`;
    case "checkpoint_refused": return `The checkpoint${step} was not committed${why(reason)}`;
    case "channel_reject": return `A report from the trial was refused${why(reason)}`;
    case "trial_retry": return `Attempt ${esc(p.attempt)} was lost after ${esc(p.steps ?? 0)} report${p.steps === 1 ? "" : "s"}${p.last_value ? ` (last ${esc(fmtNum(Array.isArray(p.last_value) ? p.last_value[1] : p.last_value))})` : ""}; retried${why(reason)}`;
    case "gpu_sample": return `GPU use: ${plain(p)}`;
    default: return plain(e.payload) || `<span class="muted">${esc(e.kind)}</span>`;
  }
}
