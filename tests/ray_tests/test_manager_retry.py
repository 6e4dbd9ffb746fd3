"""The manager's retry of trials lost with their node (``maxTrialRetries``), with real local
subprocesses and an executor that loses each trial once after some reports (retry_support.py).
The same path serves the Ray executor; test_ray_executor.py checks it on a real cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_support import fixed
from hyperloom import Experiment
from hyperloom.store import StoreReader
from hyperloom.types import TrialStatus
from retry_support import RecordingTuner

TRIALS = Path(__file__).resolve().parent.parent / "core_tests" / "trials"
STEPS = 6


def config(**kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "trialCommand": "python behave.py",
        "trialCodeDirectory": str(TRIALS),
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "searchSpace": fixed(steps=STEPS, sleep=0.05),
        "tuner": {"name": "retry_support:RecordingTuner"},
        "trainingService": {"platform": "retry_support:LosingExecutor"},
        "stopGracePeriod": 1,
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


@pytest.fixture(autouse=True)
def _fresh_recorder() -> None:
    RecordingTuner.observed.clear()
    RecordingTuner.reports.clear()


def test_a_trial_lost_after_reports_restarts_with_a_fresh_series() -> None:
    exp = Experiment.from_config(config(maxTrialRetries=1))
    records = exp.run()
    assert len(records) == 2, "retries use no budget"
    reader = StoreReader(exp.dir)
    try:
        for r in records:
            assert r.status is TrialStatus.SUCCEEDED, (r.status, r.reason)
            rows = reader.intermediate(r.trial_id)
            [retry] = reader.events(trial_id=r.trial_id, kind="trial_retry")
            assert retry["payload"]["attempt"] == 1 and retry["payload"]["steps"] == 3
            assert retry["payload"]["reason"].startswith("node lost")
            assert [s for s, _, _ in rows] == list(range(STEPS)), "each step once"
            assert all(t >= retry["t"] for _, _, t in rows), "only the second attempt's reports"
            assert list(r.intermediate) == [pytest.approx(1.0 + 0.01 * i) for i in range(STEPS)]
    finally:
        reader.close()
    # the tuner saw each trial end once (no result for the lost attempt), with the full series
    assert sorted(o.trial_id for o in RecordingTuner.observed) == sorted(
        r.trial_id for r in records
    )
    assert all(len(o.intermediate) == STEPS for o in RecordingTuner.observed)


def test_without_retries_left_the_lost_trial_fails() -> None:
    exp = Experiment.from_config(
        config(
            maxTrialRetries=1,
            maxTrialNumber=1,
            trialConcurrency=1,
            trainingService={"platform": "retry_support:LosingExecutor", "loseAfter": [4, 2]},
        )
    )
    [r] = exp.run()
    assert r.status is TrialStatus.FAILED and r.exit_code is None
    assert r.reason.startswith("node lost"), r.reason
    assert list(r.intermediate) == [1.0, 1.01], "the series of the last attempt only"
    reader = StoreReader(exp.dir)
    try:
        [retry] = reader.events(trial_id=r.trial_id, kind="trial_retry")
        assert retry["payload"]["steps"] == 4
    finally:
        reader.close()
    [seen] = RecordingTuner.observed
    assert seen.status is TrialStatus.FAILED and seen.value is None


def test_no_retry_by_default() -> None:
    exp = Experiment.from_config(config(maxTrialNumber=1, trialConcurrency=1))
    [r] = exp.run()
    assert r.status is TrialStatus.FAILED and r.reason.startswith("node lost")
