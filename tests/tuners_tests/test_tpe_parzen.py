"""The TPE densities: proper probabilities over quantized values (the mass of each rounding cell),
a proper density over continuous ranges, and the bandwidth of a lone observation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hyperloom.space import SearchSpace
from hyperloom.tuners.tpe import TPETuner

QUANTIZED: list[dict[str, Any]] = [
    {"_type": "randint", "_value": [0, 7]},
    {"_type": "quniform", "_value": [16, 256, 16]},
    {"_type": "qloguniform", "_value": [10, 1000, 10]},
]


def _fitted(spec: dict[str, Any], n_obs: int, seed: int) -> tuple[Any, Any, np.ndarray]:
    space = SearchSpace.from_nni({"p": spec})
    tuner = TPETuner(space, mode="minimize", seed=seed)
    rng = np.random.default_rng(seed)
    rows = np.array([tuner.encoder.encode(space.sample(rng)) for _ in range(n_obs)])
    return space, tuner, tuner._estimator(rows)


@pytest.mark.parametrize("spec", QUANTIZED, ids=lambda s: s["_type"])
@pytest.mark.parametrize("n_obs", [1, 3, 40])
def test_quantized_values_get_probabilities_that_sum_to_one(
    spec: dict[str, Any], n_obs: int
) -> None:
    space, _, pe = _fitted(spec, n_obs, seed=n_obs)
    (param,) = space.parameters
    values = param.grid(10_000)
    rows = np.array([[param.to_internal(v)] for v in values])
    probs = np.exp(pe.log_pdf(rows))
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert (probs > 0).all()


@pytest.mark.parametrize(
    "spec",
    [{"_type": "uniform", "_value": [-2.0, 3.0]}, {"_type": "loguniform", "_value": [1e-5, 1.0]}],
    ids=lambda s: s["_type"],
)
def test_continuous_density_integrates_to_one(spec: dict[str, Any]) -> None:
    _, tuner, pe = _fitted(spec, 6, seed=0)
    lo, hi = tuner.encoder.low[0], tuner.encoder.high[0]
    grid = np.linspace(lo, hi, 200_001)
    dens = np.exp(pe.log_pdf(grid[:, None]))
    assert float(np.sum(dens) * (grid[1] - grid[0])) == pytest.approx(1.0, abs=1e-3)


def test_a_lone_observation_is_as_wide_as_its_distance_to_the_far_bound() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0.0, 1.0]}})
    tuner = TPETuner(space, mode="minimize", seed=0)
    pe = tuner._estimator(np.array([[0.2]]))
    assert pe.sigma[0, 0] == pytest.approx(0.8)
    assert pe.sigma[1, 0] == pytest.approx(1.0)  # the prior kernel
