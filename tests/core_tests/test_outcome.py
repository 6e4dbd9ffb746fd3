"""The one outcome rule (hyperloom.types.outcome) and the v2 value types."""

from __future__ import annotations

import math

import pytest
from hyperloom.types import (
    FINISHED,
    Decision,
    Objective,
    Report,
    Suggestion,
    TrialResult,
    TrialStatus,
    Verdict,
    check_mode,
    outcome,
)

S = TrialStatus


@pytest.mark.parametrize(
    ("kw", "status", "values", "reason_part"),
    [
        ({"exit_code": 0, "final": 0.9}, S.SUCCEEDED, (0.9,), None),
        ({"exit_code": 0, "final": None, "intermediate": [0.1, 0.5]}, S.SUCCEEDED, (0.5,), "last"),
        ({"exit_code": 0, "final": None, "intermediate": [0.4, math.nan]}, S.SUCCEEDED, (0.4,), "last"),
        ({"exit_code": 0, "final": None}, S.FAILED, None, "without reporting"),
        ({"exit_code": 3, "final": 0.9}, S.FAILED, None, "exit code 3"),
        ({"exit_code": 1, "final": None, "intermediate": [0.2]}, S.FAILED, None, "exit code 1"),
        ({"exit_code": None, "final": None, "exit_reason": "node lost: x"}, S.FAILED, None, "node lost"),
        ({"exit_code": None, "final": 0.7}, S.SUCCEEDED, (0.7,), "re-attached"),
        (
            {"exit_code": -15, "final": None, "intermediate": [0.3, 0.35],
             "stop_status": S.EARLY_STOPPED, "stop_reason": "assessor: bad"},
            S.EARLY_STOPPED, (0.35,), "assessor",
        ),
        (
            {"exit_code": -9, "final": None, "stop_status": S.TIMEOUT, "stop_reason": "slow"},
            S.TIMEOUT, None, "slow",
        ),
        (
            {"exit_code": 0, "final": 0.8, "stop_status": S.CANCELED, "stop_reason": "user"},
            S.CANCELED, (0.8,), "user",
        ),
    ],
)  # fmt: skip
def test_every_path(kw, status, values, reason_part):
    got_status, got_values, reason = outcome(**kw)
    assert got_status == status
    assert got_values == values
    if reason_part is None:
        assert reason is None
    else:
        assert reason_part in (reason or "")


def test_several_objectives_need_every_value():
    objs = (Objective("acc", "maximize"), Objective("latency_ms", "minimize"))
    st, vals, _ = outcome(exit_code=0, final=0.9, final_metrics={"latency_ms": 12}, objectives=objs)
    assert (st, vals) == (S.SUCCEEDED, (0.9, 12.0))
    st, vals, reason = outcome(exit_code=0, final=0.9, final_metrics={}, objectives=objs)
    assert st == S.FAILED and vals is None and "latency_ms" in (reason or "")
    st, vals, reason = outcome(
        exit_code=0, final=0.9, final_metrics={"latency_ms": math.inf}, objectives=objs
    )
    assert st == S.FAILED and "latency_ms" in (reason or "")


def test_types():
    assert not S.PAUSED.is_final and S.CANCELED.is_final
    assert Verdict.PAUSE.value == "PAUSE"
    assert Decision(Verdict.STOP, "x").reason == "x"
    assert Suggestion({"a": 1}, parent="T0001").parent == "T0001"
    assert repr(FINISHED) == "FINISHED" and type(FINISHED)() is FINISHED
    r = TrialResult("t", {}, S.SUCCEEDED, 0.5, intermediate=(0.1, 0.2))
    assert r.values == (0.5,)
    assert r.reports == (Report(0, 0.1), Report(1, 0.2))
    assert check_mode("MAX") == "maximize"
    from hyperloom.errors import UsageError

    with pytest.raises(UsageError, match="sideways"):
        check_mode("sideways")
    with pytest.raises(UsageError):
        Objective("acc", "up")
