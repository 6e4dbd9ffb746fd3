"""Time per ``assess()`` of each built-in assessor on 50-point curves.

The curve-fitting assessor is judged against 20 completed 60-step curves (so ``epoch_num`` is 60
and nothing short-circuits), on 50-point histories of several shapes with noise; every call does
the whole fit. Reports the median and p95 of wall time and of the thread's CPU time (on a shared
machine the wall time includes waiting for a core; the CPU time is the work itself).

Usage::

    .venv/bin/python benchmarks/assessors/latency.py --calls 500
    .venv/bin/python benchmarks/assessors/latency.py --completed 1000   # 1,000 ended trials
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from hyperloom.registry import load_assessor
from hyperloom.types import TrialResult, TrialStatus, Verdict


def _curves(n: int, length: int, rng: np.random.Generator) -> list[list[float]]:
    t = np.arange(1, length + 1, dtype=float)
    out = []
    for _ in range(n):
        q = rng.uniform(0.3, 0.98)
        kind = rng.integers(3)
        if kind == 0:
            c = q - (q - 0.1) * np.exp(-t / rng.uniform(2, 20))
        elif kind == 1:
            c = q - (q - 0.1) * t ** -rng.uniform(0.2, 1.5)
        else:
            c = 0.1 + (q - 0.1) / (1 + (rng.uniform(2, 30) / t) ** rng.uniform(0.5, 3))
        out.append(list(c + rng.normal(0, 0.01, length)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--completed", type=int, default=20, help="ended trials observed first")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    completed = _curves(args.completed, 60, rng)
    probes = _curves(args.calls, 50, rng)
    print(
        f"{'assessor':15s} {'wall p50':>9s} {'wall p95':>9s} {'cpu p50':>8s} {'cpu p95':>8s}  stops"
    )
    for name in ("median_stop", "asha", "curve_fitting"):
        kwargs = {"threshold": 1.0, "optimism": 0.0} if name == "curve_fitting" else {}
        a = load_assessor(name, **kwargs)
        for i, c in enumerate(completed):
            a.observe(TrialResult(f"c{i}", {}, TrialStatus.SUCCEEDED, c[-1], tuple(c)))
        a.assess("warm-up", probes[0])
        wall, cpu, stops = [], [], 0
        for i, h in enumerate(probes):
            w0, c0 = time.perf_counter(), time.thread_time()
            v = a.assess(f"p{i}", h)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
            stops += v is Verdict.STOP
        q = statistics.quantiles
        print(
            f"{name:15s} {1e3 * statistics.median(wall):7.2f}ms {1e3 * q(wall, n=20)[18]:7.2f}ms "
            f"{1e3 * statistics.median(cpu):6.2f}ms {1e3 * q(cpu, n=20)[18]:6.2f}ms  {stops}/{len(probes)}"
        )


if __name__ == "__main__":
    main()
