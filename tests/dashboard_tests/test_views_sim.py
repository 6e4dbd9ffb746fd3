"""End to end: experiments run by the real manager on the simulate executor (PAUSE and resume,
warm starts, two objectives), then read through the dashboard's lineage, rungs and Pareto
endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.dashboard import _pareto
from hyperloom.store import StoreReader
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "sim_support"


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))


def _run(tmp_path: Path, tuner: str, n: int, steps: int, **kw: Any) -> Path:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(10))}},
        "trialConcurrency": n,
        "maxTrialNumber": n,
        "tuner": {"name": f"dash_sched:{tuner}", "codeDirectory": str(SUPPORT), "classArgs": kw},
        "trainingService": {
            "platform": "simulate",
            "function": "sim_support.curves:linear",
            "steps": steps,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    exp = Experiment.from_config(cfg)
    exp.run(dashboard=False)
    return Path(exp.dir)


def test_lineage_of_a_real_run(tmp_path: Path, live_server: Any) -> None:
    d = _run(tmp_path, "Chain", n=5, steps=10, every=3)
    srv = live_server([d])
    exp_id = d.name
    data = srv.get(f"/api/experiments/{exp_id}/lineage?members=5")
    nodes = {n["trial_id"]: n for n in data["nodes"]}
    by_x = {n["params"]["x"]: n for n in nodes.values()}
    assert sorted(by_x) == [0, 1, 2, 3, 4] and data["warm_started"] == 2
    with StoreReader(d) as r:
        warm = {e["trial_id"]: e["payload"] for e in r.events(kind="warm_start")}
        curves = {t: {s: v for s, v, _ in r.intermediate(t)} for t in nodes}
    child, grandchild = by_x[3], by_x[4]
    assert child["parent"] == by_x[2]["trial_id"]
    assert grandchild["parent"] == child["trial_id"] and grandchild["generation"] == 2
    assert child["perturbation"] == {"x": [2, 3]}
    for n in (child, grandchild):
        # the fork is the step of the checkpoint the manager restored; steps go on after it
        assert n["fork_step"] == warm[n["trial_id"]]["step"]
        assert n["first_step"] == n["fork_step"] + 1
    (stitched,) = [c for c in data["curves"] if c["trial_id"] == grandchild["trial_id"]]
    owners = [s["trial_id"] for s in stitched["segments"]]
    assert owners == [by_x[2]["trial_id"], child["trial_id"], grandchild["trial_id"]]
    steps = [p[0] for p in stitched["points"]]
    assert steps == list(range(10)), "one point per step, from the root's first to the last"
    x_of = {n["trial_id"]: n["params"]["x"] for n in nodes.values()}
    for step, value, owner in stitched["points"]:
        assert value == pytest.approx((x_of[owner] + 1) * (step + 1) / 10)
        assert curves[owner][step] == pytest.approx(value)


def test_rungs_of_a_real_run(tmp_path: Path, live_server: Any) -> None:
    d = _run(tmp_path, "Halving", n=9, steps=8, rungs=[2], eta=3)
    with StoreReader(d) as r:
        statuses = {t.trial_id: t.status for t in r.trials()}
        kinds = [e["kind"] for e in r.events()]
    assert kinds.count("paused") == 9 and kinds.count("resumed") == 3
    assert kinds.count("assessor") >= 9  # the verdicts are recorded too: no double count below
    srv = live_server([d])
    data = srv.get(f"/api/experiments/{d.name}/rungs")
    s = data["summary"]
    assert s["pauses"] == 9 and s["promotions"] == 3 and s["promoted_trials"] == 3
    assert s["deepest"] == 7 and s["paused_now"] == 0
    levels = {lv["step"]: lv for lv in data["levels"]}
    assert sorted(levels) == [2, 7]
    assert levels[2] == {
        "step": 2,
        "reached": 9,
        "ended": {"EARLY_STOPPED": 6},
        "paused": 9,
        "promoted": 3,
    }
    assert levels[7]["ended"] == {"SUCCEEDED": 3} and levels[7]["reached"] == 3
    rows = [dict(zip(data["trial_columns"], r, strict=True)) for r in data["trials"]]
    promoted = {r["trial_id"] for r in rows if r["promotions"]}
    assert promoted == {t for t, st in statuses.items() if st is TrialStatus.SUCCEEDED}
    # the three best at the rung (x = 6, 7, 8) were the ones resumed
    with StoreReader(d) as r:
        xs = {t.trial_id: t.params["x"] for t in r.trials()}
    assert sorted(xs[t] for t in promoted) == [6, 7, 8]


def test_pareto_of_a_real_run(tmp_path: Path, live_server: Any) -> None:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3, 4, 5]}},
        "trialConcurrency": 3,
        "maxTrialNumber": 6,
        "objectives": [{"name": "acc", "mode": "maximize"}, {"name": "size", "mode": "minimize"}],
        "constraints": [{"metric": "size", "max": 45}],
        "tuner": {"name": "dash_sched:Walk", "codeDirectory": str(SUPPORT)},
        "trainingService": {
            "platform": "simulate",
            "function": "sim_support.curves:tradeoff",
            "steps": 3,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    exp = Experiment.from_config(cfg)
    exp.run(dashboard=False)
    srv = live_server([Path(exp.dir)])
    data = srv.get(f"/api/experiments/{Path(exp.dir).name}/pareto")
    assert data["total"] == 6
    by_x = {}
    with StoreReader(exp.dir) as r:
        for t in r.trials():
            by_x[t.params["x"]] = t.trial_id
    flags = dict(zip(data["points"]["trial_id"], data["points"]["flags"], strict=True))
    # size = 10 x (+50 for x = 4): x = 5 (size 50) violates size <= 45; x = 4 (size 90) too
    assert {t for t, f in flags.items() if f & _pareto.INFEASIBLE} == {by_x[4], by_x[5]}
    # acc grows with x and size too: every feasible trial is on the front
    assert {t for t, f in flags.items() if f & _pareto.ON_FRONT} == {by_x[x] for x in range(4)}
    assert data["hypervolume"][-1][1] > 0
