"""Learning-curve extrapolation: the ensemble's predictions, the stopping rule, minimize, and that
trials never share state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hyperloom.assessors._curves import FAMILIES, CurveEnsemble
from hyperloom.assessors.curve_fitting import CurveFittingAssessor
from hyperloom.errors import PluginError
from hyperloom.types import TrialResult, TrialStatus, Verdict

T = np.arange(1, 51, dtype=float)

#: Curves from different families than the one that might fit them best, with their true value
#: at step 50.
SHAPES = {
    "pow3": 0.95 - 0.6 * T**-0.7,
    "exp": 0.9 - 0.5 * np.exp(-T / 8.0),
    "sigmoid_in_log": 0.3 + 0.6 / (1.0 + (10.0 / T) ** 2),
    "slow_log": 0.2 + 0.1 * np.log(T),
}


def _done(tid: str, curve: np.ndarray | list[float]) -> TrialResult:
    values = tuple(float(v) for v in curve)
    return TrialResult(tid, {}, TrialStatus.SUCCEEDED, values[-1], values)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_ensemble_extrapolates_from_the_first_20_steps(shape: str) -> None:
    curve = SHAPES[shape]
    noise = 0.003 * np.sin(np.arange(50) * 2.1)
    pred = CurveEnsemble(50).predict(T[:20], curve[:20] + noise[:20])
    assert pred is not None
    truth = float(curve[-1])
    assert abs(pred.mean - truth) < max(0.03, 2.5 * pred.std), (pred, truth)
    assert pred.std < 0.1
    assert set(pred.weights) == set(FAMILIES)
    assert math.isclose(sum(pred.weights.values()), 1.0, rel_tol=1e-9)


def test_ensemble_uncertainty_shrinks_with_more_points() -> None:
    curve = SHAPES["pow3"] + 0.005 * np.sin(np.arange(50) * 1.3)
    ens = CurveEnsemble(50)
    stds = [ens.predict(T[:n], curve[:n]).std for n in (6, 15, 40)]  # type: ignore[union-attr]
    assert stds[0] > stds[1] > stds[2]


def test_ensemble_needs_four_points_and_handles_flat_curves() -> None:
    ens = CurveEnsemble(30)
    assert ens.predict(T[:3], np.array([0.1, 0.2, 0.3])) is None
    flat = ens.predict(T[:10], np.full(10, 0.5))
    assert flat is not None and abs(flat.mean - 0.5) < 1e-6
    falling = ens.predict(T[:10], 1.0 - 0.05 * T[:10])  # a worsening curve is fitted as flat
    assert falling is not None and falling.mean < 1.0


def test_stops_a_curve_that_cannot_reach_the_bar() -> None:
    a = CurveFittingAssessor(epoch_num=50, start_step=6)
    a.observe(_done("best", SHAPES["exp"]))  # 0.9 at step 50
    low = 0.6 - 0.4 * np.exp(-T / 5.0)
    verdicts = [a.assess("low", list(low[:n])) for n in range(1, 50)]
    first_stop = verdicts.index(Verdict.STOP) + 1
    assert 6 <= first_stop <= 12
    assert "cannot reach" in a.last_reason
    assert all(v is Verdict.CONTINUE for v in verdicts[:5])


def test_keeps_a_slow_starter_that_will_win() -> None:
    a = CurveFittingAssessor(epoch_num=50, start_step=6)
    a.observe(_done("fast", 0.85 - 0.3 * np.exp(-T / 3.0)))
    slow = 0.97 - 0.9 * np.exp(-T / 15.0)  # below the fast one for the first ~15 steps
    assert all(a.assess("slow", list(slow[:n])) is Verdict.CONTINUE for n in range(1, 51))


def test_minimize_mirrors_maximize() -> None:
    ref = 1.0 - SHAPES["exp"]
    low = 1.0 - (0.6 - 0.4 * np.exp(-T / 5.0))
    a = CurveFittingAssessor(mode="minimize", epoch_num=50)
    a.observe(_done("best", ref))
    stops = [a.assess("low", list(low[:n])) for n in range(1, 50)]
    assert Verdict.STOP in stops
    pred = a.predict(list(low[:20]))
    assert pred is not None and abs(pred.mean - low[-1]) < 0.03
    good = 1.0 - SHAPES["pow3"]
    assert all(a.assess("good", list(good[:n])) is Verdict.CONTINUE for n in range(1, 51))


def test_bar_uses_threshold_of_the_best_completed() -> None:
    # best completed 1.0; a flat 0.9 curve: stopped at threshold 0.95, kept at 0.85
    strict = CurveFittingAssessor(epoch_num=30, threshold=0.95, optimism=0.0, top_k=None)
    lenient = CurveFittingAssessor(epoch_num=30, threshold=0.85, optimism=0.0, top_k=None)
    for a in (strict, lenient):
        a.observe(_done("best", [1.0] * 30))
    flat = [0.9 + 0.001 * math.sin(i) for i in range(10)]
    assert strict.assess("x", flat) is Verdict.STOP
    assert lenient.assess("x", flat) is Verdict.CONTINUE


def test_horizon_is_learned_from_completed_trials() -> None:
    a = CurveFittingAssessor()
    a.observe(_done("best", SHAPES["exp"][:40]))
    assert a._horizon() == 40
    assert a.assess("late", [0.1] * 40) is Verdict.CONTINUE  # at the horizon: nothing to save
    assert a.assess("x", [0.1] * 10) is Verdict.STOP


def test_trials_share_no_state() -> None:
    # NNI keeps fitted parameters in a module global; here the order of calls must not matter.
    ref = _done("best", SHAPES["exp"])
    curves = {name: list(c[:25]) for name, c in SHAPES.items()}
    one = CurveFittingAssessor(epoch_num=50)
    two = CurveFittingAssessor(epoch_num=50)
    one.observe(ref)
    two.observe(ref)
    seq_one = {k: one.predict(v) for k, v in curves.items()}
    seq_two = {k: two.predict(v) for k, v in reversed(list(curves.items()))}
    for k in curves:
        assert seq_one[k] == seq_two[k]


def test_only_succeeded_trials_set_the_bar() -> None:
    a = CurveFittingAssessor(epoch_num=30)
    for status in (TrialStatus.FAILED, TrialStatus.EARLY_STOPPED, TrialStatus.CANCELED):
        a.observe(TrialResult(status.value, {}, status, 100.0, (100.0,) * 30))
    assert a.assess("x", [0.5] * 10) is Verdict.CONTINUE
    a.observe(_done("ok", [0.9] * 30))
    assert a.assess("x", [0.5] * 10) is Verdict.STOP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epoch_num": 1},
        {"start_step": 0},
        {"threshold": 0.0},
        {"threshold": 1.5},
        {"optimism": -1.0},
        {"gap": 0},
        {"n_startup_trials": 0},
        {"threshold": "high"},
    ],
)
def test_bad_options_name_the_argument(kwargs: dict[str, object]) -> None:
    with pytest.raises(PluginError, match=next(iter(kwargs))):
        CurveFittingAssessor(**kwargs)  # type: ignore[arg-type]


def test_value_range_removes_impossible_extrapolations() -> None:
    # A straight rise from 0.55 to 0.94 in 7 steps: without a bound, linear-like fits run past 1.0
    early = [0.548, 0.781, 0.876, 0.906, 0.922, 0.933, 0.941]
    free = CurveFittingAssessor(epoch_num=40).predict(early)
    bounded = CurveFittingAssessor(epoch_num=40, value_range=[0, 1]).predict(early)
    assert free is not None and bounded is not None
    assert bounded.mean + bounded.std < free.mean + free.std
    assert bounded.mean <= 1.0
    # minimize: a loss bounded below by 0
    loss = CurveFittingAssessor(mode="minimize", epoch_num=40, value_range=[0, None])
    pred = loss.predict([1.0 - v for v in early])
    assert pred is not None and pred.mean >= 0.0


@pytest.mark.parametrize("bad", [[1, 0], [0], "0-1", [0, float("inf")], [None, None, None]])
def test_bad_value_range(bad: object) -> None:
    with pytest.raises(PluginError, match="value_range"):
        CurveFittingAssessor(value_range=bad)  # type: ignore[arg-type]


def test_top_k_bar_and_median_guard() -> None:
    # completed finals 1.0, 0.9, 0.8 at threshold 1.0: the bar is the best (1.0), or with
    # top_k=2 the second best (0.9): a flat 0.95 is stopped by the first, kept by the second,
    # and a flat 0.85 is stopped by both
    a = CurveFittingAssessor(epoch_num=30, threshold=1.0, optimism=0.0, top_k=2)
    plain = CurveFittingAssessor(epoch_num=30, threshold=1.0, optimism=0.0, top_k=None)
    for x in (a, plain):
        for i, v in enumerate((1.0, 0.9, 0.8)):
            x.observe(_done(f"t{i}", [v] * 30))

    def flat(level: float) -> list[float]:
        return [level + 0.001 * math.sin(i) for i in range(10)]

    assert plain.assess("x", flat(0.95)) is Verdict.STOP
    assert a.assess("x", flat(0.95)) is Verdict.CONTINUE
    assert a.assess("y", flat(0.85)) is Verdict.STOP and "2-th best" in a.last_reason
    # the guard stops a trial behind the ended ones before any fit is possible; it waits for
    # guard_startup_trials (default 4) ended trials
    g = CurveFittingAssessor(epoch_num=30, start_step=6, guard_start_step=2)
    assert (g.start_step, g.fit_start_step) == (2, 6)
    for i, v in enumerate((1.0, 0.9, 0.8)):
        g.observe(_done(f"t{i}", [v] * 30))
    assert g.assess("slow", [0.1, 0.2]) is Verdict.CONTINUE  # 3 ended trials
    g.observe(_done("t4", [0.6] * 30))
    assert g.assess("slow", [0.1]) is Verdict.CONTINUE  # before guard_start_step
    assert g.assess("slow", [0.1, 0.2]) is Verdict.STOP and g.last_reason.startswith("guard")
    assert g.assess("good", [0.95, 0.96]) is Verdict.CONTINUE
    off = CurveFittingAssessor(epoch_num=30, start_step=6, guard_start_step=None)
    for i, v in enumerate((1.0, 0.9, 0.8, 0.7, 0.6)):
        off.observe(_done(f"t{i}", [v] * 30))
    assert off.start_step == 6 and off.assess("slow", [0.1, 0.2]) is Verdict.CONTINUE
    late = CurveFittingAssessor(
        epoch_num=30, start_step=6, guard_start_step=2, guard_startup_trials=6
    )
    for i, v in enumerate((1.0, 0.9, 0.8, 0.7, 0.6)):
        late.observe(_done(f"t{i}", [v] * 30))
    assert late.assess("slow", [0.1, 0.2]) is Verdict.CONTINUE  # 5 ended < 6
    late.observe(_done("t5", [0.5] * 30))
    assert late.assess("slow", [0.1, 0.2]) is Verdict.STOP
    with pytest.raises(PluginError, match="guard_startup_trials"):
        CurveFittingAssessor(guard_startup_trials=0)


def test_guard_can_learn_the_envelope() -> None:
    # 5 good trials lead from step 3 on; 35 flat trials trail them. At step 10 a trial behind
    # the 5 good ones (5 of 40) is stopped by the guard's learned envelope (0 + 0.1), though
    # the schedule alone (0.7 / sqrt(10) = 0.22) lets it through and its curve (flat at 0.8, the
    # 5th best completed is 0.9) is left to the fit.
    def experiment(a: CurveFittingAssessor) -> None:
        for i in range(5):
            a.observe(_done(f"g{i}", [0.10 + 0.01 * i, 0.12 + 0.01 * i] + [0.9] * 28))
        for j in range(35):
            a.observe(_done(f"m{j}", [0.30 + 0.28 * j / 34] * 30))

    new = CurveFittingAssessor(
        epoch_num=30, start_step=20, guard_envelope_trials=5, guard_envelope_share=0.0
    )
    experiment(new)
    behind = [0.3] * 9 + [0.8]
    assert new.assess("x", behind) is Verdict.STOP
    assert new.last_reason.startswith("guard") and "best completed trials" in new.last_reason
    old = CurveFittingAssessor(epoch_num=30, start_step=20)
    experiment(old)
    assert old.assess("x", behind) is Verdict.CONTINUE
    d = CurveFittingAssessor()
    assert d._guard is not None and d._guard.envelope_trials is None  # off by default
    with pytest.raises(PluginError, match="envelope_margin"):
        CurveFittingAssessor(guard_envelope_margin=2.0)
