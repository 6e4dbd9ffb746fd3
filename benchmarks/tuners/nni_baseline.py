"""NNI 3.0's own Evolution tuner on the quality problems, as a baseline for ours.

nni lives in its own virtual environment, so this script runs with that interpreter and merges
its curves into the quality results as the extra tuner ``nni_evolution``:

    .venv-nni/bin/python benchmarks/tuners/nni_baseline.py --seeds 20 --budget 100 --jobs 2
    .venv/bin/python benchmarks/tuners/report.py benchmarks/tuners/quality_results.json

NNI's tuner is driven the way its dispatcher drives it with one trial at a time:
``generate_multiple_parameters([i])`` (which counts the running trial), evaluate,
``receive_trial_result`` and ``trial_end(i, success=True)``. Its quirks, handled here:

* ``update_search_space`` builds the first population from an unseeded
  ``np.random.RandomState()``, and mutation uses the ``random`` module. Per seed we seed
  ``random`` and ``np.random``, then replace the tuner's ``random_state`` with a seeded one and
  rebuild the initial population, so that runs are reproducible.
* It may return no configuration (``NoMoreTrialError`` when as many trials run as the population
  size; never the case sequentially); such a step is counted as a trial with no improvement.
* It does not avoid duplicates; a repeated point is evaluated and counted like any other.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from problems import problems

NAME = "nni_evolution"


def run_nni(spec: dict[str, Any], objective: Any, seed: int, budget: int, pop: int) -> list[float]:
    """Best-so-far objective after each trial of NNI's EvolutionTuner (minimising)."""
    from nni.algorithms.hpo.evolution_tuner import EvolutionTuner

    logging.getLogger("nni").setLevel(logging.WARNING)
    random.seed(seed)
    np.random.seed(seed)
    tuner = EvolutionTuner(optimize_mode="minimize", population_size=pop)
    tuner.update_search_space(spec)
    tuner.random_state = np.random.RandomState(seed)
    tuner.population = []
    for _ in range(pop):
        tuner._random_generate_individual()
    best = math.inf
    curve: list[float] = []
    for i in range(budget):
        got = tuner.generate_multiple_parameters([i], st_callback=lambda *a, **k: None)
        if not got:
            curve.append(best)
            continue
        params = got[0]
        v = float(objective(params))
        best = min(best, v)
        curve.append(best)
        tuner.receive_trial_result(i, params, v)
        tuner.trial_end(i, True)
    return curve


def _work(task: tuple[str, int, int, int]) -> tuple[str, int, list[float]]:
    prob_name, seed, budget, pop = task
    prob = next(p for p in problems() if p.name == prob_name)
    curve = run_nni(prob.space, prob.objective, seed, budget, pop)
    return prob_name, seed, [max(c - prob.optimum, 0.0) for c in curve]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--population", type=int, default=32, help="NNI's default population_size")
    ap.add_argument("--problems", default="all")
    ap.add_argument("--out", default="benchmarks/tuners/quality_results.json")
    args = ap.parse_args()
    probs = [p for p in problems() if args.problems == "all" or p.name in args.problems.split(",")]
    tasks = [(p.name, s, args.budget, args.population) for p in probs for s in range(args.seeds)]
    runs: dict[str, dict[int, list[float]]] = {p.name: {} for p in probs}
    with get_context("spawn").Pool(args.jobs) as pool:
        for pn, seed, regret in pool.imap_unordered(_work, tasks):
            runs[pn][seed] = regret
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {"runs": {}, "median_regret": {}}
    for pn, by_seed in runs.items():
        curves = [by_seed[s] for s in sorted(by_seed)]
        data["runs"].setdefault(pn, {})[NAME] = curves
        meds = {}
        for c in (25, 50, 100):
            if c <= args.budget:
                col = sorted(r[c - 1] for r in curves)
                n = len(col)
                meds[str(c)] = col[n // 2] if n % 2 else 0.5 * (col[n // 2 - 1] + col[n // 2])
        data["median_regret"].setdefault(pn, {})[NAME] = meds
        print(pn, NAME, meds, flush=True)
    data.setdefault("updates", []).append({"nni_baseline": vars(args)})
    out.write_text(json.dumps(data, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
