"""The multi-fidelity schedulers: hyperband (stopping and promotion), bohb and asha_gp.

They are driven here the way the manager drives a scheduler (suggest, assess after every report
with the steps, observe every ended trial), on synthetic curves whose quality depends on the
parameters, plus one run through the real manager on the simulate executor.
"""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners.asha_gp import ASHAGPScheduler
from hyperloom.tuners.bohb import BOHBScheduler
from hyperloom.tuners.hyperband import HyperbandScheduler
from hyperloom.types import Decision, Report, Suggestion, TrialResult, TrialStatus, Verdict

SPACE = SearchSpace.from_nni(
    {
        "x": {"_type": "uniform", "_value": [0.0, 1.0]},
        "y": {"_type": "uniform", "_value": [0.0, 1.0]},
    }
)
EPOCHS = 27


def quality(p: dict[str, Any]) -> float:
    return 1.0 - (p["x"] - 0.2) ** 2 - (p["y"] - 0.7) ** 2


def curve(p: dict[str, Any], quality_of: Any = None) -> list[float]:
    q = (quality_of or quality)(p)
    return [q * (1.0 - math.exp(-(t + 1) / 4.0)) for t in range(EPOCHS)]


def result(tid: str, p: dict[str, Any], hist: list[float], stopped: bool) -> TrialResult:
    status = TrialStatus.EARLY_STOPPED if stopped else TrialStatus.SUCCEEDED
    reports = tuple(Report(i, v) for i, v in enumerate(hist))
    return TrialResult(tid, p, status, hist[-1], tuple(hist), reports=reports)


def drive(sched: Any, n_trials: int, workers: int = 4, quality_of: Any = None) -> dict[str, Any]:
    """A small event loop: ``workers`` trials at a time, one epoch per tick each (the curves of
    ``quality_of``, default :func:`quality`)."""
    heap: list[tuple[int, int, str]] = []
    hist: dict[str, list[float]] = {}
    params: dict[str, dict[str, Any]] = {}
    ended: list[TrialResult] = []
    paused: set[str] = set()
    resumed: list[str] = []
    seq, started, now = 0, 0, 0
    while True:
        while len(heap) < workers:
            tid = f"T{started + 1:04d}"
            got = sched.suggest(tid)
            if isinstance(got, Suggestion) and got.resume is not None:
                tid = got.resume
                assert tid in paused
                paused.discard(tid)
                resumed.append(tid)
            elif started < n_trials and got is not None:
                started += 1
                params[tid] = dict(got if isinstance(got, dict) else got.params)
                hist[tid] = []
            else:
                break
            seq += 1
            heapq.heappush(heap, (now + 1, seq, tid))
        if not heap:
            break
        now, _, tid = heapq.heappop(heap)
        h = hist[tid]
        h.append(curve(params[tid], quality_of)[len(h)])
        if len(h) == EPOCHS:
            ended.append(result(tid, params[tid], h, False))
            sched.observe(ended[-1])
            continue
        d = sched.assess(tid, list(h), list(range(len(h))))
        assert isinstance(d, Decision)
        if d.verdict is Verdict.CONTINUE:
            seq += 1
            heapq.heappush(heap, (now + 1, seq, tid))
        elif d.verdict is Verdict.PAUSE:
            assert d.reason
            paused.add(tid)
        else:
            assert d.reason
            ended.append(result(tid, params[tid], h, True))
            sched.observe(ended[-1])
    for tid in sorted(paused):
        ended.append(result(tid, params[tid], hist[tid], True))
        sched.observe(ended[-1])
    return {"ended": ended, "resumed": resumed, "hist": hist, "params": params}


def test_stopping_top_third_per_rung() -> None:
    s = HyperbandScheduler(SPACE, seed=0, max_resource=27, brackets=1)
    assert s.rung_values()[0].keys() == {1, 3, 9}
    ok = [s.assess(t, [v], [0]).verdict for t, v in (("a", 0.5), ("b", 0.9))]
    assert ok == [Verdict.CONTINUE, Verdict.CONTINUE]  # fewer than eta values: nobody stops
    d = s.assess("c", [0.4], [0])
    assert d.verdict is Verdict.STOP and "rung 1" in d.reason
    assert s.assess("c", [0.4, 0.9], [0, 1]).verdict is Verdict.STOP  # stays stopped
    assert s.assess("d", [0.95], [0]).verdict is Verdict.CONTINUE
    # the resource is the step: a trial reporting every 5th step reaches rungs 1 and 3 at once
    s.assess("e", [0.2], [4])
    assert s.rung_values()[0][3] == {"e": 0.2}


def test_minimize_mirrors_maximize() -> None:
    up = HyperbandScheduler(SPACE, seed=1, max_resource=27, brackets=1)
    down = HyperbandScheduler(SPACE, mode="minimize", seed=1, max_resource=27, brackets=1)
    for i, v in enumerate([0.3, 0.8, 0.1, 0.5, 0.9, 0.2]):
        assert up.assess(f"t{i}", [v], [0]).verdict is down.assess(f"t{i}", [-v], [0]).verdict


def test_brackets_follow_hyperband_shares_and_are_deterministic() -> None:
    s = HyperbandScheduler(SPACE, seed=3, min_resource=1, max_resource=81, reduction_factor=3)
    assert s.brackets == 5
    counts = np.bincount([s.bracket_of(f"T{i:05d}") for i in range(4000)], minlength=5)
    share = np.array([81, 34, 15, 8, 5], dtype=float)  # ceil(5/(s+1) * 3**s), s = 4..0
    assert np.allclose(counts / 4000, share / share.sum(), atol=0.03)
    again = HyperbandScheduler(SPACE, seed=3, max_resource=81)
    assert [again.bracket_of(f"T{i:05d}") for i in range(50)] == [
        s.bracket_of(f"T{i:05d}") for i in range(50)
    ]
    assert again.suggest("T00001") == s.suggest("T00001")
    # bracket 2's rungs start at 9
    assert list(s.rung_values()[2]) == [9, 27]


def test_stopping_mode_spends_less_and_keeps_good_trials() -> None:
    s = HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1)
    out = drive(s, 60)
    done = [r for r in out["ended"] if r.status is TrialStatus.SUCCEEDED]
    spent = sum(len(h) for h in out["hist"].values())
    assert spent < 0.4 * 60 * EPOCHS
    best = max(out["params"].values(), key=quality)
    assert any(r.params == best for r in done)  # the best configuration ran to the end
    assert not out["resumed"]


def test_promotion_pauses_and_resumes() -> None:
    s = HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, type="promotion")
    # one trial at rung 1 alone: floor(1/3) = 0 promotable, so it waits there
    p = s.suggest("a")
    assert isinstance(p, dict)
    d = s.assess("a", [0.9], [0])
    assert d.verdict is Verdict.PAUSE and s.paused() == ["a"]
    for t, v in (("b", 0.1), ("c", 0.2)):
        s.suggest(t)
        assert s.assess(t, [v], [0]).verdict is Verdict.PAUSE
    got = s.suggest("d")  # rung 1 holds 3 values: the best (a) is promoted
    assert isinstance(got, Suggestion) and got.resume == "a" and got.params == p
    assert s.paused() == ["b", "c"]
    # a promoted trial runs to the next rung (3), where it waits again
    assert s.assess("a", [0.9, 0.92], [0, 1]).verdict is Verdict.CONTINUE
    assert s.assess("a", [0.9, 0.92, 0.95], [0, 1, 2]).verdict is Verdict.PAUSE
    # a paused trial that the experiment ends leaves the waiting list
    s.observe(TrialResult("b", {}, TrialStatus.EARLY_STOPPED, 0.1, (0.1,)))
    assert sorted(s.paused()) == ["a", "c"]
    out = drive(HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, type="promotion"), 60)
    assert out["resumed"]
    assert any(r.status is TrialStatus.SUCCEEDED for r in out["ended"])


def test_promotion_on_arrival_without_pausing() -> None:
    s = HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, type="promotion")
    for t, v in (("a", 0.1), ("b", 0.2), ("c", 0.3), ("d", 0.4), ("e", 0.5)):
        s.assess(t, [v], [0])
    d = s.assess("f", [0.99], [0])  # 6 values, top 2 promotable: the new best goes straight on
    assert d.verdict is Verdict.CONTINUE and "promoted" in d.reason


def test_restore_paused_after_a_manager_restart() -> None:
    live = HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, type="promotion")
    for t, v in (("a", 0.9), ("b", 0.1), ("c", 0.2)):
        live.suggest(t)
        live.assess(t, [v], [0])
    fresh = HyperbandScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, type="promotion")
    for t, v in (("a", 0.9), ("b", 0.1), ("c", 0.2)):
        rep = (Report(0, v),)
        fresh.restore_paused(
            TrialResult(t, {"x": v, "y": v}, TrialStatus.PAUSED, v, (v,), reports=rep)
        )
    got = fresh.suggest("d")
    assert isinstance(got, Suggestion) and got.resume == "a"


def test_named_resource_metric() -> None:
    s = HyperbandScheduler(SPACE, seed=0, max_resource=27, brackets=1, resource="epochs")
    ms = [{"epochs": 0.5}, {"epochs": 1.0}]
    s.assess("a", [0.1, 0.2], [0, 1], metrics=ms)
    assert s.rung_values()[0][1] == {"a": 0.2}  # rung 1 reached at the second report
    s.assess("b", [0.3], [0], metrics=[{}])  # no resource reported: nothing recorded
    assert "b" not in s.rung_values()[0][1]


def test_observe_rebuilds_the_live_rungs() -> None:
    live = HyperbandScheduler(SPACE, seed=5, max_resource=EPOCHS)
    out = drive(live, 40)
    fresh = HyperbandScheduler(SPACE, seed=5, max_resource=EPOCHS)
    for r in out["ended"]:
        fresh.observe(r)
    assert fresh.rung_values() == live.rung_values()
    # failed trials leave every rung
    fresh.observe(TrialResult(out["ended"][0].trial_id, {}, TrialStatus.FAILED, None))
    assert all(
        out["ended"][0].trial_id not in vals for lad in fresh.rung_values() for vals in lad.values()
    )


def test_finite_space_is_not_repeated() -> None:
    space = SearchSpace.from_nni({"c": {"_type": "choice", "_value": list(range(5))}})
    s = HyperbandScheduler(space, seed=0, max_resource=9)
    got = [s.suggest(f"t{i}") for i in range(6)]
    assert sorted(g["c"] for g in got[:5] if isinstance(g, dict)) == [0, 1, 2, 3, 4]
    assert got[5] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "pausing"},
        {"min_resource": 10, "max_resource": 5},
        {"brackets": 9, "max_resource": 27},
        {"reduction_factor": 1},
        {"resource": 3},
        {"max_resource": math.inf},
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(PluginError):
        HyperbandScheduler(SPACE, **kwargs)


def test_bohb_model_sees_every_level_and_beats_random() -> None:
    def far(sched_cls: type, seed: int) -> tuple[float, Any]:
        s = sched_cls(SPACE, seed=seed, max_resource=EPOCHS, brackets=1)
        out = drive(s, 50)
        late = [p for t, p in out["params"].items() if int(t[1:]) > 30]
        return float(np.median([1 - quality(p) for p in late])), s

    gaps = []
    for seed in range(3):
        model_gap, s = far(BOHBScheduler, seed)
        random_gap, _ = far(HyperbandScheduler, seed)
        gaps.append(random_gap - model_gap)
    assert np.median(gaps) > 0  # later BOHB configurations are nearer the optimum than random
    # the default trusts a level once its 15% "good" share holds d + 1 = 3 points: 20 values
    assert s.min_points == 20
    level = s.model_level()
    assert level is not None and len(s._at_level[level]) >= 20
    higher = [lvl for lvl in s.levels if lvl > level]
    assert all(len(s._at_level.get(lvl, {})) < 20 for lvl in higher)  # the highest such level


def test_bohb_with_the_papers_min_points_fits_high_up_the_ladder() -> None:
    s = BOHBScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, min_points=3)
    drive(s, 50)
    assert s.model_level() is not None and s.model_level() >= 9


def test_bohb_shows_pending_trials_to_its_model() -> None:
    s = BOHBScheduler(
        SPACE, seed=0, max_resource=EPOCHS, brackets=1, random_fraction=0.0, min_points=3
    )
    for i in range(6):
        t = f"a{i}"
        s.suggest(t)
        s.assess(t, [0.1 * i], [0])
    assert s.model_level() == 1
    s.suggest("p1")  # running, nothing reported: pending at level 1
    seen: list[int] = []
    model = s._model(1)
    orig = model.suggest

    def spy(tid: str) -> Any:
        seen.append(len(model.history.pending))
        return orig(tid)

    model.suggest = spy  # type: ignore[method-assign]
    s.suggest("p2")
    assert seen == [1] and s.last_level == 1


def _warm(s: BOHBScheduler) -> None:
    for i in range(6):
        t = f"a{i}"
        s.suggest(t)
        s.assess(t, [0.1 * i], [0])
    assert s.model_level() == 1


def test_model_suggestions_keep_their_distance_from_tried_configurations() -> None:
    """A level's model that collapsed onto one configuration (here: one that always proposes a
    configuration already tried) cannot fill the budget with its copies: it is asked 3 times,
    then a random draw is used; a distant proposal is taken; ``novelty: 0`` takes the copy."""
    s = BOHBScheduler(SPACE, seed=0, max_resource=EPOCHS, random_fraction=0.0, min_points=3)
    _warm(s)
    tried = dict(s._trials["a0"].params)
    model = s._model(1)
    asked: list[str] = []

    def copycat(tid: str) -> dict[str, Any]:
        asked.append(tid)
        return {k: v + 1e-4 * len(asked) for k, v in tried.items()}

    model.suggest = copycat  # type: ignore[method-assign]
    got = s.suggest("p1")
    assert len(asked) == 3 and s.last_level is None  # three near-copies, then random
    assert isinstance(got, dict) and abs(got["x"] - tried["x"]) + abs(got["y"] - tried["y"]) > 1e-3

    pts = [dict(st.params) for st in s._trials.values() if st.params]
    grid = [{"x": x, "y": y} for x in np.linspace(0, 1, 21) for y in np.linspace(0, 1, 21)]
    far = max(grid, key=lambda g: min(math.dist((g["x"], g["y"]), (p["x"], p["y"])) for p in pts))
    model.suggest = lambda tid: dict(far)  # type: ignore[method-assign]
    assert s.suggest("p2") == far and s.last_level == 1

    lax = BOHBScheduler(
        SPACE, seed=0, max_resource=EPOCHS, random_fraction=0.0, min_points=3, novelty=0.0
    )
    _warm(lax)
    lax._model(1).suggest = lambda tid: dict(tried)  # type: ignore[method-assign]
    assert lax.suggest("p1") == tried and lax.last_level == 1
    with pytest.raises(PluginError, match="novelty"):
        BOHBScheduler(SPACE, novelty=-1)


def test_bohb_default_kernels_let_its_model_place_trials_in_a_mixed_space() -> None:
    """With the "gap" kernels of the tpe tuner, a level's few good points give kernels so narrow
    that most TPE suggestions are near-copies of tried configurations, and the novelty check
    replaces them by random draws (session 5: 0-8 of 200-400 trials on the benchmark spaces);
    bohb's default "scott" kernels (BOHB's KDE widths) let the model place well over 1.5x as
    many trials."""
    mixed = SearchSpace.from_nni(
        {
            "x": {"_type": "uniform", "_value": [0.0, 1.0]},
            "y": {"_type": "uniform", "_value": [0.0, 1.0]},
            "act": {"_type": "choice", "_value": ["a", "b", "c"]},
            "opt": {"_type": "choice", "_value": ["s", "m"]},
        }
    )

    def mixed_quality(p: dict[str, Any]) -> float:
        return quality(p) - 0.1 * (p["act"] != "b") - 0.05 * (p["opt"] != "m")

    def model_picks(seed: int, **kw: Any) -> int:
        s = BOHBScheduler(mixed, seed=seed, max_resource=EPOCHS, **kw)
        picks = 0
        orig = s.suggest

        def spy(tid: str) -> Any:
            nonlocal picks
            got = orig(tid)
            picks += s.last_level is not None
            return got

        s.suggest = spy  # type: ignore[method-assign]
        drive(s, 150, quality_of=mixed_quality)
        return picks

    scott = sum(model_picks(seed) for seed in range(3))
    gap = sum(model_picks(seed, bandwidth_rule="gap") for seed in range(3))
    assert scott > 1.5 * gap and scott > 0.15 * 3 * 150
    with pytest.raises(PluginError, match="bandwidth_rule"):
        BOHBScheduler(SPACE, bandwidth_rule="silverman")
    with pytest.raises(PluginError, match="bandwidth"):
        BOHBScheduler(SPACE, bandwidth=0)


def test_asha_gp_uses_the_gp_once_a_level_has_enough_points() -> None:
    s = ASHAGPScheduler(
        SPACE,
        seed=0,
        max_resource=EPOCHS,
        random_fraction=0.0,
        n_candidates=16,
        n_restarts=1,
        min_points=3,
    )
    used: list[float | None] = []
    orig = s._new_params

    def spy(tid: str, rng: Any) -> Any:
        got = orig(tid, rng)
        used.append(s.last_level)
        return got

    s._new_params = spy  # type: ignore[method-assign]
    out = drive(s, 16)
    assert s.brackets == 1
    assert used[0] is None and any(u is not None for u in used)  # random first, then the GP
    assert len(out["ended"]) == 16


def test_through_the_manager_on_the_simulate_executor(tmp_path: Path) -> None:
    """End to end: hyperband (promotion) as the configured tuner and no assessor; the manager
    uses the scheduler as its assessor, pauses trials and resumes them."""
    from hyperloom import Experiment

    grid = [round(v, 2) for v in np.linspace(0, 1, 12)]
    rows = []
    for x in grid:
        p = {"x": x, "y": 0.7}
        rows.append({"params": {"x": x}, "curve": curve(p)})
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"metric": "acc", "mode": "maximize", "rows": rows}))
    cfg = {
        "searchSpace": {"x": {"_type": "choice", "_value": grid}},
        "trialCommand": "unused",
        "trialConcurrency": 2,
        "maxTrialNumber": 12,
        "tuner": {
            "name": "hyperloom.tuners.hyperband:HyperbandScheduler",
            "classArgs": {"max_resource": EPOCHS, "type": "promotion", "brackets": 1},
        },
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(tmp_path / "exp"),
    }
    trials = Experiment.from_config(cfg).run(dashboard=False)
    assert len(trials) == 12
    done = [t for t in trials if t.status is TrialStatus.SUCCEEDED]
    assert done and len(done) < 12
    best_x = max(grid, key=lambda x: quality({"x": x, "y": 0.7}))
    assert any(t.params["x"] == best_x for t in done)


def test_bohb_on_a_simulate_table_through_the_manager(tmp_path: Path) -> None:
    """bohb (its defaults: one bracket, novelty check) on a finite grid table, as a hidden table
    would be played (``trainingService: {platform: simulate, table: FILE}``): every trial is a
    row of the table (a missing row would fail the run), no configuration runs twice, and the
    best row of the grid is trained to the end."""
    from hyperloom import Experiment

    xs = [round(v, 2) for v in np.linspace(0, 1, 12)]
    ys = [round(v, 2) for v in np.linspace(0, 1, 6)]
    rows = [{"params": {"x": x, "y": y}, "curve": curve({"x": x, "y": y})} for x in xs for y in ys]
    table = tmp_path / "grid.json"
    table.write_text(json.dumps({"metric": "acc", "rows": rows}))
    cfg = {
        "searchSpace": {
            "x": {"_type": "choice", "_value": xs},
            "y": {"_type": "choice", "_value": ys},
        },
        "trialCommand": "unused",
        "trialConcurrency": 4,
        "maxTrialNumber": 60,
        "seed": 3,
        "tuner": {"name": "bohb", "classArgs": {"max_resource": EPOCHS, "min_points": 8}},
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(tmp_path / "exp"),
    }
    trials = Experiment.from_config(cfg).run(dashboard=False)
    keys = [(t.params["x"], t.params["y"]) for t in trials]
    assert len(trials) == 60 and len(set(keys)) == 60  # a finite space: no repeats
    best = max(((x, y) for x in xs for y in ys), key=lambda p: quality({"x": p[0], "y": p[1]}))
    done = {(t.params["x"], t.params["y"]) for t in trials if t.status is TrialStatus.SUCCEEDED}
    assert best in done


def test_hyperband_passes_the_tuner_conformance_suite() -> None:
    from hyperloom.plugins.testing.tuners import check_tuner

    failed = [
        r for r in check_tuner(lambda sp, **kw: HyperbandScheduler(sp, **kw), v2=True) if not r.ok
    ]
    assert not failed, failed


def _stopped(tid: str, x: float, value: float, steps: int) -> TrialResult:
    reps = tuple(Report(i, value) for i in range(steps))
    return TrialResult(
        tid, {"x": x, "y": 0.5}, TrialStatus.EARLY_STOPPED, value, (value,) * steps, reports=reps
    )


def test_anneal_ranks_stopped_trials_below_finished_ones() -> None:
    from hyperloom.tuners.anneal import AnnealTuner

    t = AnnealTuner(SPACE, seed=0, n_startup=1, avg_best_idx=1e-9, shrink_coef=100.0)
    t.observe(TrialResult("a", {"x": 0.2, "y": 0.5}, TrialStatus.SUCCEEDED, 0.5))
    t.observe(TrialResult("b", {"x": 0.9, "y": 0.5}, TrialStatus.SUCCEEDED, 0.4))
    t.observe(_stopped("c", 0.6, 0.99, 2))  # a better value, but only after 2 of the steps
    xs = [t.suggest(f"s{i}")["x"] for i in range(8)]  # type: ignore[index]
    assert all(abs(x - 0.2) < 0.1 for x in xs)  # around the best finished trial


def test_rl_rewards_follow_rank_key() -> None:
    pytest.importorskip("torch")
    from hyperloom.tuners.rl import RLTuner

    t = RLTuner(SPACE, seed=0, batch_size=64)
    t.observe(TrialResult("a", {"x": 0.2, "y": 0.5}, TrialStatus.SUCCEEDED, 0.5))
    t.observe(TrialResult("b", {"x": 0.9, "y": 0.5}, TrialStatus.SUCCEEDED, 0.4))
    t.observe(_stopped("deep", 0.6, 0.99, 20))
    t.observe(_stopped("shallow", 0.7, 0.99, 2))
    r = t._rewards
    assert r[:2] == [0.5, 0.4]
    assert r[2] <= 0.4 and r[3] < r[2]  # below every finished trial; deeper ranks higher


def test_a_paused_trial_that_exits_0_is_not_taken_as_finished() -> None:
    # a script that reports its final value when asked to stop exits 0: the manager may record
    # it SUCCEEDED; the scheduler knows it paused it and does not count it at max_resource
    s = BOHBScheduler(SPACE, seed=0, max_resource=EPOCHS, brackets=1, type="promotion")
    for t, v in (("a", 0.9), ("b", 0.1), ("c", 0.2)):
        s.suggest(t)
        assert s.assess(t, [v], [0]).verdict is Verdict.PAUSE
    p = s._trials["b"].params
    s.observe(TrialResult("b", p, TrialStatus.SUCCEEDED, 0.1, (0.1,), reports=(Report(0, 0.1),)))
    assert "b" not in s._at_level.get(float(EPOCHS), {}) and "b" not in s.paused()
    assert s._at_level[1]["b"] == -0.1  # its rung value stays


def test_options_are_defined_once_and_checked_by_the_registry() -> None:
    import dataclasses
    import inspect

    from hyperloom.registry import check_class_args
    from hyperloom.tuners._scheduler_options import ASHAGPOptions, BOHBOptions, SchedulerOptions

    for cls, opts in (
        (HyperbandScheduler, SchedulerOptions),
        (BOHBScheduler, BOHBOptions),
        (ASHAGPScheduler, ASHAGPOptions),
    ):
        params = inspect.signature(cls).parameters
        init = inspect.signature(cls.__init__).parameters
        for f in dataclasses.fields(opts):
            assert params[f.name].default == f.default  # the signature is the dataclass's
            assert init[f.name].default == f.default  # and so is __init__'s
        with pytest.raises(PluginError, match="Did you mean 'min_resource'"):
            check_class_args(cls, {"min_resourse": 1}, "t", reserved=("space",))
        with pytest.raises(PluginError, match="Did you mean 'reduction_factor'"):
            cls(SPACE, reduction_fator=3)
    assert ASHAGPScheduler(SPACE, max_resource=27).brackets == 1  # its own default
    assert BOHBScheduler(SPACE, max_resource=27).brackets == 1  # ASHA by default too
    assert BOHBScheduler(SPACE, max_resource=27, brackets=None).brackets == 4
    assert "gamma" in inspect.signature(BOHBScheduler).parameters
    assert "gamma" not in inspect.signature(ASHAGPScheduler).parameters
    with pytest.raises(PluginError, match="gamma"):
        BOHBScheduler(SPACE, gamma=1.5)
    with pytest.raises(PluginError, match="max_points"):
        ASHAGPScheduler(SPACE, max_points=2)
