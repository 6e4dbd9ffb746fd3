"""Report latency for each channel transport, and the per-trial cost of each.

Latency: a real trial calls ``hyperloom.trials.report()`` every few milliseconds; the manager
side (a `LocalExecutor` feeding an asyncio queue, as the manager does) writes each value into
the experiment store (`hyperloom.store.Store`, SQLite WAL; a bare sqlite3 WAL table if the store
is missing) and calls a median-stop assessor's ``assess()``. The latency of a report is the
wall-clock time from the ``t`` the trial stamped in ``report()`` to the moment ``assess()``
returned. Two such trials run at once (concurrency 2).

Per-trial cost: trivial trials (``get_params()`` + ``report_final()``), started one after
another; the median time from ``start()`` to ``TrialExited``, against the same script spawned
bare with ``subprocess.run`` (the physical limit).

    .venv/bin/python benchmarks/bench_latency.py [--reports 300] [--interval 0.005] [--trivial 30]
        [--throughput 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited, TrialMessage

REPORTER = """
import time
from hyperloom import trials
p = trials.get_params()
for i in range(p["reports"]):
    trials.report(i * 0.001)
    time.sleep(p["interval"])
trials.report_final(1.0)
"""

TRIVIAL = """
from hyperloom import trials
trials.report_final(trials.get_params()["x"])
"""


class _Sqlite:
    """What the manager does per report when hyperloom.store is not there yet."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE metrics (trial_id TEXT, step INTEGER, value REAL, metrics_json TEXT, "
            "t REAL, PRIMARY KEY (trial_id, step))"
        )
        self.conn.execute("CREATE TABLE trials (trial_id TEXT PRIMARY KEY, channel_offset INT)")

    def add_trial(self, trial_id: str) -> None:
        self.conn.execute("INSERT INTO trials VALUES (?, 0)", (trial_id,))

    def add_metric(
        self, trial_id: str, step: int, value: float, metrics: dict[str, Any], t: float, offset: int
    ) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?)",
            (trial_id, step, value, json.dumps(metrics), t),
        )
        self.conn.execute(
            "UPDATE trials SET channel_offset = ? WHERE trial_id = ?", (offset, trial_id)
        )
        self.conn.execute("COMMIT")


def _store(exp_dir: Path) -> tuple[Any, str]:
    try:
        from hyperloom.store import Store
    except ImportError:
        return _Sqlite(exp_dir / "experiment.db"), "sqlite3 WAL (hyperloom.store missing)"
    store = Store.create(exp_dir, experiment_id="bench", name="bench", config={}, space={})
    return store, "hyperloom.store.Store"


def _add_trial(store: Any, trial_id: str, sequence: int) -> None:
    if isinstance(store, _Sqlite):
        store.add_trial(trial_id)
    else:
        store.add_trial(trial_id, sequence, {})
        store.start_trial(trial_id, started=time.time(), pid=None, pgid=None, handle={})


def _assessor() -> Any:
    from hyperloom import load_assessor

    return load_assessor("median_stop", mode="maximize")


def _spec(root: Path, trial_id: str, script: Path, params: dict[str, Any]) -> LaunchSpec:
    trial_dir = root / "trials" / trial_id
    trial_dir.mkdir(parents=True)
    (trial_dir / "params.json").write_text(json.dumps(params))
    return LaunchSpec(
        trial_id=trial_id,
        experiment_id="bench",
        sequence=0,
        command=f"{sys.executable} {script}",
        cwd=root,
        trial_dir=trial_dir,
        env={},
        params=params,
    )


async def _latency(
    root: Path, channel: str, poll: float, reports: int, interval: float
) -> tuple[list[float], str]:
    exp_dir = root / f"{channel}-{poll}"
    exp_dir.mkdir()
    store, store_kind = _store(exp_dir)
    assessor = _assessor()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    ex = LocalExecutor(
        experiment_dir=exp_dir, emit=queue.put_nowait, channel=channel,
        options={"poll_interval": poll},
    )  # fmt: skip
    await ex.open()
    script = root / "reporter.py"
    latencies: list[float] = []
    history: dict[str, list[float]] = {}
    ids = ["a", "b"]
    for seq, tid in enumerate(ids):
        _add_trial(store, tid, seq + 1)
        history[tid] = []
        await ex.start(_spec(exp_dir, tid, script, {"reports": reports, "interval": interval}))
    running = set(ids)
    while running:
        ev = await queue.get()
        if isinstance(ev, TrialExited):
            running.discard(ev.trial_id)
        elif isinstance(ev, TrialMessage) and ev.message.type == "metric":
            m = ev.message
            store.add_metric(ev.trial_id, m.step, m.value, m.metrics, m.t, ev.offset)
            history[ev.trial_id].append(m.value)
            assessor.assess(ev.trial_id, history[ev.trial_id])
            latencies.append(time.time() - m.t)
    await ex.close(grace=1)
    return latencies, store_kind


async def _per_trial(root: Path, channel: str, n: int) -> list[float]:
    exp_dir = root / f"trivial-{channel}"
    exp_dir.mkdir()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    ex = LocalExecutor(experiment_dir=exp_dir, emit=queue.put_nowait, channel=channel)
    await ex.open()
    script = root / "trivial.py"
    times = []
    for i in range(n):
        start = time.perf_counter()
        await ex.start(_spec(exp_dir, f"t{i}", script, {"x": i}))
        finals = 0
        while True:
            ev = await queue.get()
            if isinstance(ev, TrialMessage):
                finals += 1
            elif isinstance(ev, TrialExited):
                break
        assert finals == 1 and ev.exit_code == 0, ev
        times.append(time.perf_counter() - start)
    await ex.close(grace=1)
    return times


def _bare(root: Path, n: int) -> list[float]:
    """The same trivial trial spawned directly (file transport): the physical limit."""
    import subprocess

    exp_dir = root / "trivial-bare"
    times = []
    for i in range(n):
        spec = _spec(exp_dir, f"t{i}", root / "trivial.py", {"x": i})
        env = {
            **os.environ,
            "HYPERLOOM_TRIAL_DIR": str(spec.trial_dir),
            "HYPERLOOM_TRIAL_ID": spec.trial_id,
            "HYPERLOOM_EXPERIMENT_ID": "bench",
            "HYPERLOOM_CHANNEL": "file",
        }
        start = time.perf_counter()
        subprocess.run([sys.executable, str(root / "trivial.py")], env=env, cwd=root, check=True)
        times.append(time.perf_counter() - start)
    return times


async def _throughput(root: Path, channel: str, n: int, concurrency: int) -> tuple[float, str]:
    """Trials/s of trivial trials through the executor at a fixed concurrency."""
    import psutil

    exp_dir = root / f"throughput-{channel}"
    exp_dir.mkdir()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    ex = LocalExecutor(experiment_dir=exp_dir, emit=queue.put_nowait, channel=channel)
    await ex.open()
    me = psutil.Process()
    fds, threads = me.num_fds(), me.num_threads()
    script = root / "trivial.py"
    start = time.perf_counter()
    started = done = 0
    while done < n:
        while started < n and started - done < concurrency:
            await ex.start(_spec(exp_dir, f"t{started}", script, {"x": started}))
            started += 1
        ev = await queue.get()
        if isinstance(ev, TrialExited):
            assert ev.exit_code == 0, ev
            done += 1
    rate = n / (time.perf_counter() - start)
    leak = f"fds {fds}->{me.num_fds()}, threads {threads}->{me.num_threads()}"
    await ex.close(grace=1)
    return rate, leak


def _bare_throughput(root: Path, n: int, concurrency: int) -> float:
    """The same trials spawned by a bare loop with the same parallelism."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    exp_dir = root / "throughput-bare"
    specs = [_spec(exp_dir, f"t{i}", root / "trivial.py", {"x": i}) for i in range(n)]

    def one(spec: LaunchSpec) -> None:
        env = {
            **os.environ,
            "HYPERLOOM_TRIAL_DIR": str(spec.trial_dir),
            "HYPERLOOM_TRIAL_ID": spec.trial_id,
            "HYPERLOOM_EXPERIMENT_ID": "bench",
        }
        subprocess.run([sys.executable, str(root / "trivial.py")], env=env, check=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, specs))
    return n / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=300, help="reports per trial")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between reports")
    parser.add_argument("--trivial", type=int, default=30, help="trivial trials per transport")
    parser.add_argument(
        "--throughput", type=int, default=0, help="also: N trivial trials at concurrency 2"
    )
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="hl-bench-") as tmp:
        root = Path(tmp)
        (root / "reporter.py").write_text(textwrap.dedent(REPORTER))
        (root / "trivial.py").write_text(textwrap.dedent(TRIVIAL))
        cases = [("file", 0.03), ("file", 0.01), ("tcp", 0.03), ("unix", 0.03)]
        print(
            f"report -> store + assess() latency, 2 concurrent trials x {args.reports} reports "
            f"every {args.interval * 1000:g} ms:"
        )
        for channel, poll in cases:
            lat, store_kind = await _latency(root, channel, poll, args.reports, args.interval)
            print(
                f"  {channel:<4} (file poll {poll * 1000:>2.0f} ms): n={len(lat):4d}  "
                f"p50 {_pct(lat, 0.5) * 1000:6.2f} ms  p99 {_pct(lat, 0.99) * 1000:6.2f} ms  "
                f"max {max(lat) * 1000:6.2f} ms   [{store_kind}]"
            )
        print(f"per-trial cost, {args.trivial} trivial trials one after another (start -> exit):")
        for channel in ("bare", "file", "tcp", "unix"):
            if channel == "bare":
                times = _bare(root, args.trivial)
            else:
                times = await _per_trial(root, channel, args.trivial)
            print(
                f"  {channel:<4}: median {statistics.median(times) * 1000:6.1f} ms  "
                f"p90 {_pct(times, 0.9) * 1000:6.1f} ms"
            )
        if args.throughput:
            n = args.throughput
            print(f"throughput, {n} trivial trials at concurrency 2:")
            bare = _bare_throughput(root, n, 2)
            print(f"  bare : {bare:6.2f} trials/s")
            for channel in ("file", "tcp"):
                rate, leak = await _throughput(root, channel, n, 2)
                print(f"  {channel:<5}: {rate:6.2f} trials/s ({rate / bare:.2f} of bare; {leak})")


if __name__ == "__main__":
    asyncio.run(main())
