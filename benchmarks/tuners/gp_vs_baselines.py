"""gp vs tpe vs random (and Optuna's GPSampler when optuna and torch import) on Branin,
Hartmann6 and Rosenbrock-4: median simple regret after the budget, over seeds.

    python benchmarks/tuners/gp_vs_baselines.py --seeds 3 --budget 100
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drivers import optuna_suggest, run_once
from problems import problems


def _rosenbrock4(p: dict[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(4)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


ROSEN = {f"x{i}": {"_type": "uniform", "_value": [-2.0, 2.0]} for i in range(4)}


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


def _has_optuna_gp() -> bool:
    try:
        import optuna
        import torch  # noqa: F401

        return hasattr(optuna.samplers, "GPSampler")
    except ImportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=100)
    args = ap.parse_args()
    probs = {p.name: p for p in problems()}
    cases = [
        ("branin", probs["branin"].space, probs["branin"].objective, probs["branin"].optimum),
        (
            "hartmann6",
            probs["hartmann6"].space,
            probs["hartmann6"].objective,
            probs["hartmann6"].optimum,
        ),
        ("rosenbrock4", ROSEN, _rosenbrock4, 0.0),
    ]
    tuners = ["gp", "tpe", "random"] + (["optuna_gp"] if _has_optuna_gp() else [])
    print(f"median regret after {args.budget} trials over {args.seeds} seeds (s/run in brackets)")
    print(f"{'problem':<12}" + "".join(f"{t:>22}" for t in tuners))
    for name, spec, obj, opt in cases:
        cells = []
        for t in tuners:
            regrets, secs = [], []
            for s in range(args.seeds):
                t0 = time.perf_counter()
                if t == "optuna_gp":
                    curve = _optuna_gp(spec, obj, s, args.budget)
                else:
                    curve = run_once(t, spec, obj, s, args.budget)
                secs.append(time.perf_counter() - t0)
                regrets.append(curve[-1] - opt)
            cells.append(f"{np.median(regrets):.4g} ({np.median(secs):.1f}s)")
        print(f"{name:<12}" + "".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
