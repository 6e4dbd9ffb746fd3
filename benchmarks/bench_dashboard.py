"""Dashboard load times on a large store: 10,000 trials x 100 intermediate metrics.

Builds the store with the real Store writer (bulk import), serves it with DashboardServer, and
times (median of --repeat runs):

- the JSON API: overview, first page of the trials table (plain and sorted/filtered), a trial's
  detail, the charts data, the live-update version probe;
- with --browser, full page loads in headless Chromium (Debian's /usr/bin/chromium): overview
  until its cards and chart are drawn, trials table until the first page of rows is drawn.

Usage:
    .venv/bin/python benchmarks/bench_dashboard.py [--trials 10000] [--steps 100] [--browser]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
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
        "charts page (parallel + curves + scatter)": (
            "/#/e/bench001/charts",
            ["#parallel canvas", "#curves canvas", "#sc-3 canvas"],
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
    args = ap.parse_args()
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
