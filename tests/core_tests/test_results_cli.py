"""Reading multi-objective and lineage results from the CLI and the Python API: Pareto flags,
values, export columns and the family tree, on experiments run through the real manager."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment, open_experiment
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "lineage_support"
HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SUPPORT.parent)}
    return subprocess.run(
        [*HYPERLOOM, *args], capture_output=True, text=True, timeout=60, env=env
    )


def mo_experiment(tmp_path: Path, **kw: Any) -> Experiment:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3, 4, 5]}},
        "trialConcurrency": 1,
        "maxTrialNumber": 6,
        "tuner": {"name": "lineage_sched:TwoObjectives", "codeDirectory": str(SUPPORT)},
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:tradeoff",
            "steps": 3,
        },
        "objectives": [{"name": "acc", "mode": "maximize"}, {"name": "size", "mode": "minimize"}],
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    exp = Experiment.from_config(cfg)
    exp.run(dashboard=False)
    return exp


def test_pareto_front_from_the_api_and_the_cli(tmp_path: Path) -> None:
    exp = mo_experiment(tmp_path)
    # tradeoff: acc rises with x, size rises with x, except x=4 which is dominated by x=3
    with open_experiment(exp.dir) as view:
        front = view.pareto_front()
        assert [t.params["x"] for t in front] == [5, 3, 2, 1, 0]
        assert view.best(n=2) == front[:2]
    out = run_cli("trials", str(exp.dir), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    flags = {r["params"]["x"]: r["pareto"] for r in rows}
    assert flags == {0: True, 1: True, 2: True, 3: True, 4: False, 5: True}
    assert all(len(r["values"]) == 2 for r in rows)
    status = json.loads(run_cli("status", str(exp.dir), "--json").stdout)
    assert [t["params"]["x"] for t in status["pareto_front"]] == [5, 3, 2, 1, 0]
    assert [o["name"] for o in status["objectives"]] == ["acc", "size"]
    text = run_cli("trials", str(exp.dir), "--pareto").stdout
    assert text.count(" * │") == 5, text
    table = run_cli("status", str(exp.dir)).stdout
    assert "5 trials on the front" in table


def test_export_carries_every_objective(tmp_path: Path) -> None:
    exp = mo_experiment(tmp_path)
    out = run_cli("export", str(exp.dir))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {"objective/acc", "objective/size"} <= set(rows[0])
    by_x = {r["param/x"]: r for r in rows}
    assert float(by_x["4"]["objective/size"]) == 4 * 10 + 50


def test_constraints_keep_infeasible_trials_off_the_front(tmp_path: Path) -> None:
    exp = mo_experiment(tmp_path, constraints=[{"metric": "size", "max": 25}])
    with open_experiment(exp.dir) as view:
        assert len(view.trials()) == 6, "infeasible trials stay recorded"
        assert [t.params["x"] for t in view.pareto_front()] == [2, 1, 0]


def test_family_tree_shows_the_warm_started_trial_under_its_parent(tmp_path: Path) -> None:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2]}},
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "tuner": {"name": "lineage_sched:Exploit", "codeDirectory": str(SUPPORT)},
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:linear",
            "steps": 6,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    exp = Experiment.from_config(cfg)
    first, child = exp.run(dashboard=False)
    assert child.status == TrialStatus.SUCCEEDED
    out = run_cli("trials", str(exp.dir), "--tree")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if first.trial_id in line)
    j = next(i for i, line in enumerate(lines) if child.trial_id in line)
    assert j > i and lines[j].index(child.trial_id) > lines[i].index(first.trial_id), out.stdout
    assert "x: 1 -> 2" in lines[j]
    rows = json.loads(run_cli("trials", str(exp.dir), "--json").stdout)
    assert rows[1]["parent"] == first.trial_id and rows[1]["perturbation"] == {"x": "1 -> 2"}


def test_budget_follows_the_one_budget_rule(tmp_path: Path) -> None:
    from hyperloom.store import Store

    exp_dir = tmp_path / "e"
    exp_dir.mkdir()
    store = Store.create(
        exp_dir, experiment_id="b1", name="b", config={"maxTrialNumber": 4}, space={}
    )
    for i, status in enumerate(["SUCCEEDED", "CANCELED", "FAILED", "CANCELED", "RUNNING"]):
        tid = f"T{i + 1:04d}"
        store.add_trial(tid, store.allocate_sequence(), {"x": i})
        store.start_trial(tid, started=1.0)
        if status != "RUNNING":
            store.finish_trial(tid, status, ended=2.0, value=1.0 if status == "SUCCEEDED" else None)
    store.close()
    with open_experiment(exp_dir) as view:
        # canceled trials gave their budget back, as the live progress line counts them
        assert view.budget()["trials"] == (3, 4)


def test_constraints_reach_the_tuners_that_take_them(tmp_path: Path) -> None:
    exp = mo_experiment(
        tmp_path,
        tuner={"name": "tpe", "classArgs": {"seed": 1}},
        constraints=[{"metric": "size", "max": 25}],
        maxTrialNumber=4,
    )
    assert [c.metric for c in exp.manager.tuner.constraints] == ["size"]
    assert len(exp.manager.tuner.objectives) == 2


def test_the_trial_budget_reaches_tuners_that_take_it(tmp_path: Path) -> None:
    exp = mo_experiment(tmp_path, tuner={"name": "auto"}, maxTrialNumber=3)
    assert exp.manager.tuner.budget == 3
