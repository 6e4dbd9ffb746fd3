"""hyperloom.importance: fANOVA on the numpy forest, against answers known in advance."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from explain_support import EXPLAIN_SPACE, build_explain
from hyperloom.importance import encode, experiment_importance, fit, importance
from hyperloom.space import SearchSpace

SPACE: dict[str, Any] = {
    "a": {"_type": "uniform", "_value": [0.0, 1.0]},
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "opt": {"_type": "choice", "_value": ["sgd", "adam", "rmsprop"]},
    "n": {"_type": "randint", "_value": [1, 9]},
    "b": {"_type": "uniform", "_value": [-3.0, 3.0]},
    "batch": {"_type": "choice", "_value": [16, 32, 64]},
}


def _sample(n: int, seed: int, space: dict[str, Any] = SPACE) -> list[dict[str, Any]]:
    s = SearchSpace.from_nni(space)
    rng = np.random.default_rng(seed)
    return [s.sample(rng) for _ in range(n)]


def test_additive_shares_match_the_analytic_variance() -> None:
    # f = 2a + u(lr) with a, u uniform on [0, 1]: Var = 4/12 + 1/12, shares 0.8 and 0.2,
    # nothing from the other four (and no interaction: the shares add up to one)
    params = _sample(400, 0)
    y = [2 * p["a"] + (math.log10(p["lr"]) + 5) / 4 for p in params]
    r = importance(params, y, SPACE, n_trees=24)
    assert r.ranking()[:2] == ["a", "lr"]
    assert r["a"] == pytest.approx(0.8, abs=0.06)
    assert r["lr"] == pytest.approx(0.2, abs=0.06)
    assert sum(p.importance for p in r.params[2:]) < 0.03
    assert r.oob_r2 is not None and r.oob_r2 > 0.9
    assert r.n_trials == 400 and r.n_trees == 24


def test_a_choice_and_an_integer_that_matter() -> None:
    effect = {"sgd": 0.0, "adam": 1.0, "rmsprop": 0.4}
    params = _sample(150, 1)
    y = [
        effect[p["opt"]] + 0.15 * p["n"] + np.random.default_rng(i).normal(0, 0.02)
        for i, p in enumerate(params)
    ]
    r = importance(params, y, SPACE, seed=3)
    assert set(r.ranking()[:2]) == {"opt", "n"}
    kinds = {p.name: p.kind for p in r.params}
    assert kinds == {
        "a": "float",
        "lr": "log",
        "opt": "categorical",
        "n": "int",
        "b": "float",
        "batch": "categorical",
    }


def test_noise_has_no_clear_winner_and_says_so() -> None:
    params = _sample(80, 2)
    y = list(np.random.default_rng(0).normal(size=80))
    r = importance(params, y, SPACE)
    assert r.oob_r2 is not None and r.oob_r2 < 0.2  # the page warns below 0.2


COND: dict[str, Any] = {
    "optimizer": {
        "_type": "choice",
        "_value": [
            {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0.0, 0.99]}},
            {"_name": "adam", "beta1": {"_type": "uniform", "_value": [0.8, 0.999]}},
            {"_name": "lamb"},
        ],
    },
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.5]},
}


def test_conditional_parameters_do_not_take_their_parents_share() -> None:
    params = _sample(200, 4, COND)
    effect = {"sgd": 0.0, "adam": 1.0, "lamb": 0.5}
    y = [effect[p["optimizer"]["_name"]] + ((math.log10(p["lr"]) + 3) ** 2) / 4 for p in params]
    r = importance(params, y, COND)
    assert set(r.ranking()[:2]) == {"optimizer", "lr"}
    by = {p.name: p for p in r.params}
    # readable names for nested parameters, flagged conditional, with how often they were active
    assert by["optimizer/sgd/momentum"].conditional and by["optimizer/adam/beta1"].conditional
    n_sgd = sum(p["optimizer"]["_name"] == "sgd" for p in params)
    assert by["optimizer/sgd/momentum"].n_active == n_sgd
    assert by["optimizer/sgd/momentum"].importance < 0.03
    assert by["optimizer/adam/beta1"].importance < 0.03


def test_a_conditional_parameter_that_matters_where_active() -> None:
    params = _sample(300, 5, COND)
    other = {"adam": 3.0, "lamb": 0.5}
    y = [
        3 * p["optimizer"]["momentum"]
        if p["optimizer"]["_name"] == "sgd"
        else other[p["optimizer"]["_name"]]
        for p in params
    ]
    r = importance(params, y, COND)
    assert r.ranking()[:2] == ["optimizer", "optimizer/sgd/momentum"]
    # analytically: Var of its marginal (3m / 3 over m in [0, 0.99]) = 0.0817 of a total 1.302
    assert r["optimizer/sgd/momentum"] == pytest.approx(0.0627, abs=0.015)
    assert max(r["lr"], r["dropout"]) < min(0.06, r["optimizer/sgd/momentum"] / 4)


def test_without_a_space_types_are_inferred() -> None:
    params = _sample(120, 6)
    y = [p["b"] ** 2 + (p["opt"] == "adam") for p in params]
    r = importance(params, y)  # no space
    assert set(r.ranking()[:2]) == {"b", "opt"}
    kinds = {p.name: p.kind for p in r.params}
    assert kinds["lr"] == "log" and kinds["opt"] == "categorical" and kinds["n"] == "int"


def test_rows_outside_the_space_and_bad_values_are_dropped() -> None:
    params = _sample(30, 7)
    params[0] = {"a": "not a number"}
    y: list[Any] = [p.get("a", 0) if isinstance(p.get("a"), float) else 0.0 for p in params]
    y[1] = math.nan
    _dims, _x, keep = encode(params, SPACE)
    assert not keep[0] and keep[1:].all()
    f = fit(params, y, SPACE, n_trees=4)
    assert f.n_rows == 28
    r = importance(params[:1], [1.0], SPACE)  # too few rows: an empty, not a crash
    assert r.n_trials == 0 and all(p.importance == 0 for p in r.params)
    with pytest.raises(ValueError, match="2 parameter sets but 1 values"):
        importance(params[:2], [1.0], SPACE)


def test_marginals_follow_the_function() -> None:
    params = _sample(300, 8)
    y = [(p["a"] - 0.3) ** 2 for p in params]
    f = fit(params, y, SPACE, n_trees=16)
    j = [d.name for d in f.dims].index("a")
    pts = f.grid(j, 20)
    mean, _std = f.marginal(j, pts)
    assert abs(float(pts[int(np.argmin(mean))]) - 0.3) < 0.1  # the valley is where it is
    assert mean[-1] > mean[int(np.argmin(mean))] + 0.3
    z = f.marginal2(j, [d.name for d in f.dims].index("b"), pts, f.grid(4, 10))
    assert z.shape == (20, 10)
    assert np.allclose(z.mean(axis=1), mean, atol=0.03)  # b does not matter: rows ≈ marginal


def test_experiment_importance_reads_a_store(tmp_path: Path) -> None:
    from hyperloom.history import ExperimentView

    build_explain(tmp_path / "exp1", n=90, seed=3).close()
    with ExperimentView(tmp_path / "exp1") as view:
        r = experiment_importance(view)
    assert r.ranking()[:2] == ["lr", "batch_size"]
    assert r.n_trials == sum(1 for i in range(90) if i % 9 != 4 and i % 17 != 11)
    assert set(r.ranking()) == {
        "lr",
        "batch_size",
        "dropout",
        "layers",
        "warmup",
        "optimizer",
        "optimizer/sgd/momentum",
    }
    assert EXPLAIN_SPACE["lr"]["_type"] == "loguniform"


def test_cli_table_and_json(tmp_path: Path) -> None:
    import json

    import hyperloom.cli.importance  # noqa: F401  (registers the command)
    from hyperloom.cli import app
    from typer.testing import CliRunner

    build_explain(tmp_path / "exp2", n=60, seed=4).close()
    runner = CliRunner()
    res = runner.invoke(app, ["importance", str(tmp_path / "exp2"), "--json", "--trees", "8"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["experiment"] == "exp2" and data["objective"] == "default"
    assert {p["name"] for p in data["params"][:2]} == {"lr", "batch_size"}
    res = runner.invoke(app, ["importance", str(tmp_path / "exp2"), "--trees", "8"])
    assert res.exit_code == 0 and "batch_size" in res.output and "R²" in res.output
    res = runner.invoke(app, ["importance", str(tmp_path / "exp2"), "--objective", "acc"])
    assert res.exit_code != 0


def test_api_endpoint(tmp_path: Path, live_server: Any) -> None:
    build_explain(tmp_path / "exp3", n=70, seed=5).close()
    srv = live_server([tmp_path / "exp3"])
    d = srv.get("/api/experiments/exp3/importance")
    top = [p["name"] for p in d["params"][:2]]
    assert set(top) == {"lr", "batch_size"}
    assert d["method"] == "fanova" and d["objective"] == "value" and d["mode"] == "maximize"
    early = [i for i in range(70) if i % 9 == 4]
    failed = [i for i in range(70) if i % 17 == 11 and i not in early]
    assert d["left_out"] == {"EARLY_STOPPED": len(early), "FAILED": len(failed)}
    assert d["n_trials"] == 70 - len(early) - len(failed)
    ct = d["contour"]
    assert [ct["x"], ct["y"]] == top  # the two most important by default
    ct = srv.get("/api/experiments/exp3/importance?x=lr&y=batch_size")["contour"]
    assert ct["ys"] == ["16", "32", "64", "128", "256"] and len(ct["z"]) == 5
    assert all(len(row) == len(ct["xs"]) for row in ct["z"])
    # the forest's best lr cell is near the known optimum, 10^-2.7
    best = max(range(len(ct["xs"])), key=lambda i: sum(r[i] for r in ct["z"]))
    assert abs(math.log10(ct["xs"][best]) + 2.7) < 0.6
    lr = d["marginals"]["lr"]
    assert lr["kind"] == "log" and len(lr["x"]) == len(lr["mean"]) == len(lr["std"])
    assert len(d["points"]) == d["n_trials"] and len(d["points"][0][2]) == len(d["names"])
    other = srv.get("/api/experiments/exp3/importance?x=dropout&y=layers")
    assert (other["contour"]["x"], other["contour"]["y"]) == ("dropout", "layers")
    same = srv.get("/api/experiments/exp3/importance?x=nope&y=nope")
    assert same["contour"]["x"] == top[0]
    status, body, _ = srv.request("GET", "/api/experiments/exp3/importance?x=" + "a" * 300)
    assert status == 400 and "too long" in body["error"]


def test_api_with_too_few_trials(tmp_path: Path, live_server: Any) -> None:
    build_explain(tmp_path / "exp4", n=6, seed=6).close()
    srv = live_server([tmp_path / "exp4"])
    d = srv.get("/api/experiments/exp4/importance")
    assert d["params"] == [] and d["contour"] is None and d["n_trials"] < d["min_trials"]
