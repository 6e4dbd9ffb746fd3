"""Re-derives assessor defaults: a grid of classArgs replayed on every curve dataset.

For each candidate rule, ``replay.py``'s replay (4 at a time, random orders) runs on every
dataset of ``benchmarks/data``; the table gives, averaged over the datasets, the fraction of
epochs used, the share of orders that kept the best run, and the mean top-5 kept, next to NNI's
median-stop rule (hyperloom's ``median_stop`` with NNI's rule and defaults, which replays exactly
as NNI 3.0's own ``Medianstop``: ``replay.py --rule nni:Medianstop`` checks it) computed the same
way on each dataset. A rule is "admissible" ("*") when it keeps the best in every order of every
dataset and at least 4.5 of the top 5 on average; "ok" marks those that also use at most NNI's
average fraction.

``--lodo`` adds the leave-one-dataset-out check: for each dataset, the cheapest admissible rule
on the *other* datasets, and what it does on the one left out (so a default is not tuned to the
data it is judged on).

Usage::

    .venv/bin/python benchmarks/assessors/sweep_defaults.py --orders 10 --grid median_stop --lodo
    .venv/bin/python benchmarks/assessors/sweep_defaults.py --rule 'median_stop:{"percentile": 60}'
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import DATASETS, run_one

NNI = (
    'median_stop:{"start_step": 1, "n_startup_trials": 1, "reference": "completed", '
    '"percentile": 50, "percentile_growth": 0}'
)

GRIDS: dict[str, dict[str, list[Any]]] = {
    "median_stop": {
        "percentile": [10, 20, 30, 40],
        "percentile_growth": [0.4, 0.5, 0.6, 0.7],
    },
    "curve_fitting": {
        "top_k": [5, 10],
        "optimism": [1.0, 2.0],
    },
}


def grid_rules(name: str) -> list[str]:
    keys = list(GRIDS[name])
    return [
        f"{name}:{json.dumps(dict(zip(keys, combo, strict=True)))}"
        for combo in itertools.product(*(GRIDS[name][k] for k in keys))
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grid", choices=sorted(GRIDS), action="append")
    parser.add_argument("--rule", action="append", help="<assessor>[:json classArgs]")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--lodo", action="store_true", help="leave-one-dataset-out check")
    parser.add_argument("--data", type=Path, action="append", help="datasets (default: all)")
    args = parser.parse_args(argv)
    rules = [NNI, *(args.rule or [])]
    for g in args.grid or []:
        rules += grid_rules(g)
    datasets = args.data or [d for d in DATASETS if d.exists()]
    jobs = [
        (r, r, s, "accuracy", str(d)) for d in datasets for r in rules for s in range(args.orders)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, jobs, chunksize=4))
    for job, row in zip(jobs, rows, strict=True):
        row["data"] = Path(job[4]).name
    summary = []
    for r in rules:
        per = []
        for d in datasets:
            mine = [x for x in rows if x["rule"] == r and x["data"] == d.name]
            per.append(
                (
                    statistics.mean(x["epochs"] for x in mine),
                    statistics.mean(x["best"] for x in mine),
                    statistics.mean(x["top5"] for x in mine),
                )
            )
        summary.append((r, per))
    nni_epochs = statistics.mean(p[0] for p in summary[0][1])
    names = " ".join(f"{d.stem[:14]:>20s}" for d in datasets)
    print(f"NNI median-stop average epochs: {nni_epochs:.1%}\n")
    print(f"{'rule':72s} {'mean epochs':>11s} {'best':>5s} {'top5':>5s} ok | {names}")
    for r, per in sorted(summary, key=lambda x: statistics.mean(p[0] for p in x[1])):
        ep = statistics.mean(p[0] for p in per)
        best = min(p[1] for p in per)
        top5 = statistics.mean(p[2] for p in per)
        ok = ("*" if best == 1.0 and top5 >= 4.5 else " ") + ("ok" if ep <= nni_epochs else "  ")
        cells = " ".join(f"{p[0]:6.1%} {p[1]:4.0%} {p[2]:4.1f}  " for p in per)
        print(f"{r:72s} {ep:11.1%} {best:5.0%} {top5:5.2f} {ok} | {cells}")
    if args.lodo:
        print("\nleave one dataset out: the cheapest admissible rule on the others, on the one out")
        for k, d in enumerate(datasets):
            pick = lodo_pick(summary, k)
            if pick is None:
                print(f"  {d.name}: no rule is admissible on the other datasets")
                continue
            r, per = pick
            e, b, t = per[k]
            print(f"  {d.name}: {r} -> {e:.1%} epochs, best kept {b:.0%}, top-5 {t:.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows))


def lodo_pick(
    summary: list[tuple[str, list[tuple[float, float, float]]]], left_out: int
) -> tuple[str, list[tuple[float, float, float]]] | None:
    """The cheapest rule that is admissible (best kept in every order, >= 4.5 of the top 5 on
    average) on every dataset but ``left_out``, with its per-dataset figures."""
    best: tuple[float, str, list[tuple[float, float, float]]] | None = None
    for r, per in summary:
        others = [p for i, p in enumerate(per) if i != left_out]
        if min(p[1] for p in others) < 1.0 or statistics.mean(p[2] for p in others) < 4.5:
            continue
        ep = statistics.mean(p[0] for p in others)
        if best is None or ep < best[0]:
            best = (ep, r, per)
    return None if best is None else (best[1], best[2])


if __name__ == "__main__":
    main()
