"""Store benchmark: ``trials --json`` time and resume-load memory on a large experiment.

Builds a store with N finished trials x M intermediate metrics (default 10,000 x 100) through the
Store API, then, each in a fresh subprocess:

* ``hyperloom trials <dir> --json`` wall time (stdout to a file), median of ``--repeats`` runs;
* the startup of the CLI alone (``hyperloom --help``), for scale;
* the peak RSS of a process that loads what the manager needs to resume: every trial with its
  intermediates as ``TrialResult`` objects (streamed with ``iter_trials``, and as one list with
  ``trials()``), plus the RSS of the same process before loading.

Run::

    .venv/bin/python benchmarks/bench_store.py            # 10,000 x 100, 5 repeats
    .venv/bin/python benchmarks/bench_store.py --trials 1000 --steps 10 --repeats 3   # quick

Targets (issue 2, "Manager memory"): ``trials --json`` <= 2 s; resume RSS <= 150 MB in all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hyperloom.store import Store, TrialRecord
from hyperloom.types import TrialStatus

_LOAD = """
import json, sys
def rss():
    # VmHWM: this process's peak resident set. (ru_maxrss is not used: on Linux it keeps the
    # parent's peak across fork + exec.)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
from hyperloom.store import Store
before = rss()
store = Store.open(sys.argv[1])
if sys.argv[2] == "stream":
    results = [t.to_result() for t in store.iter_trials()]
else:
    records = store.trials()
    results = [t.to_result() for t in records]
n = sum(len(r.intermediate) for r in results)
store.close()
print(json.dumps({"before_mb": before, "peak_mb": rss(), "trials": len(results), "values": n}))
"""


def _records(n: int, steps: int, seed: int = 0) -> Iterator[TrialRecord]:
    rng = random.Random(seed)
    for i in range(n):
        curve = tuple(rng.random() for _ in range(steps))
        yield TrialRecord(
            trial_id=f"{i:06x}",
            sequence=i + 1,
            status=TrialStatus.SUCCEEDED,
            params={
                "lr": 10 ** rng.uniform(-5, -1),
                "batch": rng.choice([16, 32, 64, 128]),
                "layer": {"_name": "conv", "kernel": rng.choice([3, 5, 7])},
            },
            value=curve[-1] if curve else rng.random(),
            metrics={"acc": rng.random(), "loss": rng.random()},
            intermediate=curve,
            started=1.7e9 + i,
            ended=1.7e9 + i + rng.uniform(5, 50),
            exit_code=0,
        )


def build(exp_dir: Path, n: int, steps: int) -> float:
    """Creates the store; returns the seconds it took."""
    t0 = time.perf_counter()
    exp_dir.mkdir(parents=True, exist_ok=True)
    config = {"experimentName": "bench", "maxTrialNumber": n, "tuner": {"name": "random"}}
    space = {"lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]}}
    store = Store.create(exp_dir, experiment_id="bench", name="bench", config=config, space=space)
    store.import_records(_records(n, steps))
    store.close()
    return time.perf_counter() - t0


def write_latency(tmp: Path, n: int = 3000) -> dict[str, tuple[float, float]]:
    """p50/p99 (microseconds) of add_metric and of finish_trial for a 100-metric trial."""
    exp_dir = tmp / "writes"
    exp_dir.mkdir()
    store = Store.create(exp_dir, experiment_id="w", name=None, config={}, space={})
    store.add_trial("t", store.allocate_sequence(), {})
    metric = []
    for i in range(n):
        t0 = time.perf_counter()
        store.add_metric("t", i, 0.5, {"loss": 1.0}, 1.0, 50 * i)
        metric.append(time.perf_counter() - t0)
    finish = []
    for i in range(n // 10):
        tid = f"u{i}"
        store.add_trial(tid, store.allocate_sequence(), {})
        for k in range(100):
            store.add_metric(tid, k, 0.1, None, 1.0, k)
        t0 = time.perf_counter()
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=2.0, exit_code=0)
        finish.append(time.perf_counter() - t0)
    store.close()
    return {"add_metric": _p50_p99(metric), "finish_trial (100 metrics)": _p50_p99(finish)}


def _p50_p99(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return xs[len(xs) // 2] * 1e6, xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1e6


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("hyperloom")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hyperloom.cli"]


def time_cli(args: list[str], repeats: int, out: Path) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + sys of the child), one per run."""
    walls, cpus = [], []
    for _ in range(repeats):
        with out.open("wb") as f:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([*_cli(), *args], stdout=f, check=True)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def load_rss(exp_dir: Path, how: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD, str(exp_dir), how], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None, help="reuse or keep the store here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        exp_dir = args.dir or Path(tmp) / "bench"
        if (exp_dir / "experiment.db").exists():
            print(f"reusing {exp_dir}")
        else:
            secs = build(exp_dir, args.trials, args.steps)
            print(f"built {args.trials} trials x {args.steps} metrics in {secs:.1f} s at {exp_dir}")
        size_mb = (exp_dir / "experiment.db").stat().st_size / 1e6
        out = Path(tmp) / "trials.json"
        help_t, help_cpu = time_cli(["--help"], args.repeats, out)
        json_t, json_cpu = time_cli(["trials", str(exp_dir), "--json"], args.repeats, out)
        data = json.loads(out.read_text())
        assert len(data) == args.trials and len(data[-1]["intermediate"]) == args.steps
        stream = load_rss(exp_dir, "stream")
        as_list = load_rss(exp_dir, "list")
        writes = write_latency(Path(tmp))
    print(f"store size: {size_mb:.1f} MB")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, walls, cpus in (
        ("hyperloom --help", help_t, help_cpu),
        ("hyperloom trials --json", json_t, json_cpu),
    ):
        print(
            f"{name + ':':25s} wall median {statistics.median(walls):.3f} s {_fmt(walls)}; "
            f"CPU median {statistics.median(cpus):.3f} s"
        )
    for name, r in (("iter_trials (stream)", stream), ("trials() list", as_list)):
        print(
            f"resume load, {name}: peak RSS {r['peak_mb']:.1f} MB "
            f"(before loading {r['before_mb']:.1f} MB), {r['trials']} trials, {r['values']} values"
        )
    for name, (p50, p99) in writes.items():
        print(f"write latency, {name}: p50 {p50:.0f} us, p99 {p99:.0f} us")


def _fmt(ts: list[float]) -> str:
    return "[" + ", ".join(f"{t:.3f}" for t in ts) + "]"


if __name__ == "__main__":
    main()
