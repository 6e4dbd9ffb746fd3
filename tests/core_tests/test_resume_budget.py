"""Giving a finished experiment more budget on resume, and maxExperimentDuration as a budget end:
through the real manager and SQLite store, on the simulate executor (virtual time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.errors import UsageError
from hyperloom.store import StoreReader
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "lineage_support"


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))


def config(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 3]}},
        "trialConcurrency": 1,
        "maxTrialNumber": 3,
        "tuner": {"name": "random", "classArgs": {"seed": 1}},
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:linear",
            "steps": 4,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


def test_more_trials_on_a_done_experiment_runs_them_and_stores_the_new_budget(
    tmp_path: Path,
) -> None:
    exp = Experiment.from_config(config(tmp_path))
    assert len(exp.run(dashboard=False)) == 3 and exp.status == "DONE"
    again = Experiment.resume(exp.dir, more_trials=2)
    records = again.run(dashboard=False)
    assert again.status == "DONE"
    assert len(records) == 5 and len({r.trial_id for r in records}) == 5
    assert all(r.status is TrialStatus.SUCCEEDED for r in records)
    with StoreReader(exp.dir) as r:
        assert r.experiment()["config"]["maxTrialNumber"] == 5
    # a plain resume now replays and starts nothing
    assert len(Experiment.resume(exp.dir).run(dashboard=False)) == 5
    total = Experiment.resume(exp.dir, max_trials=6)
    assert len(total.run(dashboard=False)) == 6


def test_a_budget_that_is_already_used_is_refused_with_the_numbers(tmp_path: Path) -> None:
    exp = Experiment.from_config(config(tmp_path))
    exp.run(dashboard=False)
    with pytest.raises(UsageError, match=r"--max-trials 3 is not more than the 3 trials"):
        Experiment.resume(exp.dir, max_trials=3)
    with pytest.raises(UsageError, match="either"):
        Experiment.resume(exp.dir, max_trials=9, more_trials=1)
    with pytest.raises(UsageError, match=r"'soon' is not a duration"):
        Experiment.resume(exp.dir, max_duration="soon")
    with StoreReader(exp.dir) as r:
        assert r.experiment()["config"]["maxTrialNumber"] == 3, "nothing stored on a refusal"


def test_max_duration_ends_done_with_its_own_reason_and_can_be_extended(tmp_path: Path) -> None:
    # one virtual second per step, 4 steps a trial, one at a time: 10 s lets about 2 trials run
    exp = Experiment.from_config(
        config(tmp_path, maxTrialNumber=50, maxExperimentDuration="10s")
    )
    first = exp.run(dashboard=False)
    assert exp.status == "DONE", "a budget end is not a user stop"
    with StoreReader(exp.dir) as r:
        message = r.experiment()["message"]
    assert message == "maxExperimentDuration (10s) reached"
    assert 2 <= len(first) < 50
    longer = Experiment.resume(exp.dir, max_duration="30s")
    second = longer.run(dashboard=False)
    assert longer.status == "DONE" and len(second) > len(first)
