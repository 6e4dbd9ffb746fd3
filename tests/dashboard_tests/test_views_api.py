"""The Pareto, lineage and rungs endpoints, on stores written through the real Store API, checked
against brute-force answers computed here."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperloom.dashboard import _pareto
from hyperloom.types import TrialStatus
from v2_support import make_mo, make_pbt, make_rungs, needs_v2


def _losses(trials: list[dict[str, Any]], modes: list[str]) -> np.ndarray:
    sign = np.array([-1.0 if m == "maximize" else 1.0 for m in modes])
    return np.array([t["values"] for t in trials]) * sign


def _brute_front(losses: np.ndarray) -> set[int]:
    out = set()
    for i, p in enumerate(losses):
        if not any(np.all(q <= p) and np.any(q < p) for q in losses):
            out.add(i)
    return out


def _grid_hv(losses: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume by coordinate compression: sum the cells of the grid that some point
    dominates (exact, and nothing like the sweep the dashboard uses)."""
    axes = [np.unique(np.append(losses[:, k], ref[k])) for k in range(losses.shape[1])]
    axes = [a[a <= ref[k]] for k, a in enumerate(axes)]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        lo = np.array([axes[k][i] for k, i in enumerate(cell)])
        if np.any(np.all(losses <= lo, axis=1)):
            total += float(np.prod([axes[k][i + 1] - axes[k][i] for k, i in enumerate(cell)]))
    return total


@pytest.mark.parametrize("n_obj", [2, 3])
def test_pareto_front_and_hypervolume(tmp_path: Path, live_server: Any, n_obj: int) -> None:
    store, trials = make_mo(tmp_path / "mo000001", n=30 if n_obj == 3 else 40, n_objectives=n_obj)
    srv = live_server([tmp_path / "mo000001"])
    d = srv.get("/api/experiments/mo000001/pareto")
    modes = [o["mode"] for o in d["objectives"]]
    assert [o["name"] for o in d["objectives"]][:2] == ["accuracy", "latency_ms"]
    assert d["constraints"] == [{"metric": "params", "max": 4e5}]
    assert d["total"] == len(trials) == d["shown"]
    feasible = [t for t in trials if t["params"] <= 4e5]
    infeasible = {t["trial_id"] for t in trials if t["params"] > 4e5}
    assert infeasible, "the fixture should have constraint violations"
    losses = _losses(feasible, modes)
    want_front = {feasible[i]["trial_id"] for i in _brute_front(losses)}
    flags = dict(zip(d["points"]["trial_id"], d["points"]["flags"], strict=True))
    # the columns: one entry per point, the values one list per objective, in sequence order
    pts = d["points"]
    assert len(pts["values"]) == n_obj and all(len(v) == len(trials) for v in pts["values"])
    assert pts["sequence"] == sorted(pts["sequence"])
    by_id = {t["trial_id"]: t for t in trials}
    for k, tid in enumerate(pts["trial_id"]):
        assert [col[k] for col in pts["values"]] == pytest.approx(by_id[tid]["values"])
    assert {t for t, f in flags.items() if f & _pareto.ON_FRONT} == want_front
    assert {t for t, f in flags.items() if f & _pareto.INFEASIBLE} == infeasible
    assert d["front_size"] == len(want_front) and d["infeasible"] == len(infeasible)
    # the reference point: worst feasible value + 10% of the range, in the objectives' units
    vals = np.array([t["values"] for t in feasible])
    for k, mode in enumerate(modes):
        lo, hi = vals[:, k].min(), vals[:, k].max()
        want = lo - 0.1 * (hi - lo) if mode == "maximize" else hi + 0.1 * (hi - lo)
        assert d["reference"][k] == pytest.approx(want)
    ref = np.array(d["reference"]) * np.array([-1.0 if m == "maximize" else 1.0 for m in modes])
    hv = d["hypervolume"]
    assert hv[-1][0] == trials[-1]["sequence"]
    assert hv[-1][1] == pytest.approx(_grid_hv(losses, ref), rel=1e-9)
    assert all(b[1] >= a[1] - 1e-12 for a, b in itertools.pairwise(hv))
    # the hypervolume after trial k counts the feasible trials up to k only
    k = len(trials) // 2
    seq_k = hv[k][0]
    prefix = [t for t in feasible if t["sequence"] <= seq_k]
    assert hv[k][1] == pytest.approx(_grid_hv(_losses(prefix, modes), ref), rel=1e-9)
    store.close()


def test_pareto_samples_dominated_points_never_the_front(
    tmp_path: Path, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = make_mo(tmp_path / "mo000001", n=60)
    monkeypatch.setattr(_pareto, "MAX_DOMINATED", 10)
    srv = live_server([tmp_path / "mo000001"])
    d = srv.get("/api/experiments/mo000001/pareto")
    front = [f for f in d["points"]["flags"] if f & _pareto.ON_FRONT]
    assert len(front) == d["front_size"] > 0
    assert d["shown"] == len(d["points"]["flags"]) == d["front_size"] + 10
    assert d["total"] == 60
    store.close()


def test_pareto_values_from_metrics_without_stored_values(tmp_path: Path, live_server: Any) -> None:
    """A trial recorded without ``values`` (one report_final value and named metrics) takes its
    other objectives from the final metrics."""
    needs_v2()
    from hyperloom.store import Store
    from v2_support import MO_SPACE, mo_config

    d = tmp_path / "mo000002"
    d.mkdir()
    store = Store.create(
        d, experiment_id="mo000002", name="mo", config=mo_config(2, None), space=MO_SPACE
    )
    pts = [(0.9, 5.0), (0.8, 2.0), (0.7, 3.0), (0.95, 9.0)]
    for i, (acc, lat) in enumerate(pts):
        tid = f"x{i}"
        store.add_trial(tid, store.allocate_sequence(), {"width": 8, "depth": 1})
        store.start_trial(tid, started=1.0)
        store.set_final(tid, acc, {"latency_ms": lat})
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=2.0, exit_code=0)
    store.add_trial("x9", store.allocate_sequence(), {"width": 8, "depth": 1})  # no value
    srv = live_server([d])
    data = srv.get("/api/experiments/mo000002/pareto")
    assert data["total"] == 4
    pts = data["points"]
    on = sorted(
        t for t, f in zip(pts["trial_id"], pts["flags"], strict=True) if f & _pareto.ON_FRONT
    )
    assert on == ["x0", "x1", "x3"]  # (0.7, 3.0) is dominated by (0.8, 2.0)
    assert data["reference"] == pytest.approx([0.7 - 0.025, 9.0 + 0.7])
    # a new trial that beats every other one: the (cached) answer follows the store
    store.add_trial("x10", store.allocate_sequence(), {"width": 8, "depth": 1})
    store.start_trial("x10", started=1.0)
    store.set_final("x10", 0.99, {"latency_ms": 1.0})
    store.finish_trial("x10", TrialStatus.SUCCEEDED, ended=2.0, exit_code=0)
    again = srv.get("/api/experiments/mo000002/pareto")
    assert again["total"] == 5
    pts = again["points"]
    assert [
        t for t, f in zip(pts["trial_id"], pts["flags"], strict=True) if f & _pareto.ON_FRONT
    ] == ["x10"]
    ov = srv.get("/api/experiments/mo000002?summary=1&best=0")
    assert ov["features"]["pareto"] is True
    assert ov["features"]["objectives"] == ["accuracy", "latency_ms"]
    store.close()


def test_pareto_of_a_single_objective_experiment(make_experiment: Any, live_server: Any) -> None:
    d, _ = make_experiment("exp00001", n=8)
    srv = live_server([d])
    data = srv.get("/api/experiments/exp00001/pareto")
    assert data["objectives"] == [{"name": "value", "mode": "maximize"}]
    assert data["total"] == 6  # the succeeded ones
    assert data["front_size"] == 1  # the best
    ov = srv.get("/api/experiments/exp00001")
    assert ov["features"]["pareto"] is False and ov["features"]["lineage"] is False
    assert ov["features"]["rungs"] is True  # an assessor, and trials stopped early


def test_lineage_tree_and_stitched_curves(tmp_path: Path, live_server: Any) -> None:
    store = make_pbt(tmp_path / "pbt00001", population=4, generations=3, interval=5)
    srv = live_server([tmp_path / "pbt00001"])
    d = srv.get("/api/experiments/pbt00001/lineage?members=2")
    nodes = {n["trial_id"]: n for n in d["nodes"]}
    assert len(nodes) == 6 and d["warm_started"] == 2
    # generation 1: the worst (g0m0, lr .01) is replaced by a copy of the best (g0m3, lr .04)
    assert nodes["g1m0"]["parent"] == "g0m3" and nodes["g1m0"]["fork_step"] == 4
    assert nodes["g1m0"]["perturbation"] == {"lr": [0.04, pytest.approx(0.048)]}
    assert nodes["g2m0"]["parent"] == "g1m0" and nodes["g2m0"]["fork_step"] == 9
    assert nodes["g2m0"]["generation"] == 2 and nodes["g0m3"]["children"] == 1
    assert nodes["g0m0"]["status"] == "EARLY_STOPPED" and nodes["g0m0"]["last_step"] == 4
    curves = {c["trial_id"]: c for c in d["curves"]}
    assert set(curves) == {"g2m0", "g1m0"}  # the best two
    c = curves["g2m0"]
    assert c["segments"] == [
        {"trial_id": "g0m3", "from": 0, "to": 4},
        {"trial_id": "g1m0", "from": 5, "to": 9},
        {"trial_id": "g2m0", "from": 10, "to": 14},
    ]
    lrs = {"g0m3": 0.04, "g1m0": 0.048, "g2m0": 0.0576}
    assert [p[0] for p in c["points"]] == list(range(15))
    for step, value, owner in c["points"]:
        assert value == pytest.approx(lrs[owner] * 10 + step)
    # a trial with children is sent when asked for: its own reports only past its fork
    d2 = srv.get("/api/experiments/pbt00001/lineage?members=1&trial=g1m0")
    c2 = {c["trial_id"]: c for c in d2["curves"]}["g1m0"]
    assert [s["trial_id"] for s in c2["segments"]] == ["g0m3", "g1m0"]
    assert c2["points"][-1][0] == 14
    ov = srv.get("/api/experiments/pbt00001?summary=1&best=0")
    assert ov["features"]["lineage"] is True
    status, body, _ = srv.request("GET", "/api/experiments/pbt00001/lineage?members=lots")
    assert status == 400 and "members" in body["error"]
    store.close()


def test_rungs_pauses_and_promotions(tmp_path: Path, live_server: Any) -> None:
    store = make_rungs(tmp_path / "hb000001", n=9)
    srv = live_server([tmp_path / "hb000001"])
    d = srv.get("/api/experiments/hb000001/rungs")
    s = d["summary"]
    assert s["trials"] == 9 and s["paused_now"] == 1 and s["deepest"] == 8
    assert s["promoted_trials"] == 3  # three resumed from step 0, one of them again from 2
    assert s["promotions"] == 4 and s["pauses"] == 12
    levels = {lv["step"]: lv for lv in d["levels"]}
    assert sorted(levels) == [0, 2, 8]
    assert levels[0]["reached"] == 9 and levels[2]["reached"] == 3 and levels[8]["reached"] == 1
    assert levels[0]["paused"] == 9 and levels[0]["promoted"] == 3
    assert levels[2]["paused"] == 3 and levels[2]["promoted"] == 1
    assert levels[0]["ended"] == {"EARLY_STOPPED": 5, "PAUSED": 1}
    assert levels[8]["ended"] == {"SUCCEEDED": 1}
    by_id = {r[0]: dict(zip(d["trial_columns"], r, strict=True)) for r in d["trials"]}
    assert by_id["r05"]["paused_at"] == [0, 2] and by_id["r05"]["promotions"] == 2
    assert by_id["r08"]["status"] == "PAUSED" and by_id["r08"]["promotions"] == 0
    assert srv.get("/api/experiments/hb000001?summary=1")["features"]["rungs"] is True
    store.close()


def test_pages_of_a_v1_store(make_experiment: Any, live_server: Any) -> None:
    """A store without the schema v2 columns (read-only, not migrated): every page still
    answers, from the value and the final metrics alone."""
    import sqlite3

    d, store = make_experiment("exp00001", n=8)
    store.close()
    conn = sqlite3.connect(d / "experiment.db")
    cols = {r[1] for r in conn.execute("PRAGMA table_info(trials)")}
    for c in ("values_json", "parent", "checkpoint_json", "perturbation_json"):
        if c in cols:
            conn.execute(f"ALTER TABLE trials DROP COLUMN {c}")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    srv = live_server([d])
    assert srv.get("/api/experiments/exp00001/pareto")["total"] == 6
    lin = srv.get("/api/experiments/exp00001/lineage")
    assert lin["warm_started"] == 0 and all(n["parent"] is None for n in lin["nodes"])
    assert srv.get("/api/experiments/exp00001/rungs")["summary"]["trials"] == 8
    assert srv.get("/api/experiments/exp00001")["features"]["lineage"] is False
    detail = srv.get("/api/experiments/exp00001/trials/t0000")
    assert detail["parent"] is None and detail["checkpoint"] is None
