"""Decision latency of the schedulers at 1,000 trials: the time of one ``assess`` call.

Each scheduler is first given ``--trials`` ended trials through ``observe()`` (synthetic
27-epoch curves whose quality depends on the parameters, each stopped where the scheduler's own
rungs would stop it), which fills every rung and every per-level model, then judges 200 new trials
report by report, as the manager calls it; the table gives the median and the 99th percentile of
one call (target: at most 5 ms) in wall time and in the calling thread's CPU time (on a shared,
loaded machine the wall-time tail is the scheduler's preemptions, not the call's work), and the
median ``suggest`` time for reference (model fits happen there, not in the decision). The
``asha`` assessor is measured the same way.

Usage::

    .venv/bin/python benchmarks/multifidelity/latency.py --trials 1000
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

EPOCHS = 27
OUT = Path(__file__).with_name("latency_results.json")
SPACE = {
    "lr": {"_type": "loguniform", "_value": [1e-4, 1.0]},
    "width": {"_type": "choice", "_value": [16, 32, 64, 128]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.5]},
    "layers": {"_type": "randint", "_value": [1, 4]},
}


def curve(p: dict[str, Any], rng: np.random.Generator) -> list[float]:
    q = 0.9 - 0.1 * abs(math.log10(p["lr"]) + 2) - 0.3 * p["dropout"] + 0.02 * p["layers"]
    rate = 2.0 + 6.0 * rng.random()
    return [
        q * (1 - math.exp(-(t + 1) / rate)) + 0.01 * rng.standard_normal() for t in range(EPOCHS)
    ]


def make(name: str, space: Any) -> Any:
    if name == "hyperband":
        from hyperloom.tuners.hyperband import HyperbandScheduler

        return HyperbandScheduler(space, seed=0, max_resource=EPOCHS)
    if name == "hyperband (promotion)":
        from hyperloom.tuners.hyperband import HyperbandScheduler

        return HyperbandScheduler(space, seed=0, max_resource=EPOCHS, type="promotion")
    if name == "bohb":
        from hyperloom.tuners.bohb import BOHBScheduler

        return BOHBScheduler(space, seed=0, max_resource=EPOCHS)
    if name == "asha_gp":
        from hyperloom.tuners.asha_gp import ASHAGPScheduler

        return ASHAGPScheduler(space, seed=0, max_resource=EPOCHS)
    from hyperloom.assessors.asha import ASHAAssessor

    return ASHAAssessor(max_resource=EPOCHS)


def measure(name: str, n_trials: int) -> dict[str, Any]:
    from hyperloom.space import SearchSpace
    from hyperloom.types import Report, TrialResult, TrialStatus, Verdict

    space = SearchSpace.from_nni(SPACE)
    s = make(name, space)
    is_sched = hasattr(s, "suggest")
    rng = np.random.default_rng(0)
    t_fill = time.perf_counter()
    for i in range(n_trials):
        tid = f"old{i:05d}"
        p = space.sample(rng)
        c = curve(p, rng)
        n = EPOCHS
        # where this scheduler's rungs stop it (judged without timing)
        for k in range(1, EPOCHS):
            d = s.assess(tid, c[:k], list(range(k))) if is_sched else s.assess(tid, c[:k])
            if getattr(d, "verdict", d) is not Verdict.CONTINUE:
                n = k
                break
        status = TrialStatus.SUCCEEDED if n == EPOCHS else TrialStatus.EARLY_STOPPED
        reps = tuple(Report(j, v) for j, v in enumerate(c[:n]))
        s.observe(TrialResult(tid, p, status, c[n - 1], tuple(c[:n]), reports=reps))
    t_fill = time.perf_counter() - t_fill
    assess: list[float] = []
    cpu: list[float] = []
    suggest: list[float] = []
    for i in range(200):
        tid = f"new{i:05d}"
        if is_sched:
            t0 = time.perf_counter()
            got = s.suggest(tid)
            suggest.append(time.perf_counter() - t0)
            p = got if isinstance(got, dict) else space.sample(rng)
        else:
            p = space.sample(rng)
        c = curve(p, rng)
        for k in range(1, EPOCHS):
            t0, c0 = time.perf_counter(), time.thread_time()
            d = s.assess(tid, c[:k], list(range(k))) if is_sched else s.assess(tid, c[:k])
            cpu.append(time.thread_time() - c0)
            assess.append(time.perf_counter() - t0)
            if getattr(d, "verdict", d) is not Verdict.CONTINUE:
                break
    a = np.array(assess) * 1e3
    cp = np.array(cpu) * 1e3
    return {
        "scheduler": name,
        "trials": n_trials,
        "assess_median_ms": float(np.median(a)),
        "assess_p99_ms": float(np.percentile(a, 99)),
        "assess_max_ms": float(a.max()),
        "cpu_median_ms": float(np.median(cp)),
        "cpu_p99_ms": float(np.percentile(cp, 99)),
        "cpu_max_ms": float(cp.max()),
        "suggest_median_ms": 1e3 * statistics.median(suggest) if suggest else None,
        "reports": len(assess),
        "fill_s": t_fill,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    names = ["hyperband", "hyperband (promotion)", "bohb", "asha_gp", "asha (assessor)"]
    rows = [measure(n, args.trials) for n in names]
    print(f"decision latency after {args.trials} ended trials (200 new trials judged)\n")
    head = (
        f"{'scheduler':24s} {'assess median':>14s} {'p99':>9s} {'max':>9s} {'suggest median':>15s}"
    )
    print(head + "\n" + "-" * len(head))
    for r in rows:
        sug = "-" if r["suggest_median_ms"] is None else f"{r['suggest_median_ms']:.1f} ms"
        print(
            f"{r['scheduler']:24s} {r['assess_median_ms']:9.3f} ms {r['assess_p99_ms']:6.3f} ms "
            f"{r['assess_max_ms']:6.2f} ms | {r['cpu_median_ms']:8.3f} ms {r['cpu_p99_ms']:6.3f} ms "
            f"{r['cpu_max_ms']:6.2f} ms | {sug:>15s}"
        )
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
