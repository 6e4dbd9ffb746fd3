"""Multi-fidelity search on a table nobody tuned on, the way a user would run it.

Any learning-curve dataset of ``benchmarks/data`` (``.npz``: ``accuracy``, ``params`` and, when
recorded, ``seconds``) becomes a simulate table (the seed-like parameters dropped), and each
method runs through ``hyperloom.Experiment`` (the code path of ``hyperloom run``) with a config
that names only the table and the tuner, defaults included: ``trainingService: {platform:
simulate, table: FILE}``, no ``searchSpace`` (the table's rows give it: numbers that take many
values become ranges, and the nearest row answers each point), no ``max_resource``. Four trials
run at a time on the virtual clock until ``maxExperimentDuration``: ``--budget`` full trainings
at the median full-training time, over the four workers.

Side by side, in the same script and on the same nearest-row surrogate (the simulate executor's
own lookup), Optuna's TPE with ``HyperbandPruner`` (min resource 1, the table's curve length as
max resource, reduction factor 3: told what hyperloom's schedulers are not) and with
``SuccessiveHalvingPruner`` (min resource 1, reduction factor 3), one trial at a time through ask
and tell.

The axis is compute: the epochs every trial had run, counted from the rows' own cumulative
seconds for a trial that was still running. Regret is the table's best final value minus the best
final value of the trials that ran to the end. Printed: the median regret over seeds at 10, 25,
50, 75 and 100% of the budget, and for each hyperloom method the share of the budget at which
its median regret first reaches Optuna-with-Hyperband's final median regret.

Usage (about 10 minutes for 10 seeds)::

    .venv/bin/python benchmarks/multifidelity/heldout_table.py --data benchmarks/data/gbdt_curves.npz
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
WORKERS = 4
GRID = 100  # budgets at which the compute to match is looked for
START = 1_700_000_000.0  # the simulate executor's virtual epoch
METHODS = (
    "bohb",
    "hyperband",
    "asha_gp",
    "random+asha",
    "tpe+median_stop",
    "optuna-tpe+hyperband",
    "optuna-tpe+sha",
)


def is_seed(name: str) -> bool:
    return "seed" in name or name == "random_state"


def make_table(data: Path, out: Path) -> dict[str, Any]:
    """Writes the simulate table of a dataset and returns it."""
    d = np.load(data)
    params = json.loads(str(d["params"]))
    acc = d["accuracy"]
    seconds = d["seconds"] if "seconds" in d.files else np.ones_like(acc)
    rows = []
    for p, curve, secs in zip(params, acc, seconds, strict=True):
        kept = {k: v for k, v in p.items() if not is_seed(k)}
        if any(isinstance(v, list) for v in kept.values()):
            kept = {k: (json.dumps(v) if isinstance(v, list) else v) for k, v in kept.items()}
        rows.append(
            {
                "params": kept,
                "curve": [float(v) for v in curve],
                "seconds": [float(v) for v in np.cumsum(secs)],
            }
        )
    table = {"metric": "accuracy", "mode": "maximize", "rows": rows}
    out.write_text(json.dumps(table))
    return table


class Surrogate:
    """The table as the simulate executor answers it: exact rows, else the nearest row."""

    def __init__(self, table: dict[str, Any]) -> None:
        from hyperloom._executor_sim import _key, _NearestRows

        self._key = _key
        self.rows = {_key(r["params"]): r for r in table["rows"]}
        self._index = _NearestRows([r["params"] for r in table["rows"]])
        self.best = max(r["curve"][-1] for r in table["rows"])
        self.length = max(len(r["curve"]) for r in table["rows"])
        self.full_seconds = statistics.median(r["seconds"][-1] for r in table["rows"])

    def row(self, params: dict[str, Any]) -> dict[str, Any]:
        hit = self.rows.get(self._key(params))
        return hit if hit is not None else self.rows[self._index.nearest(params)]


def hyperloom_config(method: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if method == "random+asha":
        return {"name": "random"}, {"name": "asha"}
    if method == "tpe+median_stop":
        return {"name": "tpe"}, {"name": "median_stop"}
    return {"name": method}, None


def run_hyperloom(
    method: str, seed: int, table_path: Path, sur: Surrogate, budget: float, work: Path
) -> dict[str, Any]:
    from hyperloom import Experiment, open_experiment

    horizon = budget * sur.full_seconds / WORKERS
    tuner, assessor = hyperloom_config(method)
    cfg: dict[str, Any] = {
        "trainingService": {"platform": "simulate", "table": str(table_path)},
        "trialConcurrency": WORKERS,
        "maxTrialNumber": 100_000,
        "maxExperimentDuration": horizon,
        "seed": seed,
        "tuner": tuner,
        "experimentWorkingDirectory": str(work),
    }
    if assessor is not None:
        cfg["assessor"] = assessor
    t0 = time.perf_counter()
    exp = Experiment.from_config(cfg)
    exp.run(dashboard=False, with_records=False)
    wall = time.perf_counter() - t0
    with open_experiment(exp.dir) as view:
        records = view.trials()
    # (virtual time, steps) of every report, and (end time, final value) of full trainings
    steps_at: list[float] = []
    finals: list[tuple[float, float]] = []
    for r in records:
        if r.started is None:
            continue
        row = sur.row(dict(r.params))
        n = len(r.intermediate)
        steps_at.extend(r.started - START + s for s in row["seconds"][:n])
        if n >= len(row["curve"]) and r.value is not None and r.ended is not None:
            finals.append((r.ended - START, float(r.value)))
    steps_at.sort()
    finals.sort()
    # the compute (epochs) spent by each full training's end
    trace = [(float(np.searchsorted(steps_at, t, side="right")), v) for t, v in finals]
    return {"trace": trace, "trials": len(records), "wall_s": wall}


def run_optuna(method: str, seed: int, sur: Surrogate, space: dict[str, Any], budget: float) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {k: optuna_distribution(v) for k, v in space.items()}
    pruner: Any = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=sur.length, reduction_factor=3)
        if method == "optuna-tpe+hyperband"
        else optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    )
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner
    )
    limit = budget * sur.length
    spent, trace = 0.0, []
    t0 = time.perf_counter()
    while spent < limit:
        trial = study.ask(dists)
        curve = sur.row(trial.params)["curve"]
        state = optuna.trial.TrialState.COMPLETE
        for step, value in enumerate(curve):
            spent += 1
            trial.report(value, step)
            if spent >= limit:
                state = optuna.trial.TrialState.PRUNED if step + 1 < len(curve) else state
                break
            if step + 1 < len(curve) and trial.should_prune():
                state = optuna.trial.TrialState.PRUNED
                break
        if state is optuna.trial.TrialState.COMPLETE:
            study.tell(trial, curve[-1])
            trace.append((spent, float(curve[-1])))
        else:
            study.tell(trial, state=state)
    return {"trace": trace, "trials": len(study.trials), "wall_s": time.perf_counter() - t0}


def optuna_distribution(p: dict[str, Any]) -> Any:
    import optuna

    kind, v = p["_type"], p["_value"]
    if kind == "choice":
        return optuna.distributions.CategoricalDistribution(v)
    if kind == "randint":
        return optuna.distributions.IntDistribution(v[0], v[1] - 1)
    if kind == "qloguniform":
        return optuna.distributions.IntDistribution(int(v[0]), int(v[1]), log=True)
    return optuna.distributions.FloatDistribution(v[0], v[1], log=kind == "loguniform")


def regrets(trace: list[tuple[float, float]], best: float, limits: list[float]) -> list[float]:
    out = []
    for b in limits:
        found = [v for x, v in trace if x <= b]
        out.append(best - max(found) if found else math.nan)
    return out


def median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if len(finite) * 2 > len(values) else math.nan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=30.0, help="full trainings")
    parser.add_argument("--method", action="append", choices=METHODS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from hyperloom._config_simulate import _rows_space

    methods = args.method or list(METHODS)
    out = args.json or HERE / f"heldout_{args.data.stem}.json"
    results: dict[str, list[list[float]]] = {m: [] for m in methods}
    counts: dict[str, list[int]] = {m: [] for m in methods}
    fine: dict[str, list[list[float]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        table_path = Path(tmp) / "table.json"
        table = make_table(args.data, table_path)
        sur = Surrogate(table)
        space = _rows_space(table, str(args.data))
        limits = [f * args.budget * sur.length for f in FRACTIONS]
        grid = [(k + 1) / GRID * args.budget * sur.length for k in range(GRID)]
        print(
            f"{args.data.name}: {len(table['rows'])} rows, {sur.length} steps, best "
            f"{sur.best:.4f}; space {json.dumps(space)[:300]}",
            flush=True,
        )
        for seed in range(args.seeds):
            for m in methods:
                if m.startswith("optuna"):
                    r = run_optuna(m, seed, sur, space, args.budget)
                else:
                    r = run_hyperloom(m, seed, table_path, sur, args.budget, Path(tmp) / "exps")
                results[m].append(regrets(r["trace"], sur.best, limits))
                fine[m].append(regrets(r["trace"], sur.best, grid))
                counts[m].append(r["trials"])
                print(
                    f"seed {seed} {m:22s} trials {r['trials']:4d} regret "
                    + " ".join(f"{v:.4f}" for v in results[m][-1])
                    + f"  ({r['wall_s']:.1f} s)",
                    flush=True,
                )
    table_out = report(results, fine, counts, args.seeds)
    out.write_text(
        json.dumps(
            {"args": vars(args) | {"data": str(args.data)}, "regrets": results, "trials": counts},
            indent=1,
            default=str,
        )
    )
    print(table_out)
    print(f"wrote {out}")


def report(
    results: dict[str, list[list[float]]],
    fine: dict[str, list[list[float]]],
    counts: dict[str, list[int]],
    seeds: int,
) -> str:
    """The table: median regrets at the fractions, and the compute to match Optuna-HB's final
    median regret (the first of ``GRID`` even budgets at which the median regret reaches it)."""
    head = " | ".join(f"{f:.0%}" for f in FRACTIONS)
    lines = [
        f"median regret over {seeds} seeds at "
        + ", ".join(f"{f:.0%}" for f in FRACTIONS)
        + " of the budget (compute: epochs)",
        f"| method | trials | {head} | compute to match Optuna-HB's final |",
        "|---|---|" + "---|" * len(FRACTIONS) + "---|",
    ]
    ref = None
    if "optuna-tpe+hyperband" in results:
        ref = median([r[-1] for r in results["optuna-tpe+hyperband"]])
    for m, runs in results.items():
        meds = [median([r[i] for r in runs]) for i in range(len(FRACTIONS))]
        reach = "-"
        if ref is not None and not m.startswith("optuna"):
            curve = [median([r[k] for r in fine[m]]) for k in range(GRID)]
            hit = [k for k, v in enumerate(curve) if v <= ref + 1e-12]
            reach = f"{(hit[0] + 1) / GRID:.2f}" if hit else "not reached"
        lines.append(
            f"| {m} | {statistics.median(counts[m]):.0f} | "
            + " | ".join(f"{v:.4f}" for v in meds)
            + f" | {reach} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
