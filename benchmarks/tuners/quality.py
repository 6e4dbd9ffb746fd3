"""Tuner quality: median regret at 25/50/100 trials over many seeds, side by side with Optuna's
multivariate TPE and random search.

    .venv/bin/python benchmarks/tuners/quality.py --seeds 20 --budget 100 --jobs 2

Regret is best-so-far objective minus the problem's optimum (lower is better). Runs are spread
over ``--jobs`` processes; progress is printed as runs finish. Results go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drivers import run_once
from problems import problems

CHECKPOINTS = (25, 50, 100)


def _work(task: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], float]:
    prob_name, tuner, seed, budget = task
    prob = next(p for p in problems() if p.name == prob_name)
    t0 = time.perf_counter()
    curve = run_once(tuner, prob.space, prob.objective, seed, budget)
    regret = [max(c - prob.optimum, 0.0) for c in curve]
    return prob_name, tuner, seed, regret, time.perf_counter() - t0


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds are first-seed .. first-seed + seeds - 1 (use another range, e.g. 100, to "
        "check a tuned constant on seeds other than the reported ones)",
    )
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    ap.add_argument("--tuners", default="tpe,optuna,random,evolution,anneal,rl")
    ap.add_argument("--problems", default="all", help="comma-separated problem names, or all")
    ap.add_argument("--out", default="benchmarks/tuners/quality_results.json")
    ap.add_argument(
        "--update",
        action="store_true",
        help="keep the other tuners' runs already in --out and replace only the tuners run now",
    )
    args = ap.parse_args()

    probs = [p for p in problems() if args.problems == "all" or p.name in args.problems.split(",")]
    tuners = args.tuners.split(",")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tasks = [(p.name, t, s, args.budget) for p in probs for t in tuners for s in seeds]
    # slow tuners first so that the pool's tail is short
    tasks.sort(key=lambda t: (t[1] != "rl", t[1] != "optuna"))
    results: dict[str, dict[str, list[list[float]]]] = {
        p.name: {t: [] for t in tuners} for p in probs
    }
    seconds: dict[str, float] = dict.fromkeys(tuners, 0.0)
    start = time.perf_counter()
    ctx = get_context("spawn")
    with ctx.Pool(args.jobs) as pool:
        for i, (pn, tn, _seed, regret, secs) in enumerate(pool.imap_unordered(_work, tasks), 1):
            results[pn][tn].append(regret)
            seconds[tn] += secs
            if i % 20 == 0 or i == len(tasks):
                print(f"[{i}/{len(tasks)}] {time.perf_counter() - start:.0f}s", flush=True)

    print(
        f"\nmedian regret over seeds {seeds.start}..{seeds.stop - 1} (budget {args.budget}); lower is better\n"
    )
    cps = [c for c in CHECKPOINTS if c <= args.budget]
    header = f"{'problem':14s} {'tuner':10s} " + " ".join(f"{'@' + str(c):>10s}" for c in cps)
    print(header)
    summary: dict[str, Any] = {}
    for p in probs:
        summary[p.name] = {}
        for t in tuners:
            runs = results[p.name][t]
            meds = [_median([r[c - 1] for r in runs]) for c in cps]
            summary[p.name][t] = dict(zip(map(str, cps), meds, strict=True))
            print(f"{p.name:14s} {t:10s} " + " ".join(f"{m:10.4g}" for m in meds))
        print()
    print("seconds per tuner (all runs):", {k: round(v, 1) for k, v in seconds.items()})
    if args.update and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        for pn, by_tuner in results.items():
            old["runs"].setdefault(pn, {}).update(by_tuner)
            old["median_regret"].setdefault(pn, {}).update(summary[pn])
        old.setdefault("updates", []).append(vars(args))
        results, summary = old["runs"], old["median_regret"]
        meta = {k: v for k, v in old.items() if k not in ("runs", "median_regret")}
    else:
        meta = {"args": vars(args)}
    Path(args.out).write_text(
        json.dumps({**meta, "median_regret": summary, "runs": results}, indent=1)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
