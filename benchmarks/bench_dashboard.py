"""Dashboard load times on a large store: 10,000 trials x 100 intermediate metrics.

Builds the store with the real Store writer (bulk import), serves it with DashboardServer, and
times (median of --repeat runs):

- the JSON API: overview, first page of the trials table (plain and sorted/filtered), a trial's
  detail, the charts data, the live-update version probe;
- with --browser, full page loads in headless Chromium (Debian's /usr/bin/chromium): overview
  until its cards and chart are drawn, trials table until the first page of rows is drawn.

With --views, instead: the Pareto page (10,000 trials, 2 and 3 objectives, a constraint), the
lineage page (a PBT population) and the rungs page (10,000 successive-halving trials), API and
Chromium, with the results written to bench_dashboard_views.json next to this script.

Usage:
    .venv/bin/python benchmarks/bench_dashboard.py [--trials 10000] [--steps 100] [--browser]
    .venv/bin/python benchmarks/bench_dashboard.py --views [--trials 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hyperloom.dashboard import DashboardServer
from hyperloom.store import Store, TrialRecord
from hyperloom.types import TrialStatus

SPACE = {
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "batch_size": {"_type": "choice", "_value": [16, 32, 64, 128, 256]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.6]},
    "layers": {"_type": "randint", "_value": [1, 8]},
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build(path: Path, n_trials: int, n_steps: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    store = Store.create(
        path,
        experiment_id="bench001",
        name="bench-10k",
        config={
            "maxTrialNumber": n_trials,
            "tuner": {"name": "tpe", "classArgs": {"mode": "maximize"}},
        },
        space=SPACE,
    )
    t0 = time.time() - n_trials * 5.0
    statuses = [TrialStatus.SUCCEEDED] * 8 + [TrialStatus.EARLY_STOPPED, TrialStatus.FAILED]

    def records() -> Any:
        for i in range(n_trials):
            ceiling = 0.5 + 0.45 * rng.random()
            curve = tuple(
                ceiling * (1 - 0.9 ** (s + 1)) + rng.uniform(-0.005, 0.005) for s in range(n_steps)
            )
            status = statuses[i % len(statuses)]
            value = curve[-1] if status is TrialStatus.SUCCEEDED else None
            yield TrialRecord(
                trial_id=f"t{i:06d}",
                sequence=i + 1,
                status=status,
                params={
                    "lr": 10 ** rng.uniform(-5, -1),
                    "batch_size": rng.choice([16, 32, 64, 128, 256]),
                    "dropout": rng.uniform(0, 0.6),
                    "layers": rng.randint(1, 8),
                },
                value=value,
                metrics={"loss": 1 - curve[-1], "acc_top5": min(1.0, curve[-1] + 0.05)}
                if value
                else {},
                intermediate=curve,
                started=t0 + 5.0 * i,
                ended=t0 + 5.0 * i + 60.0,
                exit_code=0 if status is TrialStatus.SUCCEEDED else 1,
                devices=(i % 4,),
            )

    store.import_records(records(), batch=1000)
    store.set_experiment_status("DONE")
    store.close()


class Served:
    def __init__(self, exp_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = DashboardServer([exp_dir], port=0)
        self.url = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)

    def get(self, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (path, resp.status, body[:200])
            return len(body)
        finally:
            conn.close()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def median_ms(fn: Any, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def bench_api(s: Served, repeat: int) -> None:
    e = "/api/experiments/bench001"
    cases = {
        "experiments list": "/api/experiments",
        "overview": e,
        "trials page 1 (50 rows)": f"{e}/trials?limit=50",
        "trials sorted by value desc": f"{e}/trials?limit=50&sort=value&order=desc",
        "trials sorted by param lr": f"{e}/trials?limit=50&sort=param:lr",
        "trials filtered lr<0.001 value>0.8": f"{e}/trials?limit=50&q=lr%3C0.001+value%3E0.8",
        "trials last page (offset 9950)": f"{e}/trials?limit=50&offset=9950",
        "trial detail": f"{e}/trials/t004321",
        "charts data (40 curves)": f"{e}/charts?curves=40",
        "importance (cached forest, new pair)": f"{e}/importance?x=dropout&y=layers",
        "version probe": f"{e}/version",
    }
    print(f"{'API request':40s} {'median ms':>10s} {'max ms':>8s} {'bytes':>9s}")
    for name, path in cases.items():
        size = s.get(path)  # warm
        med, worst = median_ms(lambda p=path: s.get(p), repeat)
        print(f"{name:40s} {med:10.1f} {worst:8.1f} {size:9d}")


def bench_browser(s: Served, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{s.server.port}"
    pages = {
        "overview (cards + best-so-far chart)": (
            "/#/e/bench001",
            ["#trial-count", "#best-chart canvas", "#top-table"],
        ),
        "trials table (first page drawn)": (
            "/#/e/bench001/trials",
            ["#trials-table tbody tr >> nth=49"],
        ),
        "charts page (parallel + curves)": (
            "/#/e/bench001/charts",
            ["#parallel canvas", "#curves canvas"],
        ),
        "importance page (fit + contour + slices)": (
            "/#/e/bench001/importance",
            ["#imp-chart canvas", "#contour-chart canvas", "#slice-3 canvas"],
        ),
    }
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        head = f"{'Chromium, ms since navigation start':40s} {'drawn med':>10s} {'max':>8s}"
        print(f"\n{head} {'seen med':>10s}")
        for name, (frag, sels) in pages.items():
            drawn, seen = [], []
            for _ in range(repeat):
                # a fresh context: no HTTP cache, as for someone opening the URL
                ctx = b.new_context(viewport={"width": 1400, "height": 900})
                page = ctx.new_page()
                page.goto(base + frag)
                for sel in sels:
                    page.wait_for_selector(sel, state="attached", timeout=60_000)
                page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
                # the page's own clock (ms since navigation start): when the app had drawn the
                # view, and when Playwright had seen every element (adds its polling latency)
                drawn.append(float(page.get_attribute("body", "data-drawn-ms") or "nan"))
                seen.append(float(page.evaluate("() => performance.now()")))
                ctx.close()
            print(
                f"{name:40s} {statistics.median(drawn):10.1f} {max(drawn):8.1f} "
                f"{statistics.median(seen):10.1f}"
            )
        b.close()


def build_mo(path: Path, n_trials: int, n_obj: int, seed: int = 0) -> None:
    """A finished multi-objective experiment: accuracy (max) against latency (min) (and energy,
    min), with ``params <= 4e5`` as a constraint (about a fifth violate it)."""
    rng = random.Random(seed)
    objs = [{"name": "accuracy", "mode": "maximize"}, {"name": "latency_ms", "mode": "minimize"}]
    objs += [{"name": "energy", "mode": "minimize"}][: n_obj - 2]
    store = Store.create(
        path,
        experiment_id=path.name,
        name=f"pareto-{n_obj}obj",
        config={
            "maxTrialNumber": n_trials,
            "tuner": {"name": "random", "classArgs": {}},
            "objectives": objs,
            "constraints": [{"metric": "params", "max": 4e5}],
        },
        space=SPACE,
    )
    t0 = time.time() - n_trials * 5.0

    def records() -> Any:
        for i in range(n_trials):
            size = rng.randint(8, 256) ** 2 * rng.randint(1, 8)
            acc = 0.6 + 0.35 * (1 - math.exp(-size / 60000)) + rng.uniform(-0.03, 0.03)
            lat = 0.5 + size / 20000 + rng.uniform(0, 1.5)
            vals = (acc, lat, lat * rng.uniform(0.5, 1.5))[:n_obj]
            yield TrialRecord(
                trial_id=f"m{i:06d}",
                sequence=i + 1,
                status=TrialStatus.SUCCEEDED,
                params={
                    "lr": 10 ** rng.uniform(-5, -1),
                    "batch_size": 32,
                    "dropout": 0.1,
                    "layers": 2,
                },
                value=acc,
                values=vals,
                metrics={"latency_ms": lat, "params": float(size), "energy": vals[-1]},
                intermediate=tuple(acc * (s + 1) / 5 for s in range(5)),
                started=t0 + 5.0 * i,
                ended=t0 + 5.0 * i + 60.0,
                exit_code=0,
            )

    store.import_records(records(), batch=1000)
    store.set_experiment_status("DONE")
    store.close()


def build_pbt(path: Path, population: int, generations: int, interval: int) -> int:
    """A PBT run: each generation the worst quarter is replaced by perturbed copies of the best
    quarter, warm-started at the generation's last step. Returns the number of trials."""
    rng = random.Random(1)
    store = Store.create(
        path,
        experiment_id=path.name,
        name="pbt",
        config={"tuner": {"name": "pbt", "classArgs": {"mode": "maximize"}}},
        space=SPACE,
    )
    t0 = time.time() - 10000
    alive: dict[str, float] = {}
    start: dict[str, int] = {}
    n = 0
    for _ in range(population):
        tid = f"p{n:05d}"
        n += 1
        store.add_trial(tid, n, {"lr": 10 ** rng.uniform(-4, -1)}, t=t0)
        store.start_trial(tid, started=t0)
        alive[tid], start[tid] = rng.random(), 0
    for gen in range(generations):
        lo, hi = gen * interval, (gen + 1) * interval
        for tid, q in alive.items():
            for step in range(max(lo, start[tid]), hi):
                store.add_metric(tid, step, q * (1 - 0.97 ** (step + 1)), t=t0 + step)
        if gen == generations - 1:
            break
        ranked = sorted(alive, key=lambda t: alive[t])
        cut = max(1, population // 4)
        for worst, best in zip(ranked[:cut], ranked[-cut:], strict=True):
            store.finish_trial(worst, TrialStatus.EARLY_STOPPED, ended=t0 + hi, exit_code=-15)
            del alive[worst]
            child = f"p{n:05d}"
            n += 1
            factor = rng.choice([0.8, 1.2])
            store.add_trial(
                child,
                n,
                {"lr": 0.01 * factor},
                t=t0 + hi,
                parent=best,
                perturbation={"lr": [0.01, 0.01 * factor]},
            )
            store.start_trial(child, started=t0 + hi)
            alive[child] = min(1.0, alive[best] * rng.uniform(0.98, 1.06))
            start[child] = hi
    for tid, q in alive.items():
        store.set_final(tid, q)
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=t0 + 1e4, exit_code=0)
    store.set_experiment_status("DONE")
    store.close()
    return n


def build_rungs(path: Path, n_trials: int, eta: int = 3, rungs: int = 4) -> None:
    """Successive halving by pause and resume: rungs at steps 0, 2, 8, 26; the top 1/eta at each
    rung is promoted (a PAUSE event, then a resume event and deeper reports)."""
    rng = random.Random(2)
    store = Store.create(
        path,
        experiment_id=path.name,
        name="hyperband",
        config={"tuner": {"name": "hyperband", "classArgs": {"mode": "maximize"}}},
        space=SPACE,
    )
    levels = [eta**k - 1 for k in range(rungs)]
    q = [rng.random() for _ in range(n_trials)]
    deepest = [0] * n_trials
    order = sorted(range(n_trials), key=lambda i: -q[i])
    for r in range(1, rungs):
        for i in order[: max(1, n_trials // eta**r)]:
            deepest[i] = r
    t0 = time.time() - 10000

    def records() -> Any:
        for i in range(n_trials):
            d = deepest[i]
            done = d == rungs - 1
            yield TrialRecord(
                trial_id=f"h{i:06d}",
                sequence=i + 1,
                status=TrialStatus.SUCCEEDED if done else TrialStatus.EARLY_STOPPED,
                params={"lr": 0.01},
                value=q[i] if done else None,
                intermediate=tuple(q[i] * (1 - 0.9 ** (s + 1)) for s in range(levels[d] + 1)),
                started=t0 + i,
                ended=t0 + i + 10,
                exit_code=0,
            )

    store.import_records(records(), batch=1000)
    for i in range(n_trials):
        for r in range(deepest[i] + (0 if deepest[i] == rungs - 1 else 1)):
            tid = f"h{i:06d}"
            store.add_event("assessor", tid, {"verdict": "PAUSE", "step": levels[r]})
            store.add_event("paused", tid, {"step": levels[r], "checkpoint": levels[r]})
            if r < deepest[i]:
                store.add_event("resumed", tid, {"start_step": levels[r] + 1})
    store.set_experiment_status("DONE")
    store.close()


def bench_views(args: argparse.Namespace) -> dict[str, Any]:
    """Builds the three stores, times their API and (with Chromium) their pages."""
    out: dict[str, Any] = {"trials": args.trials, "repeat": args.repeat, "load": load_note()}
    root = args.dir or Path(tempfile.mkdtemp(prefix="hl-bench-views-"))
    root.mkdir(parents=True, exist_ok=True)
    specs = {
        "pareto2": (lambda p: build_mo(p, args.trials, 2), "pareto", "#pareto-chart canvas"),
        "pareto3": (lambda p: build_mo(p, args.trials, 3), "pareto", "#pareto-chart canvas"),
        "pbt": (lambda p: build_pbt(p, 32, 30, 4), "lineage", "#tree rect.node"),
        "rungs": (lambda p: build_rungs(p, args.trials), "rungs", "#reach-chart canvas"),
    }
    have_browser = Path("/usr/bin/chromium").exists()
    for name, (make, page, sel) in specs.items():
        d = root / name
        if not (d / "experiment.db").exists():
            d.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            make(d)
            print(f"built {name} in {time.perf_counter() - t:.1f}s at {d}")
        s = Served(d)
        try:
            path = f"/api/experiments/{name}/{page}"
            t = time.perf_counter()
            size = s.get(path)  # computed: the server keeps it while the store does not change
            cold = (time.perf_counter() - t) * 1000
            med, worst = median_ms(lambda p=path, s=s: s.get(p), args.repeat)
            row: dict[str, Any] = {
                "api_cold_ms": cold,
                "api_cached_ms": med,
                "api_cached_max_ms": worst,
                "bytes": size,
            }
            row["compute_ms"], row["compute_cpu_ms"] = _compute_ms(d, page, args.repeat)
            if have_browser:
                row.update(_browser_page(s, f"/#/e/{name}/{page}", sel, args.repeat))
            out[name] = row
            print(f"{name:8s} {json.dumps(row)}")
        finally:
            s.close()
    if have_browser:
        s = Served(root / "pbt")
        try:
            # a light page in a fresh context: what any first load costs the browser
            out["baseline_overview_264_trials"] = _browser_page(
                s, "/#/e/pbt", "#trial-count", args.repeat, switch_back=False
            )
            print(f"baseline {json.dumps(out['baseline_overview_264_trials'])}")
        finally:
            s.close()
    out["load_after"] = load_note()
    return out


def _compute_ms(d: Path, page: str, repeat: int) -> tuple[float, float]:
    """Median wall and CPU time to compute the page's data in-process (no HTTP, no cache)."""
    from hyperloom.dashboard import _lineage, _pareto, _queries, _rungs

    fn = {
        "pareto": _pareto.pareto_json,
        "lineage": _lineage.lineage_data,
        "rungs": _rungs.rungs_data,
    }
    times, cpu = [], []
    with _queries.session(d / "experiment.db") as s:
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            fn[page](s)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    return statistics.median(times), statistics.median(cpu)


def _chromium_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every Chromium process under this one, by pid."""
    try:
        import psutil
    except ImportError:
        return {}
    out = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                t = child.cpu_times()
                out[child.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in cdp.send("Performance.getMetrics")["metrics"]}


def _browser_page(
    s: Served, frag: str, sel: str, repeat: int, switch_back: bool = True
) -> dict[str, Any]:
    """Cold page loads (fresh context, server cache dropped): wall time until drawn, and the
    CPU time the browser and this process (the server) spent on it, which a loaded machine
    inflates far less than the wall time."""
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{s.server.port}"
    drawn, browser_cpu, server_cpu, switch = [], [], [], []
    switch_thread: list[float] = []
    switch_tasks: list[float] = []
    switch_server_cpu: list[float] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(repeat):
            ctx = b.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            # a new server-side cache would be unfair to the first load: drop it each time
            s.server._api._cache.clear()
            before, cpu0 = _chromium_cpu(), time.process_time()
            page.goto(base + frag)
            page.wait_for_selector(sel, state="attached", timeout=60_000)
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            cpu1, after = time.process_time(), _chromium_cpu()
            drawn.append(float(page.get_attribute("body", "data-drawn-ms") or "nan"))
            browser_cpu.append(1000 * sum(v - before.get(k, 0.0) for k, v in after.items()))
            server_cpu.append(1000 * (cpu1 - cpu0))
            # the view's own cost: leave for the experiments list and come back (the page and
            # the charting library are loaded; the server computes the data again)
            if not switch_back:
                assert not errors, errors
                ctx.close()
                continue
            page.evaluate("() => { window.location.hash = '#/'; }")
            page.wait_for_function("() => document.body.dataset.view === 'experiments'")
            s.server._api._cache.clear()
            cdp = ctx.new_cdp_session(page)
            cdp.send("Performance.enable")
            m0 = _metrics(cdp)
            c0 = time.process_time()
            t0 = float(page.evaluate("() => performance.now()"))
            page.evaluate(f"() => {{ window.location.hash = {json.dumps(frag[1:])}; }}")
            page.wait_for_function(
                f"() => document.body.dataset.view !== 'experiments' && "
                f"+document.body.dataset.renderedMs > {t0}",
                timeout=60_000,
            )
            switch.append(float(page.get_attribute("body", "data-rendered-ms") or "nan") - t0)
            m1 = _metrics(cdp)
            switch_server_cpu.append(1000 * (time.process_time() - c0))
            # the page's main thread: CPU time (ThreadTime) and time in tasks (TaskDuration)
            switch_thread.append(1000 * (m1["ThreadTime"] - m0["ThreadTime"]))
            switch_tasks.append(1000 * (m1["TaskDuration"] - m0["TaskDuration"]))
            assert not errors, errors
            ctx.close()
        b.close()
    return {
        "drawn_ms": statistics.median(drawn),
        "drawn_max_ms": max(drawn),
        "browser_cpu_ms": statistics.median(browser_cpu),
        "server_cpu_ms": statistics.median(server_cpu),
        "view_switch_ms": statistics.median(switch) if switch else None,
        "view_switch_page_cpu_ms": statistics.median(switch_thread) if switch else None,
        "view_switch_page_tasks_ms": statistics.median(switch_tasks) if switch else None,
        "view_switch_server_cpu_ms": statistics.median(switch_server_cpu) if switch else None,
    }


def load_note() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f"load average {f.read().split()[0]} on {os.cpu_count()} CPUs"
    except OSError:
        return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--browser", action="store_true", help="also time page loads in Chromium")
    ap.add_argument(
        "--dir", type=Path, help="build (or reuse) the store here instead of a temp dir"
    )
    ap.add_argument("--views", action="store_true", help="the Pareto, lineage and rungs pages")
    args = ap.parse_args()
    if args.views:
        res = bench_views(args)
        out = Path(__file__).with_name("bench_dashboard_views.json")
        out.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        d = args.dir or Path(tmp) / "bench001"
        if not (d / "experiment.db").exists():
            d.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            build(d, args.trials, args.steps)
            print(
                f"built {args.trials} trials x {args.steps} metrics in {time.perf_counter() - t:.1f}s at {d}"
            )
        print(load_note())
        s = Served(d)
        try:
            bench_api(s, args.repeat)
            if args.browser:
                bench_browser(s, max(3, args.repeat // 2))
            print(load_note())
        finally:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
