"""Time to first dashboard paint: from ``hyperloom view`` to a drawn page, in wall time.

For each store (a 200-trial experiment, and 10,000 trials x 100 reports) and --repeat runs:

1. starts ``hyperloom view DIR --port 0 --no-browser`` as a user would (a new process: Python,
   imports, the server) and waits for the URL it prints: **view ready**;
2. opens that URL in a fresh Chromium context (a browser already running, as a user's is):
   **first contentful paint** (the Paint Timing API), **list drawn** (the first view with its
   data: the experiments list, which then opens the only experiment), **overview drawn** (the
   overview's cards and best-so-far chart, data included);
3. reports where the time went in the page (resource timing: the HTML, the app's modules, the
   charting library, the API calls).

Also the Pareto page of 10,000 trials (2 objectives, a constraint) opened directly in a fresh
context, with the server's cache empty: **pareto drawn** (issue 19's figure), twice: with the
server in this process (cache dropped before each visit; also an open tab switching to the page,
and the CPU the server and the page's renderer spent), and with ``hyperloom view`` started as a
new process for each visit, as a user opens it. ``--only pareto`` runs just these.

Prints medians and writes bench_dashboard_paint.json next to this script, with the load average
before and after (the wall times move with it; CPU times are in bench_dashboard.py --views).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_dashboard_paint.py \
        [--repeat 5] [--dir /tmp/hl-paint]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_dashboard import CHROMIUM_ARGS, Served, build, build_mo, load_note  # noqa: E402

URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+/)")


def start_view(exp_dir: Path, home: Path) -> tuple[subprocess.Popen[str], str, float]:
    """Starts ``hyperloom view``; returns (process, URL, seconds until it printed the URL)."""
    exe = Path(sys.executable).with_name("hyperloom")
    env = dict(os.environ, HYPERLOOM_HOME=str(home), NO_COLOR="1", COLUMNS="200")
    t = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "view", str(exp_dir), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        m = URL_RE.search(line)
        if m:
            return proc, m.group(1), time.perf_counter() - t
    raise RuntimeError(f"hyperloom view exited with {proc.wait()} before printing a URL")


def stop_view(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_TIMING_JS = """() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const res = performance.getEntriesByType('resource').map((r) => [r.name, r.startTime, r.responseEnd, r.responseStart, r.encodedBodySize]);
  const nav = performance.getEntriesByType('navigation')[0];
  return { fcp: fcp ? fcp.startTime : null, html: nav ? nav.responseEnd : null, res,
           drawn: +document.body.dataset.drawnMs, now: performance.now() };
}"""


def _phases(t: dict[str, Any]) -> dict[str, float | None]:
    """When (ms since navigation) the page had its modules, the chart library, its API data."""

    def end(pred: Any) -> float | None:
        xs = [r[2] for r in t["res"] if pred(r[0])]
        return max(xs) if xs else None

    return {
        "html_ms": t["html"],
        "modules_ms": end(lambda u: "/static/js/" in u),
        "echarts_ms": end(lambda u: "echarts.min.js" in u),
        "api_ms": end(lambda u: "/api/" in u and "/version" not in u),
        "prefetch_script_ms": end(lambda u: "pareto-prefetch.js" in u),
    }


def bench_view(exp_dir: Path, home: Path, repeat: int, browser: Any) -> dict[str, Any]:
    rows: dict[str, list[float]] = {}
    for _ in range(repeat):
        proc, url, ready = start_view(exp_dir, home)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            page.wait_for_selector("#best-chart canvas", state="attached", timeout=60_000)
            page.wait_for_selector("#trial-count", timeout=60_000)
            overview = float(page.evaluate("() => performance.now()"))
            wall = (time.perf_counter() - t0) * 1000
            t = page.evaluate(_TIMING_JS)
            ctx.close()
        finally:
            stop_view(proc)
        vals = {
            "view_ready_ms": ready * 1000,
            "first_contentful_paint_ms": t["fcp"],
            "list_drawn_ms": t["drawn"],
            "overview_drawn_ms": overview,
            "goto_to_overview_wall_ms": wall,
            "view_start_to_first_paint_ms": ready * 1000 + (t["fcp"] or 0.0),
            "view_start_to_overview_ms": ready * 1000 + overview,
            **_phases(t),
        }
        for k, v in vals.items():
            if v is not None:
                rows.setdefault(k, []).append(float(v))
    return {k: statistics.median(v) for k, v in rows.items()}


def bench_pareto(exp_dir: Path, repeat: int, browser: Any) -> dict[str, Any]:
    from hyperloom.dashboard import _pareto

    # the server's CPU time for the page's data (thread time of the computation)
    cpu: list[float] = []
    compute = _pareto.pareto_json

    def timed(session: Any) -> str:
        t = time.thread_time()
        try:
            return compute(session)
        finally:
            cpu.append((time.thread_time() - t) * 1000)

    _pareto.pareto_json = timed  # type: ignore[assignment]
    s = Served(exp_dir)
    rows: dict[str, list[float]] = {}
    try:
        base = f"http://127.0.0.1:{s.server.port}"
        for _ in range(repeat):
            s.server._api._cache.clear()  # the first visit computes the page's data
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            cdp.send("Performance.enable")
            cpu.clear()
            t0 = time.perf_counter()
            page.goto(f"{base}/#/e/{exp_dir.name}/pareto")
            page.wait_for_selector("#pareto-chart canvas", state="attached", timeout=60_000)
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            wall = (time.perf_counter() - t0) * 1000
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            server_cpu = sum(cpu)
            t = page.evaluate(_TIMING_JS)
            # an open tab (library and modules loaded): leave and come back, cache dropped
            page.evaluate("() => { window.location.hash = '#/'; }")
            page.wait_for_function("() => document.body.dataset.view === 'experiments'")
            s.server._api._cache.clear()
            t1 = float(page.evaluate("() => performance.now()"))
            page.evaluate(f"() => {{ window.location.hash = '#/e/{exp_dir.name}/pareto'; }}")
            page.wait_for_function(
                f"() => document.body.dataset.view === 'pareto' && "
                f"+document.body.dataset.renderedMs > {t1}",
                timeout=60_000,
            )
            switch = float(page.get_attribute("body", "data-rendered-ms") or "nan") - t1
            ctx.close()
            pr = [r for r in t["res"] if r[0].endswith("/pareto")]
            vals = {
                "fresh_tab_drawn_ms": t["drawn"],
                # the pareto request: sent, answered (server time = first byte - sent), received
                "pareto_api_sent_ms": pr[0][1] if pr else None,
                "pareto_api_server_ms": pr[0][3] - pr[0][1] if pr else None,
                "pareto_api_received_ms": pr[0][2] if pr else None,
                "pareto_bytes": pr[0][4] if pr else None,
                "after_data_to_drawn_ms": t["drawn"] - pr[0][2] if pr else None,
                # CPU, not wall: the page's renderer (its main thread, the whole process) until
                # drawn (and a little after), and the server's computation of the data
                "page_main_thread_cpu_ms": metrics.get("ThreadTime", 0.0) * 1000,
                "page_renderer_cpu_ms": metrics.get("ProcessTime", 0.0) * 1000,
                "page_tasks_wall_ms": metrics.get("TaskDuration", 0.0) * 1000,
                "page_script_wall_ms": metrics.get("ScriptDuration", 0.0) * 1000,
                "server_cpu_ms": server_cpu,
                "fresh_tab_goto_to_drawn_wall_ms": wall,
                "open_tab_switch_drawn_ms": switch,
                **_phases(t),
            }
            for k, v in vals.items():
                if v is not None:
                    rows.setdefault(k, []).append(float(v))
    finally:
        s.close()
        _pareto.pareto_json = compute  # type: ignore[assignment]
    out: dict[str, Any] = {k: statistics.median(v) for k, v in rows.items()}
    out["runs"] = {k: [round(x, 1) for x in v] for k, v in rows.items() if "drawn" in k}
    return out


def bench_pareto_view(exp_dir: Path, home: Path, repeat: int, browser: Any) -> dict[str, Any]:
    """The Pareto page as a user opens it: ``hyperloom view DIR`` started as a new process (so
    its cache is empty), its URL + ``#/e/ID/pareto`` opened in a fresh context."""
    rows: dict[str, list[float]] = {}
    for _ in range(repeat):
        proc, url, ready = start_view(exp_dir, home)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            t0 = time.perf_counter()
            page.goto(f"{url}#/e/{exp_dir.name}/pareto")
            page.wait_for_selector("#pareto-chart canvas", state="attached", timeout=60_000)
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            wall = (time.perf_counter() - t0) * 1000
            t = page.evaluate(_TIMING_JS)
            ctx.close()
        finally:
            stop_view(proc)
        pr = [r for r in t["res"] if r[0].endswith("/pareto")]
        vals = {
            "view_ready_ms": ready * 1000,
            "fresh_tab_drawn_ms": t["drawn"],
            "fresh_tab_goto_to_drawn_wall_ms": wall,
            "pareto_api_sent_ms": pr[0][1] if pr else None,
            "pareto_api_server_ms": pr[0][3] - pr[0][1] if pr else None,
            "after_data_to_drawn_ms": t["drawn"] - pr[0][2] if pr else None,
        }
        for k, v in vals.items():
            if v is not None:
                rows.setdefault(k, []).append(float(v))
    out: dict[str, Any] = {k: statistics.median(v) for k, v in rows.items()}
    out["runs"] = {k: [round(x, 1) for x in v] for k, v in rows.items() if "drawn" in k}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/hl-paint"))
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument(
        "--only",
        choices=["all", "pareto"],
        default="all",
        help="pareto: only the 10,000-trial Pareto page (its figures replace those in the JSON)",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = args.dir
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    stores = {"small": (200, 20), "large": (args.trials, 100)} if args.only == "all" else {}
    dirs = {}
    for name, (n, steps) in stores.items():
        d = root / f"paint-{name}"
        if not (d / "experiment.db").exists():
            d.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            build(d, n, steps)
            print(f"built {name} ({n} x {steps}) in {time.perf_counter() - t:.1f}s")
        dirs[name] = d
    mo = root / "pareto2"
    if not (mo / "experiment.db").exists():
        mo.mkdir(parents=True, exist_ok=True)
        build_mo(mo, args.trials, 2)
    path = HERE / "bench_dashboard_paint.json"
    out: dict[str, Any] = {"repeat": args.repeat}
    if args.only == "pareto" and path.exists():
        out = json.loads(path.read_text())
        out["pareto_repeat"] = args.repeat
    out["load_before"] = load_note()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, d in dirs.items():
            out[f"view_{name}"] = bench_view(d, home, args.repeat, b)
            print(name, json.dumps({k: round(v, 1) for k, v in out[f"view_{name}"].items()}))
        out["pareto_10k"] = bench_pareto(mo, args.repeat, b)
        print("pareto", json.dumps(out["pareto_10k"]))
        out["pareto_10k_view"] = bench_pareto_view(mo, home, args.repeat, b)
        print("pareto (hyperloom view)", json.dumps(out["pareto_10k_view"]))
        b.close()
    out["load_after"] = load_note()
    print(out["load_before"], "->", out["load_after"])
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
