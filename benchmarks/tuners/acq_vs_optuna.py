"""Is our TPE's acquisition the same function as Optuna's? Runs Optuna's multivariate TPE on a
problem, then, at several points of its history, feeds the same trials to our ``tpe`` and compares
``log l(x) - log g(x)`` of both on random points of the space.

    .venv/bin/python benchmarks/tuners/acq_vs_optuna.py hartmann6 log_valley int_quadratic

Prints, per problem and history length, the largest absolute difference and the rank correlation
of the two acquisitions. A difference near 0 means the two tuners score candidates identically, so
any gap in ``quality.py`` comes from the random draws (or, for integer parameters, from the order
in which tied observations get their bandwidths). Uses Optuna's private ``_split_trials`` and
``_build_parzen_estimator`` (checked with Optuna 5.0). Flat spaces only (no nested choices).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drivers import OptunaTPE
from hyperloom.space import SearchSpace
from hyperloom.tuners.tpe import TPETuner
from hyperloom.tuners.tpe import _tuner as tpe_module
from hyperloom.types import TrialResult, TrialStatus
from problems import problems

HISTORY_LENGTHS = (10, 11, 20, 30, 50, 80, 99)


def _ranks(v: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(v)).astype(float)


def compare(name: str, seed: int = 3, n_points: int = 300) -> None:
    from optuna.samplers._tpe.sampler import _split_trials, default_gamma

    prob = next(p for p in problems() if p.name == name)
    space = SearchSpace.from_nni(prob.space)
    opt = OptunaTPE(prob.space, seed=seed)
    history: list[tuple[dict[str, Any], float]] = []
    for i in range(max(HISTORY_LENGTHS)):
        p = opt.suggest(f"t{i}")
        v = prob.objective(p)
        history.append((p, v))
        opt.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, v, (), i))
    study = opt.study
    trials = study.get_trials(deepcopy=False)
    dists = trials[-1].distributions

    built: list[Any] = []
    original = tpe_module.ParzenEstimator

    class Capture(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    rng = np.random.default_rng(0)
    tpe_module.ParzenEstimator = Capture  # type: ignore[misc]
    try:
        for t in HISTORY_LENGTHS:
            tuner = TPETuner(space, mode="minimize", seed=0)
            for i, (p, v) in enumerate(history[:t]):
                tuner.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, v, (), i))
            built.clear()
            tuner._propose(np.random.default_rng(1))
            good, bad = built
            below, above = _split_trials(study, trials[:t], default_gamma(t))
            o_good = study.sampler._build_parzen_estimator(study, dists, below, True)
            o_bad = study.sampler._build_parzen_estimator(study, dists, above, False)
            points = [space.sample(rng) for _ in range(n_points)]
            rows = np.array([tuner.encoder.encode(p) for p in points])
            cols = {k: np.array([p[k] for p in points], dtype=float) for k in dists}
            ours = good.log_pdf(rows) - bad.log_pdf(rows)
            theirs = o_good.log_pdf(cols) - o_bad.log_pdf(cols)
            rho = np.corrcoef(_ranks(ours), _ranks(theirs))[0, 1]
            print(
                f"{name:14s} history {t:3d}: max |difference| {np.abs(ours - theirs).max():.2e}"
                f"  rank correlation {rho:.4f}"
            )
    finally:
        tpe_module.ParzenEstimator = original  # type: ignore[misc]


def main() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in sys.argv[1:] or ["branin", "hartmann6", "log_valley", "int_quadratic"]:
        compare(name)


if __name__ == "__main__":
    main()
