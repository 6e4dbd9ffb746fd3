"""One truth for every trial: what a live tuner and assessor observed equals what resume
replays from the store, over every path a trial can end by (real subprocess trials, real
SQLite)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hyperloom import Experiment, open_experiment
from hyperloom.manager import replay_records, replay_results
from hyperloom.store import StoreReader
from hyperloom.types import TrialStatus

HERE = Path(__file__).resolve().parent
BEHAVE = HERE / "trials" / "behave.py"

PLAN = [
    {"value": 0.5, "steps": 2},  # succeeded
    {"value": 0.6, "steps": 3, "final": False},  # no final report: last intermediate counts
    {"value": 0.7, "steps": 1, "exit": 3},  # failed after a final value: it does not count
    {"value": 0.1, "steps": 0, "final": False, "exit": 1},  # failed with nothing
    {"value": -1.0, "steps": 40, "sleep": 0.05, "final": False},  # stopped by the assessor
    {"value": 0.2, "steps": 200, "sleep": 0.05},  # timeout
    {"value": 0.3, "steps": 0, "final": False},  # exit 0, nothing reported: failed
]


def test_live_observations_equal_resume_replay(tmp_path: Path) -> None:
    log = tmp_path / "observed.jsonl"
    cfg = {
        "experimentName": "one-truth",
        "trialCommand": f"{sys.executable} {BEHAVE}",
        "trialCodeDirectory": str(HERE),
        "trialConcurrency": 2,
        "maxTrialNumber": len(PLAN),
        "maxTrialDuration": "3s",
        "searchSpace": {"value": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": {
            "name": "recording:PlanTuner",
            "codeDirectory": str(HERE / "trials"),
            "classArgs": {"plan": PLAN, "log": str(log)},
        },
        "assessor": {
            "name": "recording:StopFlagged",
            "codeDirectory": str(HERE / "trials"),
            "classArgs": {"log": str(log)},
        },
        "stopGracePeriod": 1,
        "dashboard": False,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
    }
    exp = Experiment.from_config(cfg)
    exp.run()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    whos = [x.pop("who") for x in lines]
    live_tuner = [x for x, who in zip(lines, whos, strict=True) if who == "tuner"]
    live_assessor = [x for x, who in zip(lines, whos, strict=True) if who == "assessor"]
    assert len(live_tuner) == len(PLAN)
    statuses = sorted(x["status"] for x in live_tuner)
    assert statuses == sorted(
        ["SUCCEEDED", "SUCCEEDED", "FAILED", "FAILED", "EARLY_STOPPED", "TIMEOUT", "FAILED"]
    )
    from recording import as_json  # type: ignore[import-not-found]

    with StoreReader(exp.dir) as store:
        replayed = [as_json(r.to_result()) for r in replay_records(store)]
        fast = list(replay_results(store))  # what resume replays: built straight from the rows
        assert fast == [r.to_result() for r in replay_records(store)]
    assert replayed == live_tuner
    assert [as_json(r) for r in fast] == live_tuner
    assert live_assessor == live_tuner

    by_status = {x["params"]["value"]: x for x in live_tuner}
    assert by_status[0.6]["value"] == 0.6 + 2 * 0.01  # the last intermediate is stored
    assert by_status[0.7]["value"] is None  # a failed trial's value never counts
    with open_experiment(exp.dir) as view:
        stored = {t.params["value"]: t for t in view.trials()}
    assert stored[0.6].value is not None and stored[0.7].value is None
    assert stored[-1.0].status is TrialStatus.EARLY_STOPPED
    assert [t.trial_id for t in sorted(stored.values(), key=lambda t: t.sequence)] == [
        f"T{i:04d}" for i in range(1, len(PLAN) + 1)
    ]
