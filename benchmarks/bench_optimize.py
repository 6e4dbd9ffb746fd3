"""Throughput of hyperloom.optimize on a trivial function, side by side with Optuna.

Every configuration optimizes the same function, f(x, y) = (x - 2)^2 + (y + 1)^2 over [-10, 10]^2,
for N trials, and is timed from the call to its return (imports and one warm-up run are done
before timing). Repeats are interleaved (A B C ... A B C ...) so that a machine whose load
changes treats every configuration alike; the table shows the median trials/s.

    nice -n 10 python benchmarks/bench_optimize.py [--repeats 5] [--trials 300]

Configurations:

* ``python loop``: the function called N times on random points (the ceiling: no bookkeeping).
* ``optuna <sampler> memory``: ``optuna.create_study(sampler=...).optimize(objective, n_trials=N)``
  with in-memory storage (nothing survives the process).
* ``optuna random sqlite``: the same with ``storage="sqlite:///..."`` (durable, like hyperloom).
* ``hyperloom <tuner> inprocess cK``: ``hyperloom.optimize(fn, ..., tuner=..., concurrency=K)``;
  every trial is recorded in the experiment's SQLite store with its directory and can be
  resumed, listed by the CLI and shown by the dashboard.
* ``hyperloom random subprocess``: ``isolation="subprocess"`` (a Python process per trial;
  fewer trials: N // 10).

Results go to ``bench_optimize.json`` next to this script.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
SPACE = {
    "x": {"_type": "uniform", "_value": [-10, 10]},
    "y": {"_type": "uniform", "_value": [-10, 10]},
}


def objective(params: dict[str, Any]) -> float:
    """The trivial function (importable: the subprocess configuration imports it)."""
    return (params["x"] - 2.0) ** 2 + (params["y"] + 1.0) ** 2


def run_loop(n: int, seed: int) -> float:
    rng = random.Random(seed)
    best = float("inf")
    for _ in range(n):
        best = min(best, objective({"x": rng.uniform(-10, 10), "y": rng.uniform(-10, 10)}))
    return best


def run_optuna(sampler: str, storage: str | None, n: int, seed: int, tmp: Path) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = (
        optuna.samplers.RandomSampler(seed=seed)
        if sampler == "random"
        else optuna.samplers.TPESampler(seed=seed)
    )
    url = None
    if storage == "sqlite":
        url = f"sqlite:///{tmp / f'optuna-{time.monotonic_ns()}.db'}"
    study = optuna.create_study(sampler=s, storage=url, direction="minimize")

    def f(trial: Any) -> float:
        return objective(
            {"x": trial.suggest_float("x", -10, 10), "y": trial.suggest_float("y", -10, 10)}
        )

    study.optimize(f, n_trials=n)
    return float(study.best_value)


def run_hyperloom(tuner: str, isolation: str, concurrency: int, n: int, seed: int) -> float:
    from hyperloom.optimize import optimize

    r = optimize(
        objective, SPACE, n_trials=n, mode="minimize", tuner=tuner, seed=seed,
        concurrency=concurrency, isolation=isolation, quiet=True,
    )  # fmt: skip
    assert r.status == "DONE" and len(r.trials("SUCCEEDED")) == n, (r.status, r.counts())
    best = r.best_value
    r.close()
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--no-subprocess", action="store_true")
    args = ap.parse_args()
    n = args.trials
    tmp = Path(tempfile.mkdtemp(prefix="bench-optimize-"))
    os.environ["HYPERLOOM_HOME"] = str(tmp / "home")
    sys.path.insert(0, str(HERE))  # the subprocess trials import this module's objective

    configs: dict[str, tuple[int, Callable[[int], float]]] = {
        "python loop": (n, lambda s: run_loop(n, s)),
        "optuna random memory": (n, lambda s: run_optuna("random", None, n, s, tmp)),
        "optuna tpe memory": (n, lambda s: run_optuna("tpe", None, n, s, tmp)),
        "optuna random sqlite": (n, lambda s: run_optuna("random", "sqlite", n, s, tmp)),
        "hyperloom random inprocess c1": (n, lambda s: run_hyperloom("random", "inprocess", 1, n, s)),
        "hyperloom tpe inprocess c1": (n, lambda s: run_hyperloom("tpe", "inprocess", 1, n, s)),
        "hyperloom random inprocess c4": (n, lambda s: run_hyperloom("random", "inprocess", 4, n, s)),
    }  # fmt: skip
    if not args.no_subprocess:
        m = max(4, n // 10)
        configs["hyperloom random subprocess c2"] = (
            m, lambda s: run_hyperloom("random", "subprocess", 2, m, s)
        )  # fmt: skip
    for name, (_, fn) in configs.items():  # warm-up: imports, plugin discovery, page cache
        if "subprocess" not in name:
            fn(0)
    rates: dict[str, list[float]] = {k: [] for k in configs}
    bests: dict[str, list[float]] = {k: [] for k in configs}
    for rep in range(args.repeats):
        for name, (count, fn) in configs.items():
            t0 = time.perf_counter()
            best = fn(rep + 1)
            dt = time.perf_counter() - t0
            rates[name].append(count / dt)
            bests[name].append(best)
            print(f"  repeat {rep + 1} {name:34s} {count / dt:9.1f} trials/s", flush=True)
    rows = []
    print(f"\n{'configuration':34s} {'trials':>6s} {'median trials/s':>16s} {'min':>8s} "
          f"{'max':>8s} {'median best':>12s}")  # fmt: skip
    for name, (count, _) in configs.items():
        med = statistics.median(rates[name])
        row = {
            "configuration": name,
            "trials": count,
            "repeats": args.repeats,
            "median_trials_per_s": med,
            "min_trials_per_s": min(rates[name]),
            "max_trials_per_s": max(rates[name]),
            "median_best": statistics.median(bests[name]),
            "rates": rates[name],
        }
        rows.append(row)
        print(f"{name:34s} {count:6d} {med:16.1f} {min(rates[name]):8.1f} "
              f"{max(rates[name]):8.1f} {row['median_best']:12.4f}")  # fmt: skip
    load = os.getloadavg()
    out = {
        "function": "(x-2)^2 + (y+1)^2 on [-10,10]^2, minimize",
        "cpus": os.cpu_count(),
        "loadavg_at_end": load,
        "python": sys.version.split()[0],
        "results": rows,
    }
    (HERE / "bench_optimize.json").write_text(json.dumps(out, indent=2))
    print(f"\nload average at the end: {load[0]:.1f} on {os.cpu_count()} CPUs; "
          f"written {HERE / 'bench_optimize.json'}")  # fmt: skip


if __name__ == "__main__":
    main()
