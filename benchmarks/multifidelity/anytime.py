"""Anytime quality of the multi-fidelity methods on recorded learning curves, side by side.

For every dataset of ``benchmarks/data`` (see ``_problems.py``: the recorded configurations as a
search space, answered by the nearest recorded run), every method searches with 4 workers on a
virtual clock until a budget of ``--budget`` full-training equivalents is spent (``budget x
n_epochs`` epochs). Regret is the dataset's best final accuracy minus the best final accuracy of
the trials the method trained to the end, read when 10%, 25%, 50%, 75% and 100% of the budget
were spent (epochs), and at the same fractions of a virtual wall time (the budget's epochs at the
median epoch length, spread over 4 workers). Medians over ``--seeds`` seeds.

Methods: hyperloom's ``hyperband`` (stopping, every bracket), ``hyperband`` with one bracket in
promotion mode (PAUSE/resume), ``bohb`` (every bracket; and with one bracket, stopping or
promotion: ``bohb-asha``, ``bohb-asha-promotion``), ``asha_gp``, random search with the ``asha`` assessor,
and Optuna's TPE (constant liar, for the 4 workers) with ``HyperbandPruner`` and with
``SuccessiveHalvingPruner`` (min resource 1 epoch, reduction factor 3, as ours), and DEHB 0.1.2
(``dehb``; min fidelity 1 epoch, eta 3; installed for this benchmark only, see
:class:`_drive.DEHBMethod`: ``pip install --target benchmarks/multifidelity/.venv-dehb
dehb==0.1.2``; the method is skipped with a message when that folder is missing).

"Compute to match" is the fraction of Optuna-with-Hyperband's full budget a method needed for
its median regret to reach Optuna-with-Hyperband's final median regret (">1" when it never did).

Usage::

    .venv/bin/python benchmarks/multifidelity/anytime.py --seeds 20 --processes 2
    .venv/bin/python benchmarks/multifidelity/anytime.py --seeds 3 --dataset digits --method bohb

Caching: the ``--json`` file is a cache. A run (dataset, method, seed, budget) already in it is
not run again; new runs are added to it one by one as they end (so an interrupted run resumes
where it stopped), and the table is printed over every cached run of the selected datasets and
methods. ``--fresh`` drops the cached runs of the selected methods on the selected datasets
first (after a change of a method's defaults).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drive import Method, OptunaMethod, Scheduler, TunerAssessor, regret_at, replay
from _problems import Problem, available

FRACTIONS = [0.1, 0.25, 0.5, 0.75, 1.0]
WORKERS = 4
OUT = Path(__file__).with_name("anytime_results.json")


def make(name: str, problem: Problem, seed: int) -> Method:
    """One method, seeded."""
    from hyperloom.space import SearchSpace

    space = SearchSpace.from_nni(problem.nni_space())
    common = {"seed": seed, "max_resource": problem.n_epochs, "reduction_factor": 3}
    if name == "hyperband":
        from hyperloom.tuners.hyperband import HyperbandScheduler

        return Scheduler(HyperbandScheduler(space, **common))
    if name == "asha-stopping":  # random ASHA inside the scheduler: an A/A check of random+asha
        from hyperloom.tuners.hyperband import HyperbandScheduler

        return Scheduler(HyperbandScheduler(space, brackets=1, **common))
    if name == "asha-promotion":
        from hyperloom.tuners.hyperband import HyperbandScheduler

        return Scheduler(HyperbandScheduler(space, brackets=1, type="promotion", **common))
    if name == "bohb":
        from hyperloom.tuners.bohb import BOHBScheduler

        return Scheduler(BOHBScheduler(space, **common))
    if name == "bohb-hb":  # every Hyperband bracket (bohb's default before session 5)
        from hyperloom.tuners.bohb import BOHBScheduler

        return Scheduler(BOHBScheduler(space, brackets=None, **common))
    if name in ("bohb-asha", "bohb-asha-promotion"):
        from hyperloom.tuners.bohb import BOHBScheduler

        kind = "promotion" if name.endswith("promotion") else "stopping"
        return Scheduler(BOHBScheduler(space, brackets=1, type=kind, **common))
    if name == "asha_gp":
        from hyperloom.tuners.asha_gp import ASHAGPScheduler

        return Scheduler(ASHAGPScheduler(space, **common))
    if name == "random+asha":
        from hyperloom.assessors.asha import ASHAAssessor
        from hyperloom.tuners.random import RandomTuner

        return TunerAssessor(
            RandomTuner(space, seed=seed), ASHAAssessor(max_resource=problem.n_epochs)
        )
    if name == "dehb":
        import tempfile

        from _drive import DEHBMethod

        return DEHBMethod(problem, seed, tempfile.mkdtemp(prefix="dehb-"))
    if name.startswith("optuna-tpe+"):
        import optuna

        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        if name.endswith("hyperband"):
            pruner: Any = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=problem.n_epochs, reduction_factor=3
            )
        else:
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        return OptunaMethod(problem, sampler, pruner)
    raise SystemExit(f"unknown method {name!r}")


METHODS = [
    "hyperband",
    "asha-stopping",
    "asha-promotion",
    "bohb",
    "bohb-hb",
    "bohb-asha",
    "bohb-asha-promotion",
    "asha_gp",
    "random+asha",
    "optuna-tpe+hyperband",
    "optuna-tpe+sha",
    "dehb",
]


def run_one(job: tuple[str, str, int, float]) -> dict[str, Any]:
    data, method, seed, budget = job
    problem = Problem(data)
    epochs = int(budget * problem.n_epochs)
    m = make(method, problem, seed)
    trace = replay(problem, m, epochs, WORKERS)
    mean_epoch = float(statistics.median(problem.seconds.ravel()))
    horizon = epochs * mean_epoch / WORKERS
    assess = getattr(m, "assess_s", [])
    return {
        "data": data,
        "method": method,
        "seed": seed,
        "budget": budget,
        "regret_epochs": regret_at(problem, trace, [f * epochs for f in FRACTIONS]),
        "regret_time": regret_at(problem, trace, [f * horizon for f in FRACTIONS], by="seconds"),
        "trials": trace.n_trials,
        "model_picks": getattr(m, "model_picks", None),
        "resumed": trace.n_resumed,
        "wall_s": trace.wall_s,
        "assess_ms": 1e3 * statistics.median(assess) if assess else None,
        "curve": [
            [e, s, b] for e, s, b in zip(trace.epochs, trace.seconds, trace.best, strict=True)
        ],
    }


def _median(values: list[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    if len(ok) * 2 < len(values):
        return math.nan  # most seeds had nothing finished yet
    return statistics.median(v if not math.isnan(v) else math.inf for v in values)


def _fmt(v: float) -> str:
    return "   n/a" if math.isnan(v) else f"{v:6.4f}"


def match_fraction(rows: list[dict[str, Any]], method: str, ref: str, problem: Problem) -> float:
    """Fraction of the budget ``method`` needs (median regret over seeds, on a fine grid) to
    reach ``ref``'s final median regret."""
    mine = [r for r in rows if r["method"] == method]
    theirs = [r for r in rows if r["method"] == ref]
    if not mine or not theirs:
        return math.nan
    target = _median([r["regret_epochs"][-1] for r in theirs])
    total = max(r["curve"][-1][0] if r["curve"] else 0 for r in theirs + mine) or 1
    for f in [i / 100 for i in range(1, 101)]:
        regs = []
        for r in mine:
            found = [b for e, _, b in r["curve"] if e <= f * total]
            regs.append(problem.best - found[-1] if found else math.nan)
        if _median(regs) <= target + 1e-12:
            return f
    return math.inf


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (to add seeds)")
    parser.add_argument("--budget", type=float, default=30.0, help="full-training equivalents")
    parser.add_argument("--dataset", action="append", help="digits, mnist1d, fashion")
    parser.add_argument("--method", action="append", help=f"any of {METHODS}")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path, default=OUT, help="the cache and the results")
    parser.add_argument(
        "--fresh", action="store_true", help="drop the cached runs of the selected methods"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="run nothing: print the cached runs' table"
    )
    args = parser.parse_args(argv)
    datasets = args.dataset or available()
    methods = args.method or METHODS
    if "dehb" in methods and not (Path(__file__).with_name(".venv-dehb") / "dehb").is_dir():
        print("dehb skipped: pip install --target benchmarks/multifidelity/.venv-dehb dehb==0.1.2")
        methods = [m for m in methods if m != "dehb"]
    cached: list[dict[str, Any]] = []
    if args.json.exists():
        old = json.loads(args.json.read_text())
        file_budget = float(old.get("args", {}).get("budget", args.budget))
        for r in old["rows"]:
            r.setdefault("budget", file_budget)
        cached = old["rows"]
    if args.fresh:
        cached = [r for r in cached if not (r["data"] in datasets and r["method"] in methods)]
    have = {(r["data"], r["method"], r["seed"], float(r["budget"])) for r in cached}
    jobs = [
        (d, m, s, args.budget)
        for d in datasets
        for m in methods
        for s in range(args.seed_start, args.seed_start + args.seeds)
        if (d, m, s, float(args.budget)) not in have and not args.table_only
    ]
    meta = {"args": vars(args) | {"json": str(args.json)}}

    def save() -> None:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta | {"rows": cached}))
        tmp.replace(args.json)

    print(f"{len(have)} runs cached in {args.json.name}, {len(jobs)} to run", flush=True)
    t0 = time.perf_counter()
    if args.processes > 1 and jobs:
        with ProcessPoolExecutor(args.processes) as pool:
            futures = [pool.submit(run_one, j) for j in jobs]
            for fut in as_completed(futures):
                cached.append(fut.result())
                save()
    else:
        for j in jobs:
            cached.append(run_one(j))
            save()
    print(f"{len(jobs)} runs in {time.perf_counter() - t0:.0f} s\n")
    rows = [r for r in cached if float(r["budget"]) == float(args.budget)]
    for d in datasets:
        problem = Problem(d)
        print(
            f"{d}: {len(problem.rows)} recorded configs x {problem.n_epochs} epochs, best final "
            f"{problem.best:.4f}; budget {args.budget:g} x {problem.n_epochs} epochs, "
            f"{WORKERS} workers, median regret over the cached seeds"
        )
        fr = " ".join(f"{f:>6.0%}" for f in FRACTIONS)
        head = (
            f"{'method  (seeds)':25s} | epochs: {fr} | wall time: {fr} | match HB | trials | assess"
        )
        print(head + "\n" + "-" * len(head))
        for m in methods:
            mine = [r for r in rows if r["data"] == d and r["method"] == m]
            if not mine:
                continue
            re = [_median([r["regret_epochs"][i] for r in mine]) for i in range(len(FRACTIONS))]
            rt = [_median([r["regret_time"][i] for r in mine]) for i in range(len(FRACTIONS))]
            mf = match_fraction(
                [r for r in rows if r["data"] == d], m, "optuna-tpe+hyperband", problem
            )
            ms = [r["assess_ms"] for r in mine if r["assess_ms"] is not None]
            print(
                f"{m:22s} {len(mine):2d} | epochs: {' '.join(_fmt(v) for v in re)} | wall time: "
                f"{' '.join(_fmt(v) for v in rt)} | {mf:8.2f} | "
                f"{statistics.median(r['trials'] for r in mine):6.0f} | "
                + (f"{statistics.median(ms):.3f} ms" if ms else "   -")
            )
        print()
    if jobs or args.fresh:
        save()
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
