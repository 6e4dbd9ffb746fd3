"""TPE's session-5 options: the candidate count by dimension, and the univariate
(per-parameter) density, which must be a normalised density that recombines observations."""

from __future__ import annotations

import numpy as np
import pytest
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._common import Encoder
from hyperloom.tuners.tpe import TPETuner
from hyperloom.tuners.tpe._parzen import ParzenEstimator
from hyperloom.tuners.tpe._tuner import default_candidates
from hyperloom.types import TrialResult, TrialStatus


def _space(d: int) -> SearchSpace:
    return SearchSpace.from_nni({f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(d)})


def test_candidates_grow_with_dimension() -> None:
    assert [default_candidates(d) for d in (1, 2, 3, 4, 5, 6, 40)] == [24, 24, 36, 48, 60, 64, 64]
    assert TPETuner(_space(2)).n_candidates == 24  # Optuna's count where ours equals its TPE
    assert TPETuner(_space(6)).n_candidates == 64
    assert TPETuner(_space(2), n_candidates=100).n_candidates == 100
    with pytest.raises(PluginError, match="multivariate"):
        TPETuner(_space(2), multivariate=1)  # type: ignore[arg-type]


SPEC = {
    "x": {"_type": "uniform", "_value": [0, 1]},
    "q": {"_type": "quniform", "_value": [0, 10, 1]},
    "c": {"_type": "choice", "_value": [1, 2, 3]},
}


@pytest.mark.parametrize("joint", [True, False])
def test_density_integrates_to_one(joint: bool) -> None:
    enc = Encoder(SearchSpace.from_nni(SPEC))
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.random(5), rng.integers(0, 11, 5), rng.integers(0, 3, 5)])
    pe = ParzenEstimator(
        enc,
        rows.astype(float),
        prior_weight=1.0,
        bandwidth=0.2,
        min_sigma=np.array([0.0, 0.5, 0.0]),
        pad=np.array([0.0, 0.5, 0.0]),
        joint=joint,
    )
    xs = np.linspace(0, 1, 2001)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 1.x (the floor is 1.24) has trapz
    total = 0.0
    for q in range(11):
        for c in range(3):
            cands = np.column_stack([xs, np.full_like(xs, q), np.full_like(xs, c)])
            total += float(trapezoid(np.exp(pe.log_pdf(cands)), xs))
    assert total == pytest.approx(1.0, abs=1e-4)


def test_univariate_recombines_and_joint_does_not() -> None:
    """Two good points (a, a) and (b, b): the product density puts the mixed points (a, b) as
    high as the observed ones, the joint one far lower."""
    spec = {f"c{i}": {"_type": "choice", "_value": list(range(6))} for i in range(2)}
    enc = Encoder(SearchSpace.from_nni(spec))
    rows = np.array([[0.0, 0.0], [5.0, 5.0]])
    kw = {"prior_weight": 1.0, "bandwidth": 0.2, "min_sigma": np.zeros(2)}
    mixed, seen = np.array([[0.0, 5.0]]), np.array([[0.0, 0.0]])
    joint = ParzenEstimator(enc, rows, joint=True, **kw)  # type: ignore[arg-type]
    prod = ParzenEstimator(enc, rows, joint=False, **kw)  # type: ignore[arg-type]
    assert joint.log_pdf(mixed)[0] < joint.log_pdf(seen)[0] - 0.5
    assert prod.log_pdf(mixed)[0] == pytest.approx(prod.log_pdf(seen)[0])
    rate = [
        float(((s[:, 0] == 0) & (s[:, 1] == 5)).mean())
        for s in (pe.sample(np.random.default_rng(1), 4000) for pe in (joint, prod))
    ]
    assert rate[1] > 1.2 * rate[0]  # the product samples recombinations more often


def test_univariate_tuner_learns() -> None:
    sp = _space(3)
    t = TPETuner(sp, mode="minimize", seed=0, multivariate=False)
    best = np.inf
    for i in range(40):
        p = t.suggest(str(i))
        assert p is not None
        v = sum((p[f"x{j}"] - 0.3) ** 2 for j in range(3))
        best = min(best, v)
        t.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, v, (), i))
    assert best < 0.02  # random search's median best of 40 here is about 0.03
