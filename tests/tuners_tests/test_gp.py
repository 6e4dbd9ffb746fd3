"""The GP tuner: beats random search on Branin, handles conditional/integer/categorical spaces,
spreads concurrent suggestions and resumes deterministically."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hyperloom.space import SearchSpace
from hyperloom.tuners.gp import GPTuner
from hyperloom.tuners.random import RandomTuner
from hyperloom.types import TrialResult, TrialStatus

BRANIN = {
    "x": {"_type": "uniform", "_value": [-5, 10]},
    "y": {"_type": "uniform", "_value": [0, 15]},
}
BRANIN_OPT = 0.397887


def _branin(p: dict[str, Any]) -> float:
    x, y = p["x"], p["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10)


def _res(i: int, p: dict[str, Any], v: float | None) -> TrialResult:
    st = TrialStatus.SUCCEEDED if v is not None else TrialStatus.FAILED
    return TrialResult(str(i), p, st, v, (), i)


def _best(tuner: Any, n: int) -> float:
    best = math.inf
    for i in range(n):
        p = tuner.suggest(str(i))
        assert p is not None
        v = _branin(p)
        best = min(best, v)
        tuner.observe(_res(i, p, v))
    return best - BRANIN_OPT


def test_branin_beats_random() -> None:
    space = SearchSpace.from_nni(BRANIN)
    gp = [_best(GPTuner(space, mode="minimize", seed=s), 40) for s in range(3)]
    rnd = [_best(RandomTuner(space, mode="minimize", seed=s), 40) for s in range(3)]
    assert float(np.median(gp)) < float(np.median(rnd))
    assert float(np.median(gp)) < 0.1


MIXED = {
    "n": {"_type": "randint", "_value": [1, 20]},
    "q": {"_type": "quniform", "_value": [0, 10, 2]},
    "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "opt": {
        "_type": "choice",
        "_value": [
            {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0, 1]}},
            {"_name": "adam", "beta": {"_type": "uniform", "_value": [0.8, 0.999]}},
            {"_name": "none"},
        ],
    },
    "act": {"_type": "choice", "_value": ["relu", "tanh", "gelu"]},
}


def _mixed_obj(p: dict[str, Any]) -> float:
    v = abs(p["n"] - 7) + abs(p["q"] - 4) + abs(math.log10(p["lr"]) + 2)
    return (
        float(v)
        + (0.0 if p["act"] == "gelu" else 1.0)
        + (0.0 if p["opt"]["_name"] == "adam" else 2.0)
    )


def test_conditional_integer_categorical_valid() -> None:
    space = SearchSpace.from_nni(MIXED)
    t = GPTuner(space, mode="minimize", seed=0)
    vals = []
    for i in range(30):
        p = t.suggest(str(i))
        assert p is not None
        space.validate(p)
        assert isinstance(p["n"], int)
        v = _mixed_obj(p)
        vals.append(v)
        t.observe(_res(i, p, v if i % 9 else None))  # some failures
    assert min(vals[10:]) <= min(vals[:10])


def test_pending_spread() -> None:
    space = SearchSpace.from_nni(BRANIN)
    t = GPTuner(space, mode="minimize", seed=1)
    for i in range(10):
        p = t.suggest(str(i))
        assert p is not None
        t.observe(_res(i, p, _branin(p)))
    batch: list[dict[str, Any]] = []
    for i in range(8):
        q = t.suggest(f"p{i}")
        assert q is not None
        batch.append(q)
    keys = {(round(p["x"], 6), round(p["y"], 6)) for p in batch}
    assert len(keys) == 8
    xy = np.array([[p["x"] / 15, p["y"] / 15] for p in batch])
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    assert d[np.triu_indices(8, 1)].min() > 1e-3


def test_resume_determinism() -> None:
    space = SearchSpace.from_nni(MIXED)
    a = GPTuner(space, mode="minimize", seed=5)
    log = []
    for i in range(15):
        p = a.suggest(str(i))
        assert p is not None
        r = _res(i, p, _mixed_obj(p))
        a.observe(r)
        log.append(r)
    b = GPTuner(space, mode="minimize", seed=5)
    for r in log:
        b.observe(r)
    assert a.suggest("x") == b.suggest("x")
