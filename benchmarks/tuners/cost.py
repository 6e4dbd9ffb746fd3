"""Tuner cost: time of one ``suggest()`` + ``observe()`` with 100, 1000 and 2000 trials of history,
beside Optuna's multivariate TPE (``optuna``) and ``GPSampler`` (``optuna_gp``) in the same run.

    .venv/bin/python benchmarks/tuners/cost.py --problem hartmann6 --repeats 30
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/tuners/cost.py \
        --tuners gp,optuna_gp,tpe --history 100,1000 --repeats 3 --cpu

``--cpu`` times with ``time.process_time`` (CPU seconds of this process, one BLAS/torch
thread), which a loaded machine does not inflate; otherwise wall time.

The history is made of random points of the problem's space (fed through ``observe()``, as a
resume does; Optuna gets them through ``add_trials``). Then ``--repeats`` suggest+observe cycles
are timed one by one; the median is printed in milliseconds. Runs one process at a time, so that
timings are not disturbed by each other.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drivers import make_tuner, optuna_suggest
from hyperloom.space import SearchSpace
from hyperloom.types import TrialResult, TrialStatus
from problems import problems


def _prefill_optuna(tuner: Any, spec: dict[str, Any], objective: Any, n: int, seed: int) -> None:
    import optuna

    study = tuner.study

    rs = optuna.samplers.RandomSampler(seed=seed)
    tmp = optuna.create_study(sampler=rs)
    trials = []
    for _ in range(n):
        t = tmp.ask()
        p = optuna_suggest(t, spec)
        tmp.tell(t, objective(p))
    trials = tmp.get_trials(deepcopy=False)
    study.add_trials(trials)


class _OptunaGP:
    """Optuna's ``GPSampler`` behind suggest/observe (minimising), like ``OptunaTPE``."""

    def __init__(self, spec: dict[str, Any], seed: int) -> None:
        import optuna
        import torch

        torch.set_num_threads(1)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        sampler = optuna.samplers.GPSampler(seed=seed)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.trials: dict[str, Any] = {}

    def suggest(self, trial_id: str) -> dict[str, Any]:
        t = self.study.ask()
        self.trials[trial_id] = t
        return optuna_suggest(t, self.spec)

    def observe(self, result: TrialResult) -> None:
        self.study.tell(self.trials.pop(result.trial_id), result.value)


def measure(
    name: str,
    spec: dict[str, Any],
    objective: Any,
    history: int,
    repeats: int,
    seed: int = 0,
    clock: Any = time.perf_counter,
) -> float:
    tuner = _OptunaGP(spec, seed) if name == "optuna_gp" else make_tuner(name, spec, seed)
    if name in ("optuna", "optuna_gp"):
        _prefill_optuna(tuner, spec, objective, history, seed)
    else:
        space = SearchSpace.from_nni(spec)
        rng = np.random.default_rng(seed)
        for i in range(history):
            p = space.sample(rng)
            tuner.observe(TrialResult(f"h{i}", p, TrialStatus.SUCCEEDED, objective(p), (), i))
    times = []
    for i in range(repeats):
        t0 = clock()
        p = tuner.suggest(f"m{i}")
        tuner.observe(TrialResult(f"m{i}", p, TrialStatus.SUCCEEDED, objective(p), (), history + i))
        times.append(clock() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="hartmann6")
    ap.add_argument("--tuners", default="optuna,tpe,evolution,anneal,random,rl")
    ap.add_argument("--history", default="100,1000,2000")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--cpu", action="store_true", help="CPU time (process_time), not wall time")
    args = ap.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    out: dict[str, Any] = {"problem": args.problem, "clock": "cpu" if args.cpu else "wall"}
    prob = next(p for p in problems() if p.name == args.problem)
    sizes = [int(x) for x in args.history.split(",")]
    print(
        f"problem {prob.name} ({prob.kinds}); median {out['clock']} ms per suggest+observe over "
        f"{args.repeats} cycles"
    )
    print(f"{'tuner':10s} " + " ".join(f"{'@' + str(n):>9s}" for n in sizes), flush=True)
    for name in args.tuners.split(","):
        row = [
            measure(name, prob.space, prob.objective, n, args.repeats, clock=clock) for n in sizes
        ]
        print(f"{name:10s} " + " ".join(f"{ms:9.2f}" for ms in row), flush=True)
        out[name] = dict(zip((str(n) for n in sizes), row, strict=True))
        path = Path(__file__).resolve().parent / f"cost_{prob.name}.json"
        path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
