"""The median stopping rule, on hand-checked cases (NNI has no unit test for it)."""

from __future__ import annotations

import math

import pytest
from hyperloom.assessors.median_stop import MedianStopAssessor
from hyperloom.errors import PluginError
from hyperloom.registry import load_assessor
from hyperloom.types import TrialResult, TrialStatus, Verdict


def _done(tid: str, curve: list[float], status: TrialStatus = TrialStatus.SUCCEEDED) -> TrialResult:
    return TrialResult(tid, {}, status, curve[-1] if curve else None, tuple(curve))


def _verdicts(a: MedianStopAssessor, tid: str, curve: list[float]) -> list[str]:
    return [a.assess(tid, curve[:n]).value for n in range(1, len(curve) + 1)]


def test_nni_harness_case() -> None:
    # NNI 3.0's Medianstop gives Good, Bad, Bad and Good x3 on this case (reference notes, 8.1).
    a = MedianStopAssessor(start_step=2, n_startup_trials=1)
    a.observe(_done("a", [0.5, 0.6, 0.7, 0.8]))
    a.observe(_done("b", [0.4, 0.5, 0.6, 0.7]))
    assert _verdicts(a, "low", [0.1, 0.2, 0.3]) == ["CONTINUE", "STOP", "STOP"]
    assert _verdicts(a, "high", [0.6, 0.7, 0.8]) == ["CONTINUE"] * 3
    assert "median 0.45" in (a.assess("low", [0.1, 0.2]) and a.last_reason)


def test_minimize_mirrors_maximize() -> None:
    a = MedianStopAssessor(mode="minimize", start_step=2, n_startup_trials=1)
    a.observe(_done("a", [-0.5, -0.6, -0.7, -0.8]))
    a.observe(_done("b", [-0.4, -0.5, -0.6, -0.7]))
    assert _verdicts(a, "low", [-0.1, -0.2, -0.3]) == ["CONTINUE", "STOP", "STOP"]
    assert _verdicts(a, "high", [-0.6, -0.7, -0.8]) == ["CONTINUE"] * 3


def test_lenient_median_for_even_counts() -> None:
    # running averages at step 1: 0.2, 0.4, 0.6, 0.8 -> lower median 0.4 when maximizing
    a = MedianStopAssessor(start_step=1, n_startup_trials=1)
    for i, v in enumerate((0.2, 0.4, 0.6, 0.8)):
        a.observe(_done(f"t{i}", [v]))
    assert a.assess("x", [0.41]) is Verdict.CONTINUE
    assert a.assess("x", [0.39]) is Verdict.STOP
    m = MedianStopAssessor(mode="minimize", start_step=1, n_startup_trials=1)
    for i, v in enumerate((0.2, 0.4, 0.6, 0.8)):
        m.observe(_done(f"t{i}", [v]))
    assert m.assess("x", [0.59]) is Verdict.CONTINUE  # upper median 0.6
    assert m.assess("x", [0.61]) is Verdict.STOP


def test_only_succeeded_trials_teach() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1)
    for status in (
        TrialStatus.FAILED,
        TrialStatus.EARLY_STOPPED,
        TrialStatus.CANCELED,
        TrialStatus.TIMEOUT,
    ):
        a.observe(_done(status.value, [100.0, 100.0], status))
    assert a.assess("x", [0.0, 0.0]) is Verdict.CONTINUE  # nothing to compare against
    a.observe(_done("ok", [1.0, 1.0]))
    assert a.assess("x", [0.0, 0.0]) is Verdict.STOP
    assert a.assess("y", [2.0, 2.0]) is Verdict.CONTINUE


def test_waits_for_startup_trials_and_start_step() -> None:
    a = MedianStopAssessor(start_step=3, n_startup_trials=2)
    a.observe(_done("a", [1.0] * 5))
    assert a.assess("x", [0.0] * 4) is Verdict.CONTINUE
    a.observe(_done("b", [1.0] * 5))
    assert a.assess("x", [0.0] * 2) is Verdict.CONTINUE
    assert a.assess("x", [0.0] * 3) is Verdict.STOP


def test_trial_longer_than_every_reference_continues() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1)
    a.observe(_done("a", [1.0, 1.0]))
    assert a.assess("x", [0.0, 0.0, 0.0]) is Verdict.CONTINUE


def test_nan_in_references_and_history() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1)
    a.observe(_done("a", [math.nan, 1.0, 1.0]))
    # step 1: the reference has no finite value yet -> no reference -> continue
    assert a.assess("x", [0.0]) is Verdict.CONTINUE
    # step 2: the reference's running average is 1.0 (the NaN is skipped)
    assert a.assess("x", [0.0, math.nan]) is Verdict.STOP
    assert a.assess("y", [math.nan, math.nan]) is Verdict.CONTINUE


@pytest.mark.parametrize(
    "kwargs",
    [{"start_step": -1}, {"start_step": 1.5}, {"n_startup_trials": 0}, {"start_step": True}],
)
def test_bad_options_name_the_argument(kwargs: dict[str, object]) -> None:
    with pytest.raises(PluginError, match=next(iter(kwargs))):
        MedianStopAssessor(**kwargs)  # type: ignore[arg-type]


def test_loads_by_entry_point_with_class_args() -> None:
    a = load_assessor("median_stop", mode="minimize", start_step=7)
    assert isinstance(a, MedianStopAssessor)
    assert (a.mode, a.start_step) == ("minimize", 7)
    with pytest.raises(PluginError, match="start_stpe"):
        load_assessor("median_stop", start_stpe=3)


def test_nni_start_step_zero_means_from_the_first_report() -> None:
    a = MedianStopAssessor(start_step=0, n_startup_trials=1)
    assert a.start_step == 1
    a.observe(_done("a", [1.0, 1.0]))
    assert a.assess("x", [0.0]) is Verdict.STOP


def test_percentile_raises_the_bar_in_both_modes() -> None:
    # running averages at step 1: 0.2, 0.4, 0.6, 0.8; the 70th percentile (lenient index) is 0.6
    up = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=70)
    down = MedianStopAssessor(mode="minimize", start_step=1, n_startup_trials=1, percentile=70)
    for i, v in enumerate((0.2, 0.4, 0.6, 0.8)):
        up.observe(_done(f"t{i}", [v]))
        down.observe(_done(f"t{i}", [-v]))
    assert up.assess("x", [0.5]) is Verdict.STOP  # above the median, below the 70th percentile
    assert up.assess("y", [0.61]) is Verdict.CONTINUE
    assert (
        down.assess("x", [-0.5]) is Verdict.STOP and down.assess("y", [-0.61]) is Verdict.CONTINUE
    )
    with pytest.raises(PluginError, match="percentile"):
        MedianStopAssessor(percentile=101)
