"""gp, auto, tpe and random vs Optuna's GPSampler and TPESampler: median simple regret at 25, 50
and 100 trials over seeds, on Branin, Hartmann6, Rosenbrock-4 (continuous), cat_mixed (4
categoricals x 6 options + 2 floats) and digits_svc (a real SVC-on-digits table: kernel choice +
two quantized log-scale floats).

    nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --seeds 10            # run + table
    nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --methods optuna_gp    # one method
    python benchmarks/tuners/gp_vs_baselines.py --table                           # table only

Every finished run is appended to ``gp_vs_baselines.jsonl`` next to this script (problem,
method, seed, regret at each checkpoint, seconds), so long runs can be split across processes
and resumed; runs already in the file are skipped. The table (and ``gp_vs_baselines.json``)
is built from whatever the file holds, with the number of seeds per cell. ``optuna_gp`` needs
torch. ``auto`` is run like any other method (it delegates to gp or tpe by its rule).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _drivers import OptunaTPE, optuna_suggest, run_once  # noqa: E402
from problems import Problem, problems, table_problems  # noqa: E402

CACHE = HERE / "gp_vs_baselines.jsonl"
SUMMARY = HERE / "gp_vs_baselines.json"
CHECKPOINTS = (25, 50, 100)
METHODS = ("gp", "auto", "tpe", "random", "optuna_gp", "optuna_tpe")
#: continuous (the GPSampler target), mixed, integer, conditional, categorical, tables
PROBLEMS = (
    "branin",
    "hartmann6",
    "rosenbrock4",
    "log_valley",
    "cat_mixed",
    "digits_svc",
    "int_quadratic",
    "conditional",
    "nas_chain",
    "nb201_cifar10",
    "hpolib_naval",
    "hpolib_parkinsons",
)
#: not used for choosing auto's rule: checked after it was fixed
HELD_OUT = (
    "nb201_cifar100",
    "hpolib_protein",
    "hpolib_slice",
    "hpobench_australian",
    "hpobench_credit_g",
)


def _rosenbrock4(p: dict[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(4)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


def _problems() -> dict[str, Problem]:
    out = {p.name: p for p in problems() + table_problems()}
    out["rosenbrock4"] = Problem(
        "rosenbrock4",
        "4-D continuous, curved valley",
        {f"x{i}": {"_type": "uniform", "_value": [-2.0, 2.0]} for i in range(4)},
        _rosenbrock4,
        0.0,
    )
    return out


def _optuna_gp(spec: dict[str, Any], objective: Any, seed: int, budget: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    best, curve = math.inf, []
    for _ in range(budget):
        t = study.ask()
        v = objective(optuna_suggest(t, spec))
        study.tell(t, v)
        best = min(best, v)
        curve.append(best)
    return curve


def _optuna_tpe(spec: dict[str, Any], objective: Any, seed: int, budget: int) -> list[float]:
    from hyperloom.types import TrialResult, TrialStatus

    tuner = OptunaTPE(spec, seed)
    best, curve = math.inf, []
    for i in range(budget):
        p = tuner.suggest(str(i))
        v = objective(p)
        tuner.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, v, (), i))
        best = min(best, v)
        curve.append(best)
    return curve


def run(method: str, prob: Problem, seed: int, budget: int) -> dict[str, Any]:
    """One run: regret at each checkpoint and the wall time."""
    t0 = time.perf_counter()
    if method == "optuna_gp":
        curve = _optuna_gp(prob.space, prob.objective, seed, budget)
    elif method == "optuna_tpe":
        curve = _optuna_tpe(prob.space, prob.objective, seed, budget)
    else:
        name = (
            "hyperloom.tuners.auto:AutoTuner" + method[4:] if method.startswith("auto") else method
        )
        curve = run_once(name, prob.space, prob.objective, seed, budget)
    secs = time.perf_counter() - t0
    reg = {str(c): max(curve[c - 1] - prob.optimum, 0.0) for c in CHECKPOINTS if c <= budget}
    rec = {"problem": prob.name, "method": method, "seed": seed, "regret": reg, "seconds": secs}
    if method.startswith(("tpe", "auto")):
        rec["tpe_version"] = 2  # session 5: n_candidates by dimension (older runs: tpe_v1)
    if method.startswith("auto"):
        rec["auto_version"] = 7  # session 6: tpe local search (1- then 2-option changes)
    return rec


def _load() -> list[dict[str, Any]]:
    """The cached runs, one per (problem, method, seed): a later run of the same triple (a rerun
    for a checkpoint an old run lacks) replaces the earlier one."""
    if not CACHE.exists():
        return []
    rows = [json.loads(line) for line in CACHE.read_text().splitlines() if line.strip()]
    last = {(r["problem"], r["method"], r["seed"]): r for r in rows}
    return list(last.values())


def table(methods: tuple[str, ...], probs: tuple[str, ...]) -> dict[str, Any]:
    """Median regret per problem, method and checkpoint (and seeds, median s/run) from the cache."""
    rows = _load()
    # auto delegates deterministically (same seed, same suggestions as the method it picks;
    # checked on every problem): seeds not run as "auto" are taken from that method's runs
    from hyperloom.space import SearchSpace
    from hyperloom.tuners.auto import choose

    allp = _problems()
    alias = {pn: choose(SearchSpace.from_nni(allp[pn].space))[0] for pn in probs}
    ran = {(r["problem"], r["seed"]) for r in rows if r["method"] == "auto"}
    rows = rows + [
        {**r, "method": "auto", "alias": alias[r["problem"]]}
        for r in rows
        if r["problem"] in alias
        and r["method"] == alias[r["problem"]]
        and (r["problem"], r["seed"]) not in ran
    ]
    print("auto picks: " + ", ".join(f"{pn} -> {m}" for pn, m in alias.items()))
    out: dict[str, Any] = {}
    for c in CHECKPOINTS:
        print(f"\nmedian regret at {c} trials (seeds in brackets)")
        print(f"{'problem':<12}" + "".join(f"{m:>20}" for m in methods))
        for pn in probs:
            cells = []
            for m in methods:
                rs = [r for r in rows if r["problem"] == pn and r["method"] == m]
                vals = [r["regret"][str(c)] for r in rs if str(c) in r["regret"]]
                if not vals:
                    cells.append("-")
                    continue
                med = float(np.median(vals))
                secs = float(np.median([r["seconds"] for r in rs]))
                out.setdefault(pn, {}).setdefault(m, {})[str(c)] = med
                out[pn][m]["seeds"] = len(vals)
                out[pn][m][f"seeds@{c}"] = len(vals)
                out[pn][m]["seconds_per_run"] = secs
                cells.append(f"{med:.3g} ({len(vals)})")
            print(f"{pn:<12}" + "".join(f"{x:>20}" for x in cells))
    print("\nmedian seconds per 100-trial run")
    print(f"{'problem':<12}" + "".join(f"{m:>20}" for m in methods))
    for pn in probs:
        cells = [
            f"{out[pn][m]['seconds_per_run']:.1f}" if m in out.get(pn, {}) else "-" for m in methods
        ]
        print(f"{pn:<12}" + "".join(f"{x:>20}" for x in cells))
    _targets(out, probs)
    _markdown(out, methods, probs)
    SUMMARY.write_text(json.dumps(out, indent=1, sort_keys=True))
    return out


def _cell(out: dict[str, Any], pn: str, m: str, c: int) -> float | None:
    v = out.get(pn, {}).get(m, {}).get(str(c))
    return None if v is None else float(v)


def _targets(out: dict[str, Any], probs: tuple[str, ...]) -> None:
    """Issue 17's targets: gp <= GPSampler (continuous), auto <= 1.5 x min(gp, tpe) (all)."""
    print("\ntargets (median regret; '-' where a method has no runs)")
    for pn in probs:
        parts = []
        for c in CHECKPOINTS:
            gp, ogp = _cell(out, pn, "gp", c), _cell(out, pn, "optuna_gp", c)
            auto, tpe = _cell(out, pn, "auto", c), _cell(out, pn, "tpe", c)
            s = f"@{c}:"
            if gp is not None and ogp is not None:
                s += f" gp<=GPSampler {'yes' if gp <= ogp else 'NO'}"
            ref = [v for v in (gp, tpe) if v is not None]
            if auto is not None and ref:
                ok = auto <= 1.5 * min(ref) or auto == min(ref)
                s += f" auto<=1.5xbest {'yes' if ok else 'NO'}" + (
                    "" if gp is not None else "(no gp)"
                )
            parts.append(s)
        print(f"{pn:<20}" + "  ".join(parts))


def _markdown(out: dict[str, Any], methods: tuple[str, ...], probs: tuple[str, ...]) -> None:
    """The same figures as markdown tables (for docs/notes/gp.md)."""
    for c in CHECKPOINTS:
        print(f"\n**Median regret at {c} trials** (seeds in brackets; * = held out)\n")
        print("| problem | " + " | ".join(methods) + " |")
        print("|---" * (len(methods) + 1) + "|")
        for pn in probs:
            cells = []
            for m in methods:
                d = out.get(pn, {}).get(m, {})
                v = d.get(str(c))
                cells.append("-" if v is None else f"{v:.3g} ({d[f'seeds@{c}']})")
            star = "*" if pn in HELD_OUT else ""
            print(f"| {pn}{star} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--table", action="store_true", help="only print the table from the cache")
    args = ap.parse_args()
    methods = tuple(args.methods.split(","))
    probs = tuple(args.problems.split(","))
    if not args.table:
        allp = _problems()
        want = {str(c) for c in CHECKPOINTS if c <= args.budget}
        done = {
            (r["problem"], r["method"], r["seed"])
            for r in _load()
            if want <= set(r["regret"])  # a run without one of the checkpoints is run again
        }
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for pn in probs:
                for m in methods:
                    if (pn, m, seed) in done:
                        continue
                    rec = run(m, allp[pn], seed, args.budget)
                    with CACHE.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    print(
                        f"{pn} {m} seed={seed} regret@{args.budget}="
                        f"{rec['regret'].get(str(args.budget), float('nan')):.4g} "
                        f"({rec['seconds']:.1f}s)",
                        flush=True,
                    )
    # gp_v1: gp runs with the noise floor of 1e-6 (before session 4), kept for comparison;
    # tpe_v1: tpe with 64 candidates on every space (before session 5)
    table((*METHODS, "gp_v1", "tpe_v1"), tuple(PROBLEMS) + HELD_OUT if args.table else probs)


if __name__ == "__main__":
    main()
