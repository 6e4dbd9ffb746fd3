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
FAST = {"n_candidates": 128, "n_restarts": 3, "max_iter": 20}


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
    gp = [_best(GPTuner(space, mode="minimize", seed=s, **FAST), 40) for s in range(3)]
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
    t = GPTuner(space, mode="minimize", seed=0, **FAST)
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


UNIT = {"x": {"_type": "uniform", "_value": [0, 1]}, "y": {"_type": "uniform", "_value": [0, 1]}}


def test_parego_finds_a_spread_front() -> None:
    """Two objectives: f1 = x, f2 = 1 - x + 5 (y - 0.3)^2 (Pareto set y = 0.3, any x). ParEGO's
    suggestions must move to y ~ 0.3 (random search: |y - 0.3| ~ 0.27 on average) while the
    random weights keep x spread along the front."""
    from hyperloom.types import Objective

    objs = (Objective("f1", "minimize"), Objective("f2", "minimize"))
    t = GPTuner(SearchSpace.from_nni(UNIT), seed=3, objectives=objs, **FAST)
    assert t.multi_objective
    late = []
    for i in range(30):
        p = t.suggest(str(i))
        assert p is not None
        vals = (p["x"], 1 - p["x"] + 5 * (p["y"] - 0.3) ** 2)
        t.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, vals[0], (), i, values=vals))
        if i >= 15:
            late.append((p["x"], p["y"]))
    arr = np.array(late)
    assert float(np.median(np.abs(arr[:, 1] - 0.3))) < 0.1
    assert float(np.std(arr[:, 0])) > 0.1


def test_constraint_keeps_search_feasible() -> None:
    """Minimise (x - 0.8)^2 subject to the reported metric c = x <= 0.5: the best feasible
    point is x = 0.5; infeasible trials must push the model back below 0.5."""
    from hyperloom.types import Constraint

    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    t = GPTuner(space, mode="minimize", seed=0, constraints=[Constraint("c", max=0.5)], **FAST)
    xs = []
    for i in range(25):
        p = t.suggest(str(i))
        assert p is not None
        r = TrialResult(
            str(i), p, TrialStatus.SUCCEEDED, (p["x"] - 0.8) ** 2, (), i, metrics={"c": p["x"]}
        )
        t.observe(r)
        xs.append(p["x"])
    feas = [x for x in xs if x <= 0.5]
    assert feas and abs(max(feas) - 0.5) < 0.03
    assert sum(x > 0.5 for x in xs[12:]) <= 4  # mostly feasible once the model knows


def test_stopped_trials_are_imputed_pessimistically() -> None:
    """An early-stopped trial with the best raw value is modelled as no better than the median
    finished trial and never becomes the incumbent; a failed one gets the worst target."""
    space = SearchSpace.from_nni(UNIT)
    t = GPTuner(space, mode="minimize", seed=0, n_startup=2, **FAST)
    vals = [3.0, 2.0, 1.0, 4.0]
    for i, v in enumerate(vals):
        p = t.suggest(str(i))
        assert p is not None
        t.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, v, (), i))
    p = t.suggest("s")
    assert p is not None
    t.observe(TrialResult("s", p, TrialStatus.EARLY_STOPPED, 0.1, (0.5, 0.1), 4))
    p = t.suggest("f")
    assert p is not None
    t.observe(TrialResult("f", p, TrialStatus.FAILED, None, (), 5))
    y, incumbent = t._targets(None)
    assert y[4] == float(np.median(vals))  # max(0.1, median of finished)
    assert y[5] == max(vals)
    assert list(incumbent) == [True, True, True, True, False, False]
    assert t._model(None).best == 1.0
    assert t.suggest("next") is not None


def test_log_ei_and_posterior_gradients_match_finite_differences() -> None:
    from hyperloom.tuners.gp._kernel import fit_gp, log_ei, log_ei_grad

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(25, 3))
    gp = fit_gp(x, np.sin(5 * x).sum(axis=1))
    q = rng.uniform(size=(5, 3))
    mu, sd, dmu, dsd = gp.predict_grad(q)
    mu0, sd0 = gp.predict(q)
    assert np.allclose(mu, mu0) and np.allclose(sd, sd0)
    eps = 1e-6
    for j in range(3):
        qq = q.copy()
        qq[:, j] += eps
        m1, s1 = gp.predict(qq)
        assert np.allclose((m1 - mu) / eps, dmu[:, j], atol=1e-3, rtol=1e-3)
        assert np.allclose((s1 - sd) / eps, dsd[:, j], atol=1e-3, rtol=1e-3)
    # log EI: every branch (z > -1, the erfcx range, the asymptotic tail) and its derivatives
    m = np.array([0.0, 1.5, 6.0, 40.0, 2000.0])
    s = np.array([1.0, 0.5, 0.4, 1.0, 1.0])
    val, d_mu, d_sd = log_ei_grad(m, s, 0.0)
    assert np.all(np.isfinite(val)) and np.all(np.diff(val) < 0)
    h = 1e-7
    assert np.allclose((log_ei(m + h, s, 0.0) - val) / h, d_mu, rtol=1e-3, atol=1e-3)
    assert np.allclose((log_ei(m, s + h, 0.0) - val) / h, d_sd, rtol=1e-3, atol=1e-2)
    # continuity across the branch points z = -1 and z = -1000
    for z in (-1.0, -1000.0):
        a = log_ei(np.array([-z + 1e-9, -z - 1e-9]), np.ones(2), 0.0)
        assert abs(a[0] - a[1]) < 1e-6 * max(1.0, abs(a[0]))


def test_output_warping_keeps_the_order_and_compresses_the_tail() -> None:
    import pytest
    from hyperloom.errors import PluginError
    from hyperloom.tuners.gp._tuner import warp_output

    y = np.array([0.5, 1.0, 2.0, 10.0, 100.0, 3000.0])
    w = warp_output(y, "yj")
    assert list(np.argsort(w)) == list(np.argsort(y))  # order-preserving
    # the heavy tail is compressed relative to the spread of the good points
    assert (w[-1] - w[-2]) / (w[2] - w[0]) < (y[-1] - y[-2]) / (y[2] - y[0]) / 5
    assert warp_output(y, "none") is y
    space = SearchSpace.from_nni(BRANIN)
    t = GPTuner(space, mode="minimize", seed=0, n_startup=4, warp="yj", **FAST)
    for i in range(8):
        p = t.suggest(str(i))
        assert p is not None and space.contains(p)
        t.observe(_res(i, p, _branin(p)))
    with pytest.raises(PluginError):
        GPTuner(space, warp="box-cox")
