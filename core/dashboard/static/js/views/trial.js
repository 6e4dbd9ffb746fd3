// Trial detail: parameters, intermediate curve, why it stopped, devices, exit code, the NAS cell
// it found or ran with, log tails.
import { axis, chart, grid, ready, tooltip } from "../charts.js";
import { api, badge, esc, fmtDur, fmtNum, fmtTime, fmtVal, getJSON, link } from "../util.js";
import { eventLabel, eventText } from "../events.js";
import { perturbationText } from "./lineage.js";
import { architectureHtml } from "./cell.js";

function kv(obj) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return `<span class="muted">none</span>`;
  return `<dl class="kv">${keys.map((k) => `<dt>${esc(k)}</dt><dd>${esc(fmtVal(obj[k]))}</dd>`).join("")}</dl>`;
}

function logBox(name, tail, cls = "") {
  if (!tail?.exists) return `<div class="muted">No ${name} file.</div>`;
  const note = tail.truncated ? `<span class="hint"> · last ${Math.round(tail.text.length / 1024)} KB of ${Math.round(tail.size / 1024)} KB</span>` : "";
  return `<div class="hint" style="margin-bottom:6px">${name}${note}</div><pre class="log ${cls}" id="${name}">${esc(tail.text) || '<span class="muted">(empty)</span>'}</pre>`;
}

export function mount(root, route) {
  ready();
  root.innerHTML = `<div class="loading">Loading…</div>`;
  let stick = { stdout: true, stderr: true };
  return {
    async refresh() {
      const t = await getJSON(`${api(route.exp)}/trials/${encodeURIComponent(route.trial)}`);
      for (const n of ["stdout", "stderr"]) {
        const el = root.querySelector(`#${n}`);
        if (el) stick[n] = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
      }
      const canStop = ["RUNNING", "WAITING"].includes(t.status);
      const events = t.events.map((e) => `<tr data-kind="${esc(e.kind)}"><td class="muted">${esc(fmtTime(e.t))}</td><td><span class="badge">${esc(eventLabel(e.kind))}</span></td>
        <td class="event-text" style="white-space:normal">${eventText(e, t.stop_cause)}</td></tr>`).join("");
      root.innerHTML = `
        <div class="head"><h1 class="trial-title">Trial <span class="mono-id">${esc(t.trial_id)}</span></h1>${badge(t.status)}<span class="sub">#${t.sequence}</span><span class="spacer"></span>
          ${canStop ? `<button class="danger" data-stop-trial="${esc(t.trial_id)}" id="stop-trial">Stop trial</button>` : ""}</div>
        ${t.parent ? `<div class="callout lineage" id="lineage-note"><b>Warm-started</b> from <a class="mono" href="${link("e", route.exp, "trials", t.parent)}">${esc(t.parent)}</a>${t.intermediate.length ? ` at step ${t.intermediate[0][0] - 1}` : ""}${t.perturbation ? ` · perturbation: <b>${esc(perturbationText(t.perturbation))}</b>` : ""} · <a href="${link("e", route.exp, "lineage")}?trial=${encodeURIComponent(t.trial_id)}">its lineage</a></div>` : ""}
        ${t.stop_cause ? `<div class="callout ${esc(t.status)}" id="stop-cause"><b>Why it stopped.</b> ${esc(t.stop_cause)}</div>` : ""}
        <div class="grid cards">
          <div class="panel card"><div class="label">Final value</div><div class="big" id="trial-value">${t.value === null ? "–" : esc(fmtNum(t.value))}</div>
            ${t.values && t.values.length > 1 ? `<div class="small" id="trial-values">${t.values.map((v, i) => `${esc(t.objectives?.[i] ?? `#${i + 1}`)} <b>${esc(fmtNum(v))}</b>`).join(" · ")}</div>` : ""}
            <div class="small">${t.intermediate.length} intermediate reports${t.intermediate.length ? ` · last ${esc(fmtNum(t.intermediate[t.intermediate.length - 1][1]))}` : ""}</div></div>
          <div class="panel card"><div class="label">Duration</div><div class="big">${esc(fmtDur(t.duration) || "–")}</div>
            <div class="small">${esc(fmtTime(t.started))}${t.ended ? " → " + esc(fmtTime(t.ended)) : ""}</div></div>
          <div class="panel card"><div class="label">Exit code</div><div class="big">${t.exit_code ?? "–"}</div><div class="small" id="exit-note">${t.stop_cause ? (t.exit_code === -15 ? "SIGTERM: stopped on request" : t.exit_code === -9 ? "SIGKILL: killed" : "") : esc(t.reason || "")}</div></div>
          <div class="panel card"><div class="label">Devices</div><div class="big">${t.devices?.length ? esc(t.devices.map((d) => "GPU " + d).join(", ")) : "CPU"}</div>
            <div class="small">${t.pid ? "pid " + t.pid : ""}</div></div>
        </div>
        <div class="grid two">
          <div class="panel"><h2>Intermediate metric</h2><div class="chart" id="curve"></div></div>
          <div class="panel"><h2>Parameters</h2>${kv(t.params)}<h2 style="margin-top:18px">Final metrics</h2>${kv(t.metrics)}${t.checkpoint ? `<h2 style="margin-top:18px">Last committed checkpoint</h2>${kv({ step: t.checkpoint.step, dir: t.checkpoint.dir })}` : ""}</div>
        </div>
        ${t.architecture ? `<div class="panel" id="architecture"><h2>Architecture</h2>${architectureHtml(t.architecture)}</div>` : ""}
        <div class="grid two">
          <div class="panel">${logBox("stdout", t.stdout)}</div>
          <div class="panel">${logBox("stderr", t.stderr, "err")}</div>
        </div>
        <div class="panel"><h2>Events</h2>${events ? `<table><tbody>${events}</tbody></table>` : `<div class="muted">No events for this trial.</div>`}</div>`;
      for (const n of ["stdout", "stderr"]) {
        const el = root.querySelector(`#${n}`);
        if (el && stick[n]) el.scrollTop = el.scrollHeight;
      }
      const el = root.querySelector("#curve");
      if (!t.intermediate.length) { el.innerHTML = `<div class="empty">No intermediate reports.</div>`; return; }
      await ready();
      chart(el, {
        grid, tooltip: { ...tooltip, trigger: "axis", valueFormatter: (v) => fmtNum(v) },
        xAxis: axis({ type: "value", name: "step", nameLocation: "middle", nameGap: 28, minInterval: 1 }),
        yAxis: axis({ type: "value", scale: true }),
        series: [{ type: "line", name: "value", data: t.intermediate.map((p) => [p[0], p[1]]), showSymbol: t.intermediate.length < 60, lineStyle: { width: 2.5 }, areaStyle: { opacity: 0.06 } }],
      });
    },
  };
}
