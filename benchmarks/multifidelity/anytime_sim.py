"""``anytime.py``'s comparison played through the real manager on the simulate executor.

Each run is an experiment (``hyperloom.Experiment``, the code path of ``hyperloom run``) with
``trainingService: {platform: simulate, function: "_sim_fn:<dataset>", steps: <epochs>}``: the
same search space and nearest-recorded-run surrogate as ``anytime.py`` (:mod:`_sim_fn`), 4 trials
at a time on the virtual clock, and ``maxExperimentDuration`` set to ``anytime.py``'s virtual
wall-time horizon (the budget's epochs at the median epoch length, over 4 workers). The
schedulers are configured as the experiment's tuner with no assessor (the manager uses them as
their own assessor: PAUSE and resume go through the kernel); random + ASHA is the ``random``
tuner with the ``asha`` assessor. Regret (dataset best minus the best final value of the trials
that SUCCEEDED so far) is read at 10/25/50/75/100% of the horizon from the store's virtual end
times, and printed next to ``anytime.py``'s cached wall-time figures for the same seeds, so the
two paths can be compared; and each run is also replayed in-process by ``_drive.replay`` with
the manager's trial ids (``T0001``...; ``anytime.py`` names them ``T00001``..., and a scheduler's
random draws depend on the ids), which must give the same figures. Optuna and DEHB are not hyperloom tuners and stay in ``anytime.py``.

Usage::

    .venv/bin/python benchmarks/multifidelity/anytime_sim.py --seeds 3 --dataset mnist1d \
        --method bohb --method random+asha
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _drive import regret_at, replay  # noqa: E402
from _problems import Problem  # noqa: E402
from anytime import FRACTIONS, WORKERS, make  # noqa: E402

OUT = HERE / "anytime_sim_results.json"
START = 1_700_000_000.0  # the simulate executor's virtual epoch


def tuner_config(method: str, n_epochs: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(tuner, assessor) of one method."""
    common = {"max_resource": n_epochs, "reduction_factor": 3}
    if method == "random+asha":
        return {"name": "random"}, {"name": "asha", "classArgs": {"max_resource": n_epochs}}
    if method == "asha-promotion":
        return {
            "name": "hyperband",
            "classArgs": common | {"brackets": 1, "type": "promotion"},
        }, None
    if method in ("hyperband", "bohb", "asha_gp"):
        return {"name": method, "classArgs": common}, None
    raise SystemExit(f"unknown method {method!r}")


def run_one(data: str, method: str, seed: int, budget: float, workdir: Path) -> dict[str, Any]:
    from hyperloom import Experiment, open_experiment
    from hyperloom.types import TrialStatus

    problem = Problem(data)
    epochs = int(budget * problem.n_epochs)
    horizon = epochs * float(statistics.median(problem.seconds.ravel())) / WORKERS
    tuner, assessor = tuner_config(method, problem.n_epochs)
    cfg: dict[str, Any] = {
        "experimentName": f"anytime-{data}-{method}-{seed}",
        "searchSpace": problem.nni_space(),
        "trialCommand": "unused",
        "trialConcurrency": WORKERS,
        "maxTrialNumber": 100_000,
        "maxExperimentDuration": horizon,
        "seed": seed,
        "tuner": tuner,
        "trainingService": {
            "platform": "simulate",
            "function": f"_sim_fn:{data}",
            "steps": problem.n_epochs,
        },
        "experimentWorkingDirectory": str(workdir),
    }
    if assessor is not None:
        cfg["assessor"] = assessor
    t0 = time.perf_counter()
    exp = Experiment.from_config(cfg)
    exp.run(dashboard=False)
    wall = time.perf_counter() - t0
    with open_experiment(exp.dir) as view:
        records = view.trials()
    done = sorted(
        (r.ended - START, float(r.value))
        for r in records
        if r.status is TrialStatus.SUCCEEDED and r.ended is not None and r.value is not None
    )
    regrets = []
    for f in FRACTIONS:
        found = [v for t, v in done if t <= f * horizon + 1e-9]
        regrets.append(problem.best - max(found) if found else math.nan)
    # the same run through anytime.py's in-process replay, with the manager's trial ids
    m = make(method, problem, seed)
    trace = replay(problem, m, 10**12, WORKERS, id_format="T{:04d}", horizon=horizon)
    same_ids = regret_at(problem, trace, [f * horizon for f in FRACTIONS], by="seconds")
    return {
        "data": data,
        "method": method,
        "seed": seed,
        "budget": budget,
        "regret_time": regrets,
        "regret_replay_same_ids": same_ids,
        "trials_replay": trace.n_trials,
        "trials": len(records),
        "wall_s": wall,
    }


def _fmt(values: list[float]) -> str:
    return " ".join("n/a" if math.isnan(v) else f"{v:.4f}" for v in values)


def _same(a: list[float], b: list[float]) -> bool:
    return all(
        (math.isnan(x) and math.isnan(y)) or abs(x - y) < 1e-9 for x, y in zip(a, b, strict=True)
    )


def _median(values: list[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    if len(ok) * 2 < len(values):
        return math.nan
    return statistics.median(v if not math.isnan(v) else math.inf for v in values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--dataset", action="append")
    parser.add_argument("--method", action="append")
    parser.add_argument("--json", type=Path, default=OUT)
    parser.add_argument("--replay-json", type=Path, default=HERE / "anytime_results.json")
    args = parser.parse_args(argv)
    logging.getLogger("hyperloom").setLevel(logging.WARNING)
    datasets = args.dataset or ["mnist1d"]
    methods = args.method or ["random+asha", "bohb"]
    cached = json.loads(args.json.read_text())["rows"] if args.json.exists() else []
    have = {(r["data"], r["method"], r["seed"], r["budget"]) for r in cached}
    with tempfile.TemporaryDirectory(prefix="anytime-sim-") as tmp:
        for d in datasets:
            for m in methods:
                for s in range(args.seeds):
                    if (d, m, s, args.budget) in have:
                        continue
                    r = run_one(d, m, s, args.budget, Path(tmp))
                    cached.append(r)
                    args.json.write_text(json.dumps({"rows": cached}))
                    print(
                        f"{d} {m} seed {s}: regret {_fmt(r['regret_time'])} trials "
                        f"{r['trials']} ({r['wall_s']:.0f} s); in-process replay, same ids: "
                        f"{_fmt(r['regret_replay_same_ids'])} trials {r['trials_replay']}",
                        flush=True,
                    )
    mine = [r for r in cached if r["data"] in datasets and r["method"] in methods]
    n_same = sum(_same(r["regret_time"], r["regret_replay_same_ids"]) for r in mine)
    n_count = sum(r["trials"] == r["trials_replay"] for r in mine)
    print(
        f"\nmanager == in-process replay with the same trial ids: regrets in {n_same} of "
        f"{len(mine)} runs, trial counts in {n_count} of {len(mine)}"
    )
    old = json.loads(args.replay_json.read_text())["rows"] if args.replay_json.exists() else []
    fr = " ".join(f"{f:>6.0%}" for f in FRACTIONS)
    print(f"\nmedian regret at fractions of the virtual wall-time horizon\n{'':34s} {fr}")
    for d in datasets:
        for m in methods:
            sim = [r for r in cached if r["data"] == d and r["method"] == m]
            seeds = {r["seed"] for r in sim}
            rep = [
                r
                for r in old
                if r["data"] == d and r["method"] == m and r["seed"] in seeds
                and float(r.get("budget", args.budget)) == args.budget
            ]  # fmt: skip
            for label, rows in (("manager", sim), ("anytime.py", rep)):
                if not rows:
                    continue
                med = [_median([r["regret_time"][i] for r in rows]) for i in range(len(FRACTIONS))]
                print(
                    f"{d:11s} {m:14s} {label:10s} {len(rows):2d} "
                    + " ".join("   n/a" if math.isnan(v) else f"{v:6.4f}" for v in med)
                )


if __name__ == "__main__":
    main()
