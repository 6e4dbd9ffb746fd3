"""The assessor replay of ``replay.py``, played through the real manager on the simulate executor.

Each dataset of ``benchmarks/data`` becomes a simulate table (``{"config": i}`` -> its recorded
curve, one virtual second per epoch); each order is an experiment run by
``hyperloom.Experiment`` (the code path of ``hyperloom run``) with ``trainingService: {platform:
simulate, table: FILE}``, ``trialConcurrency: 4``, a tuner that plays the rows in the same random
order as ``replay.py`` (``_sim_plugins.OrderTuner``: the order of seed ``s`` is
``np.random.default_rng(s).permutation(n)``) and the rule under test as the experiment's
assessor. Optuna's pruners run as hyperloom assessors (``_sim_plugins.OptunaPrunerAssessor``),
NNI's median stop as hyperloom's ``median_stop`` with NNI's rule (which replays identically to
NNI 3.0's ``Medianstop``, see ``replay.py``); all side by side in one table per dataset, scored
as ``replay.py`` scores (epochs used, best kept, top-5 kept, regret).

Usage::

    .venv/bin/python benchmarks/assessors/replay_sim.py --orders 5
    .venv/bin/python benchmarks/assessors/replay_sim.py --orders 2 --compare   # and replay.py's
    .venv/bin/python benchmarks/assessors/replay_sim.py --rule NNI \
        --assessor 'curve_fitting:{"optimism": 1.5}'                          # other settings

``--compare`` also runs ``replay.py``'s in-process replay on the same orders and prints, per rule,
how many orders gave different figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from replay import DATASETS, load_curves, make_rule, score  # noqa: E402
from replay import replay as replay_in_process  # noqa: E402

CONCURRENCY = 4
OUT = HERE / "replay_sim_results.json"

#: (assessor config or None for an Optuna pruner, label); NNI's rule is median_stop's options
RULES: list[tuple[str, dict[str, Any], str]] = [
    ("none", {}, "no stopping"),
    ("median_stop", {}, "hyperloom median_stop (defaults)"),
    ("median_stop", {"envelope_trials": 10}, "hyperloom median_stop (envelope_trials 10)"),
    (
        "median_stop",
        {
            "start_step": 1,
            "n_startup_trials": 1,
            "reference": "completed",
            "percentile": 50,
            "percentile_growth": 0,
        },
        "NNI median stop (hyperloom median_stop, NNI's rule)",
    ),
    ("curve_fitting", {}, "hyperloom curve_fitting (defaults)"),
    (
        "curve_fitting",
        {"guard_envelope_trials": 10},
        "hyperloom curve_fitting (guard_envelope_trials 10)",
    ),
    ("asha", {}, "hyperloom asha (defaults)"),
    ("optuna:MedianPruner", {}, "optuna MedianPruner"),
    ("optuna:SuccessiveHalvingPruner", {}, "optuna SuccessiveHalvingPruner"),
    ("optuna:HyperbandPruner", {}, "optuna HyperbandPruner"),
]


def write_table(curves: np.ndarray, path: Path) -> None:
    """The simulate table of one dataset: row ``i`` is ``{"config": i}``, 1 s per epoch."""
    n_epochs = curves.shape[1]
    secs = [float(j + 1) for j in range(n_epochs)]
    rows = [
        {"params": {"config": i}, "curve": [float(v) for v in curves[i]], "seconds": secs}
        for i in range(len(curves))
    ]
    path.write_text(json.dumps({"metric": "value", "rows": rows}))


def assessor_config(name: str, options: dict[str, Any]) -> dict[str, Any] | None:
    if name == "none":
        return None
    if name.startswith("optuna:"):
        return {
            "name": "_sim_plugins:OptunaPrunerAssessor",
            "classArgs": {"pruner": name.split(":", 1)[1]},
        }
    return {"name": name, "classArgs": dict(options)}


def run_sim(
    curves: np.ndarray, table: Path, name: str, options: dict[str, Any], seed: int, mode: str,
    workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    """One order through the manager; scored as ``replay.py`` scores."""
    from hyperloom import Experiment
    from hyperloom.types import TrialStatus

    n = len(curves)
    cfg: dict[str, Any] = {
        "experimentName": f"replay-{name}-{seed}",
        "searchSpace": {"config": {"_type": "choice", "_value": list(range(n))}},
        "trialCommand": "unused",
        "trialConcurrency": CONCURRENCY,
        "maxTrialNumber": n,
        "seed": seed,
        "tuner": {
            "name": "_sim_plugins:OrderTuner",
            "classArgs": {"n": n, "order_seed": seed, "mode": mode},
        },
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(workdir),
    }
    a = assessor_config(name, options)
    if a is not None:
        cfg["assessor"] = a
    t0 = time.perf_counter()
    trials = Experiment.from_config(cfg).run(dashboard=False)
    wall = time.perf_counter() - t0
    completed = {int(t.params["config"]) for t in trials if t.status is TrialStatus.SUCCEEDED}
    epochs = sum(len(t.intermediate) for t in trials)
    out = score(curves, completed, epochs, mode)
    out.update(seed=seed, wall_s=wall, trials=len(trials))
    return out


def run_old(curves: np.ndarray, name: str, options: dict[str, Any], seed: int, mode: str) -> Any:
    """The same order through ``replay.py``'s in-process loop."""
    spec = name if not options else f"{name}:{json.dumps(options)}"
    order = np.random.default_rng(seed).permutation(len(curves))
    epochs, completed, _ = replay_in_process(curves, order, make_rule(spec, mode))
    return score(curves, completed, epochs, mode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--rule", action="append", help="only the rules whose label has this")
    parser.add_argument("--compare", action="store_true", help="also run replay.py's loop")
    parser.add_argument(
        "--assessor",
        action="append",
        default=[],
        help="another rule, NAME[:json classArgs] (repeatable; its label is the spec)",
    )
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.getLogger("hyperloom").setLevel(logging.WARNING)
    rules = [r for r in RULES if not args.rule or any(k in r[2] for k in args.rule)]
    for spec in args.assessor:
        name, _, options = spec.partition(":")
        rules.append((name, json.loads(options) if options else {}, spec))
    mode = "maximize"
    rows: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="replay-sim-") as tmp:
        for data in args.data or DATASETS:
            curves = load_curves(data)
            table = Path(tmp) / f"{data.stem}.json"
            write_table(curves, table)
            for name, options, label in rules:
                for seed in range(args.first_seed, args.first_seed + args.orders):
                    r = run_sim(curves, table, name, options, seed, mode, Path(tmp) / "exp")
                    r.update(rule=label, data=data.name)
                    if args.compare:
                        old = run_old(curves, name, options, seed, mode)
                        r["same_as_replay_py"] = all(
                            abs(old[k] - r[k]) < 1e-12 for k in ("epochs", "best", "top5")
                        )
                        r["replay_py"] = old
                    rows.append(r)
                    print(
                        f"{data.name:26s} {label:52s} order {seed}: epochs {r['epochs']:.1%} "
                        f"best {r['best']:.0f} top5 {r['top5']:.0f} ({r['wall_s']:.1f} s)"
                        + (f" same as replay.py: {r['same_as_replay_py']}" if args.compare else ""),
                        flush=True,
                    )
    print(f"\n{len(rows)} runs in {time.perf_counter() - t_all:.0f} s")
    for data in args.data or DATASETS:
        mine = [r for r in rows if r["data"] == data.name]
        print(f"\n{data.name}: {args.orders} orders, {CONCURRENCY} at a time (simulate executor)")
        head = f"{'rule':52s} {'epochs':>7s} {'best kept':>10s} {'top-5':>6s} {'regret':>8s}"
        print(head + ("  same as replay.py" if args.compare else "") + "\n" + "-" * len(head))
        for _, _, label in rules:
            m = [r for r in mine if r["rule"] == label]
            line = (
                f"{label:52s} {statistics.median(r['epochs'] for r in m):7.1%} "
                f"{sum(r['best'] for r in m):>5.0f}/{len(m):<4d} "
                f"{statistics.mean(r['top5'] for r in m):6.2f} "
                f"{statistics.mean(r['regret'] for r in m):8.4f}"
            )
            if args.compare:
                line += f"  {sum(r['same_as_replay_py'] for r in m)}/{len(m)}"
            print(line)
    print("\nmean over datasets (epochs: mean of the per-dataset medians)")
    for _, _, label in rules:
        per = []
        for data in args.data or DATASETS:
            m = [r for r in rows if r["data"] == data.name and r["rule"] == label]
            per.append(
                (
                    statistics.median(r["epochs"] for r in m),
                    statistics.mean(r["best"] for r in m),
                    statistics.mean(r["top5"] for r in m),
                )
            )
        print(
            f"{label:52s} {statistics.mean(p[0] for p in per):7.1%} "
            f"best {statistics.mean(p[1] for p in per):5.0%} "
            f"top-5 {statistics.mean(p[2] for p in per):5.2f}"
        )
    args.json.write_text(json.dumps({"args": {"orders": args.orders}, "rows": rows}, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
