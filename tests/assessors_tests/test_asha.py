"""Asynchronous successive halving: rungs, promotion, and what ended trials do to the rungs."""

from __future__ import annotations

import math

import pytest
from hyperloom.assessors.asha import ASHAAssessor
from hyperloom.errors import PluginError
from hyperloom.types import TrialResult, TrialStatus, Verdict


def test_rungs() -> None:
    assert ASHAAssessor(min_resource=1, reduction_factor=3).rungs[:5] == (1, 3, 9, 27, 81)
    assert ASHAAssessor(min_resource=2, reduction_factor=2, max_resource=20).rungs == (2, 4, 8, 16)
    a = ASHAAssessor(min_resource=1, reduction_factor=3, min_early_stopping_rate=1, max_resource=40)
    assert a.rungs == (3, 9, 27)
    assert a.start_step == 3


def test_top_third_is_promoted_without_waiting() -> None:
    a = ASHAAssessor(min_resource=2, reduction_factor=3, max_resource=10)
    # the first two trials at rung 2 go on (fewer than 3 values there)
    assert a.assess("t1", [0.1, 0.5]) is Verdict.CONTINUE
    assert a.assess("t2", [0.1, 0.6]) is Verdict.CONTINUE
    # third: 3 values, top 1 promoted; 0.4 is the worst -> stop
    assert a.assess("t3", [0.1, 0.4]) is Verdict.STOP
    assert "rung 2" in a.last_reason
    # a new best is promoted, and a trial stays stopped once stopped
    assert a.assess("t4", [0.1, 0.9]) is Verdict.CONTINUE
    assert a.assess("t3", [0.1, 0.4, 0.9]) is Verdict.STOP
    # non-rung steps never stop
    assert a.assess("t4", [0.1, 0.9, 0.0]) is Verdict.CONTINUE


def test_minimize() -> None:
    a = ASHAAssessor(mode="minimize", min_resource=1, reduction_factor=2)
    assert a.assess("a", [0.5]) is Verdict.CONTINUE
    assert a.assess("b", [0.9]) is Verdict.STOP  # 2 values, top 1 kept: 0.5
    assert a.assess("c", [0.1]) is Verdict.CONTINUE


def test_value_at_rung_skips_nan_and_none() -> None:
    a = ASHAAssessor(min_resource=3, reduction_factor=2)
    assert a.assess("a", [0.9, 0.9, math.nan]) is Verdict.CONTINUE  # value 0.9 recorded
    assert a.assess("b", [0.1, None, math.nan]) is Verdict.STOP  # type: ignore[list-item]
    assert a.assess("c", [math.nan, math.nan, math.nan]) is Verdict.CONTINUE  # nothing recorded


def test_failed_trials_leave_the_rungs_stopped_ones_stay() -> None:
    a = ASHAAssessor(min_resource=1, reduction_factor=2)
    a.assess("great", [10.0])
    a.assess("x", [1.0])  # stopped: 2 values, 10.0 is better
    a.observe(TrialResult("great", {}, TrialStatus.FAILED, None, (10.0,)))
    a.observe(TrialResult("x", {}, TrialStatus.EARLY_STOPPED, None, (1.0,)))
    assert a.assess("y", [2.0]) is Verdict.CONTINUE  # rung 1 now holds 1.0 (stopped trial) only
    assert a.assess("z", [1.5]) is Verdict.STOP  # 1.0, 2.0, 1.5: top 1 is 2.0


def test_observe_rebuilds_rungs_like_the_live_run() -> None:
    live = ASHAAssessor(min_resource=1, reduction_factor=3, max_resource=30)
    ended = []
    for i, q in enumerate([0.5, 0.9, 0.2, 0.7, 0.3, 0.95, 0.1]):
        curve = [q * (1 - math.exp(-t / 4)) for t in range(1, 31)]
        status = TrialStatus.SUCCEEDED
        for n in range(1, 31):
            if live.assess(f"t{i}", curve[:n]) is Verdict.STOP:
                status = TrialStatus.EARLY_STOPPED
                curve = curve[:n]
                break
        ended.append(TrialResult(f"t{i}", {}, status, curve[-1], tuple(curve)))
        live.observe(ended[-1])
    fresh = ASHAAssessor(min_resource=1, reduction_factor=3, max_resource=30)
    for r in ended:
        fresh.observe(r)
    assert fresh.rung_values() == live.rung_values()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_resource": 0},
        {"reduction_factor": 1},
        {"min_early_stopping_rate": -1},
        {"max_resource": 0},
        {"reduction_factor": 2.5},
    ],
)
def test_bad_options_name_the_argument(kwargs: dict[str, object]) -> None:
    with pytest.raises(PluginError, match=next(iter(kwargs))):
        ASHAAssessor(**kwargs)  # type: ignore[arg-type]
