"""The median stopping rule, on hand-checked cases (NNI has no unit test for it): Vizier's rule
(``reference="completed"``, a fixed median) and the default step-dependent percentile over every
ended trial."""

from __future__ import annotations

import math

import pytest
from hyperloom.assessors.median_stop import MedianStopAssessor
from hyperloom.errors import PluginError
from hyperloom.registry import load_assessor
from hyperloom.types import TrialResult, TrialStatus, Verdict

#: NNI's and Vizier's rule: completed trials' running averages, a fixed median
VIZIER: dict[str, object] = {"reference": "completed", "percentile": 50, "percentile_growth": 0}


def _done(tid: str, curve: list[float], status: TrialStatus = TrialStatus.SUCCEEDED) -> TrialResult:
    return TrialResult(tid, {}, status, curve[-1] if curve else None, tuple(curve))


def _verdicts(a: MedianStopAssessor, tid: str, curve: list[float]) -> list[str]:
    return [a.assess(tid, curve[:n]).value for n in range(1, len(curve) + 1)]


def test_nni_harness_case() -> None:
    # NNI 3.0's Medianstop gives Good, Bad, Bad and Good x3 on this case (reference notes, 8.1).
    a = MedianStopAssessor(start_step=2, n_startup_trials=1, **VIZIER)
    a.observe(_done("a", [0.5, 0.6, 0.7, 0.8]))
    a.observe(_done("b", [0.4, 0.5, 0.6, 0.7]))
    assert _verdicts(a, "low", [0.1, 0.2, 0.3]) == ["CONTINUE", "STOP", "STOP"]
    assert _verdicts(a, "high", [0.6, 0.7, 0.8]) == ["CONTINUE"] * 3
    assert "median 0.45" in (a.assess("low", [0.1, 0.2]) and a.last_reason)


def test_minimize_mirrors_maximize() -> None:
    a = MedianStopAssessor(mode="minimize", start_step=2, n_startup_trials=1, **VIZIER)
    a.observe(_done("a", [-0.5, -0.6, -0.7, -0.8]))
    a.observe(_done("b", [-0.4, -0.5, -0.6, -0.7]))
    assert _verdicts(a, "low", [-0.1, -0.2, -0.3]) == ["CONTINUE", "STOP", "STOP"]
    assert _verdicts(a, "high", [-0.6, -0.7, -0.8]) == ["CONTINUE"] * 3


def test_lenient_median_for_even_counts() -> None:
    # running averages at step 1: 0.2, 0.4, 0.6, 0.8 -> lower median 0.4 when maximizing
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, **VIZIER)
    for i, v in enumerate((0.2, 0.4, 0.6, 0.8)):
        a.observe(_done(f"t{i}", [v]))
    assert a.assess("x", [0.41]) is Verdict.CONTINUE
    assert a.assess("x", [0.39]) is Verdict.STOP
    m = MedianStopAssessor(mode="minimize", start_step=1, n_startup_trials=1, **VIZIER)
    for i, v in enumerate((0.2, 0.4, 0.6, 0.8)):
        m.observe(_done(f"t{i}", [v]))
    assert m.assess("x", [0.59]) is Verdict.CONTINUE  # upper median 0.6
    assert m.assess("x", [0.61]) is Verdict.STOP


def test_only_succeeded_trials_teach() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, **VIZIER)
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
    a = MedianStopAssessor(start_step=3, n_startup_trials=2, **VIZIER)
    a.observe(_done("a", [1.0] * 5))
    assert a.assess("x", [0.0] * 4) is Verdict.CONTINUE
    a.observe(_done("b", [1.0] * 5))
    assert a.assess("x", [0.0] * 2) is Verdict.CONTINUE
    assert a.assess("x", [0.0] * 3) is Verdict.STOP


def test_trial_longer_than_every_reference_continues() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, **VIZIER)
    a.observe(_done("a", [1.0, 1.0]))
    assert a.assess("x", [0.0, 0.0, 0.0]) is Verdict.CONTINUE


def test_nan_in_references_and_history() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, **VIZIER)
    a.observe(_done("a", [math.nan, 1.0, 1.0]))
    # step 1: the reference has no finite value yet -> no reference -> continue
    assert a.assess("x", [0.0]) is Verdict.CONTINUE
    # step 2: the reference's running average is 1.0 (the NaN is skipped)
    assert a.assess("x", [0.0, math.nan]) is Verdict.STOP
    assert a.assess("y", [math.nan, math.nan]) is Verdict.CONTINUE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_step": -1},
        {"start_step": 1.5},
        {"n_startup_trials": 0},
        {"start_step": True},
        {"percentile_growth": -0.1},
        {"percentile_growth": "fast"},
        {"reference": "all"},
    ],
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
    a = MedianStopAssessor(start_step=0, n_startup_trials=1, **VIZIER)
    assert a.start_step == 1
    a.observe(_done("a", [1.0, 1.0]))
    assert a.assess("x", [0.0]) is Verdict.STOP


def test_percentile_raises_the_bar_in_both_modes() -> None:
    # running averages at step 1: 0.2, 0.4, 0.6, 0.8; the 70th percentile (lenient index) is 0.6
    up = MedianStopAssessor(start_step=1, n_startup_trials=1, **{**VIZIER, "percentile": 70})
    down = MedianStopAssessor(
        mode="minimize", start_step=1, n_startup_trials=1, **{**VIZIER, "percentile": 70}
    )
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


def test_defaults_are_the_issue_18_rule() -> None:
    a = MedianStopAssessor()
    assert (a.reference, a.percentile, a.percentile_growth) == ("ended", 30.0, 0.5)
    assert (a.start_step, a.n_startup_trials) == (1, 4)
    assert (a.envelope_trials, a.envelope_share, a.envelope_margin) == (None, 0.2, 0.1)


def test_ended_reference_counts_stopped_trials_as_worse() -> None:
    # percentile 50, fixed: the median of the references at the judged step
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=50, percentile_growth=0)
    a.observe(_done("a", [0.5, 0.6, 0.7, 0.8]))
    a.observe(_done("b", [0.4, 0.5, 0.6, 0.7]))
    # step 2: references 0.6 (a), 0.5 (b): lower median 0.5
    assert a.assess("x", [0.45, 0.49]) is Verdict.STOP
    assert a.assess("x", [0.45, 0.51]) is Verdict.CONTINUE
    # two trials stopped after 1 report (values 0.9: they count at step 1, and as worse after)
    a.observe(_done("s1", [0.9], TrialStatus.EARLY_STOPPED))
    a.observe(_done("s2", [0.9], TrialStatus.EARLY_STOPPED))
    # step 1: references 0.9, 0.9, 0.5, 0.4 -> lower median 0.5
    assert a.assess("y", [0.45]) is Verdict.STOP
    # step 2: references 0.6, 0.5, -inf, -inf -> lower median -inf: nobody stops
    assert a.assess("x", [0.45, 0.0]) is Verdict.CONTINUE
    assert "behind" in (a.assess("y", [0.45]) and a.last_reason)


def test_ended_reference_uses_best_so_far_and_ignores_final_values() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=50, percentile_growth=0)
    # a stopped trial's spectacular final value is never a reference; its reports are
    a.observe(TrialResult("s", {}, TrialStatus.EARLY_STOPPED, 1e9, (0.2, 0.1)))
    a.observe(_done("a", [0.3, 0.2, 0.1, 0.1]))  # best so far: 0.3 at every step
    assert a.assess("x", [0.25]) is Verdict.CONTINUE  # step 1: [0.2, 0.3] -> 0.2
    assert a.assess("x", [0.15]) is Verdict.STOP
    assert a.assess("x", [0.0, 0.0, 0.0]) is Verdict.CONTINUE  # step 3: [-inf, 0.3] -> -inf
    b = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=100, percentile_growth=0)
    b.observe(_done("a", [0.3, 0.2, 0.1, 0.1]))
    assert b.assess("x", [0.25, 0.25, 0.25]) is Verdict.STOP  # 0.3 is a's best, not its 0.1
    assert b.assess("x", [0.31]) is Verdict.CONTINUE
    for status in (TrialStatus.FAILED, TrialStatus.CANCELED, TrialStatus.TIMEOUT):
        b.observe(_done(status.value, [5.0, 5.0], status))
    assert b.assess("x", [0.31]) is Verdict.CONTINUE


def test_percentile_rises_with_the_step() -> None:
    # percentile 0 at step 1, growth 1: the bar is the 100 - 100/s percentile at step s
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=0, percentile_growth=1)
    for i in range(5):
        a.observe(_done(f"t{i}", [0.1 * (i + 1)] * 5))  # 0.1 .. 0.5 at every step
    # step 1: percentile 0, the lowest reference 0.1
    assert a.assess("x", [0.05]) is Verdict.STOP and a.assess("y", [0.11]) is Verdict.CONTINUE
    # step 2: percentile 50, index floor(4 * 0.5) = 2 of the sorted references: 0.3
    assert (
        a.assess("x", [0.29] * 2) is Verdict.STOP and a.assess("y", [0.31] * 2) is Verdict.CONTINUE
    )
    # step 4: percentile 75, index 3: 0.4
    assert (
        a.assess("x", [0.35] * 4) is Verdict.STOP and a.assess("y", [0.41] * 4) is Verdict.CONTINUE
    )
    m = MedianStopAssessor(
        mode="minimize", start_step=1, n_startup_trials=1, percentile=0, percentile_growth=1
    )
    for i in range(5):
        m.observe(_done(f"t{i}", [-0.1 * (i + 1)] * 5))
    assert (
        m.assess("x", [-0.35] * 4) is Verdict.STOP
        and m.assess("y", [-0.41] * 4) is Verdict.CONTINUE
    )


def test_ended_reference_waits_for_enough_references_at_the_step() -> None:
    a = MedianStopAssessor(n_startup_trials=3)
    a.observe(_done("a", [0.9] * 6))
    a.observe(_done("b", [0.9] * 6))
    assert a.assess("x", [0.0]) is Verdict.CONTINUE  # 2 ended trials < 3
    a.observe(_done("c", [0.9] * 6))
    assert a.assess("x", [0.0]) is Verdict.STOP
    assert a.assess("x", [0.0] * 7) is Verdict.CONTINUE  # nobody reached step 7


def test_ended_reference_never_stops_a_trial_at_its_full_length() -> None:
    a = MedianStopAssessor(start_step=1, n_startup_trials=1, percentile=50, percentile_growth=0)
    a.observe(_done("a", [0.9] * 4))
    assert a.assess("x", [0.1] * 3) is Verdict.STOP
    assert a.assess("x", [0.1] * 4) is Verdict.CONTINUE  # nothing left to save


# -- the learned envelope (session 7) ------------------------------------------------------------


def _envelope_experiment(a: MedianStopAssessor, n_mediocre: int = 35) -> None:
    """5 "good" trials that start last (0.10-0.14 for 2 steps: step 1 and 2 carry no rank
    information about them) and then lead (0.9 from step 3 on), and ``n_mediocre`` flat trials
    (0.30 up to 0.58) that never reach them."""
    for i in range(5):
        a.observe(_done(f"g{i}", [0.10 + 0.01 * i, 0.12 + 0.01 * i] + [0.9] * 28))
    for j in range(n_mediocre):
        a.observe(_done(f"m{j}", [0.30 + 0.28 * j / max(n_mediocre - 1, 1)] * 30))


def test_envelope_stops_a_clearly_bad_curve_at_an_informative_step() -> None:
    # step 10: every good completed trial led (share behind it 0), so the envelope lets through
    # 0 + margin 0.1 of the references. A trial behind the 5 good ones (5 of 40 = 0.125) stops,
    # though the schedule alone (0.7 / sqrt(10) = 0.22) would let it through.
    a = MedianStopAssessor(envelope_trials=5, envelope_share=0.0)
    _envelope_experiment(a)
    behind = [0.3] * 9 + [0.8]
    assert a.assess("x", behind) is Verdict.STOP
    assert "behind 5 of 40" in a.last_reason
    assert a.assess("y", [0.3] * 9 + [0.95]) is Verdict.CONTINUE
    # the default rule (no envelope) keeps it
    old = MedianStopAssessor()
    _envelope_experiment(old)
    assert old.assess("x", behind) is Verdict.CONTINUE


def test_envelope_does_not_stop_a_late_bloomer_at_an_uninformative_step() -> None:
    # with the schedule out of the way (percentile 0, no growth: it stops only a trial behind
    # every reference), the envelope judges. Steps 1-2: the good trials were behind 35-39 of
    # 40 references, so the envelope lets such trials through there; from step 3 on they led,
    # so it is harsh.
    a = MedianStopAssessor(percentile=0, percentile_growth=0, envelope_trials=5, envelope_share=0.0)
    _envelope_experiment(a)
    assert a.assess("late", [0.11]) is Verdict.CONTINUE  # behind 38 of 40
    assert a.assess("late", [0.11, 0.125]) is Verdict.CONTINUE
    assert a.assess("late", [0.11, 0.125, 0.5]) is Verdict.STOP  # step 3 is informative
    assert a.assess("late", [0.11, 0.125, 0.91]) is Verdict.CONTINUE
    assert a.assess("bad", [0.05]) is Verdict.STOP  # behind every reference
    # the envelope never tightens backwards: a step is as lenient as any later step needed.
    # Here the good trials lead at steps 1-2 but trail every other trial at steps 3-4, so the
    # rank at steps 1-2 cannot be trusted either.
    b = MedianStopAssessor(percentile=0, percentile_growth=0, envelope_trials=5, envelope_share=0)
    for i in range(5):
        b.observe(_done(f"g{i}", [0.2] * 4 + [0.9] * 6))
    for j in range(20):
        b.observe(_done(f"m{j}", [0.1, 0.1] + [0.5] * 8))
    assert b.assess("x", [0.15]) is Verdict.CONTINUE  # behind 5 of 25 at step 1
    assert b.assess("x", [0.15] * 5) is Verdict.STOP  # step 5: the good trials led again


def test_envelope_waits_for_five_completed_trials_and_ignores_stopped_ones() -> None:
    a = MedianStopAssessor(percentile=0, percentile_growth=0, envelope_trials=5)
    for j in range(10):  # stopped trials teach ranks, never which trials were good
        a.observe(_done(f"s{j}", [0.05] * 6, TrialStatus.EARLY_STOPPED))
    for i in range(4):
        a.observe(_done(f"g{i}", [0.9] * 10))
    assert a.assess("x", [0.1] * 5) is Verdict.CONTINUE  # 4 completed: no envelope yet
    a.observe(_done("g4", [0.9] * 10))
    # the 5 completed trials led at every step: 0 + 0.1 may trail; x trails 5 of 15
    assert a.assess("x", [0.1] * 5) is Verdict.STOP
    assert a.assess("y", [0.95] * 5) is Verdict.CONTINUE
    m = MedianStopAssessor(mode="minimize", percentile=0, percentile_growth=0, envelope_trials=5)
    for j in range(10):
        m.observe(_done(f"s{j}", [-0.05] * 6, TrialStatus.EARLY_STOPPED))
    for i in range(5):
        m.observe(_done(f"g{i}", [-0.9] * 10))
    assert m.assess("x", [-0.1] * 5) is Verdict.STOP
    assert m.assess("y", [-0.95] * 5) is Verdict.CONTINUE


@pytest.mark.parametrize(
    "kwargs",
    [{"envelope_trials": 0}, {"envelope_share": 1.5}, {"envelope_margin": -0.1}],
)
def test_bad_envelope_options_name_the_argument(kwargs: dict[str, object]) -> None:
    with pytest.raises(PluginError, match=next(iter(kwargs))):
        MedianStopAssessor(**kwargs)  # type: ignore[arg-type]
