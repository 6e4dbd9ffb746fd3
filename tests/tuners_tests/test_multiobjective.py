"""Multi-objective tuners (random, tpe, evolution as NSGA-II), constraints, stopped trials in the
single-objective order, and the contract-v2 conformance checks (which must catch broken tuners)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hyperloom import open_experiment, pareto
from hyperloom.plugins.testing.tuners import V2_TUNER_CHECKS, check_tuner, run_tuner_check
from hyperloom.space import SearchSpace
from hyperloom.tuners.evolution import EvolutionTuner
from hyperloom.tuners.grid import GridTuner
from hyperloom.tuners.random import RandomTuner
from hyperloom.tuners.tpe import TPETuner
from hyperloom.types import Constraint, Objective, Report, TrialResult, TrialStatus

MO_TUNERS = [RandomTuner, GridTuner, TPETuner, EvolutionTuner]
TWO = (Objective("f1", "minimize"), Objective("f2", "minimize"))


@pytest.mark.parametrize("check", list(V2_TUNER_CHECKS))
@pytest.mark.parametrize("cls", MO_TUNERS, ids=lambda c: c.__name__)
def test_v2_conformance(cls: type, check: str) -> None:
    result = run_tuner_check(check, cls)
    assert result.ok, result.detail
    assert "skipped" not in result.detail  # all of them declare multi_objective


def test_check_tuner_v2_lists_the_new_checks() -> None:
    names = [r.name for r in check_tuner(RandomTuner, v2=True)]
    assert names[-len(V2_TUNER_CHECKS) :] == list(V2_TUNER_CHECKS)


# --- the v2 checks catch broken tuners ------------------------------------------------------


class SilentSingle(RandomTuner):
    """Says it is single-objective but swallows several objectives."""

    multi_objective = False

    def __init__(self, space: SearchSpace, **kw: Any) -> None:
        kw.pop("objectives", None)
        super().__init__(space, **kw)


class IdleNone(RandomTuner):
    """Answers "not now" when nothing runs, which ends an experiment."""

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self._n_observed >= 5 and not self._pending:
            return None
        return super().suggest(trial_id)


class CrashesOnNaN(RandomTuner):
    def observe(self, result: TrialResult) -> None:
        if result.value is not None and not math.isfinite(result.value):
            raise ValueError("nan")
        super().observe(result)


class MOCrashesOnPartialValues(RandomTuner):
    def observe(self, result: TrialResult) -> None:
        if result.values is not None and len(self.objectives) > 1:
            assert all(math.isfinite(v) for v in result.values)
            assert len(result.values) == len(self.objectives)
        super().observe(result)


class MOUnseeded(RandomTuner):
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if len(self.objectives) > 1:
            return self.space.sample(np.random.default_rng())
        return super().suggest(trial_id)


class MOCounts(RandomTuner):
    """Deterministic, but with several objectives its draws follow its own call count."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.calls = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        self.calls += 1
        if len(self.objectives) > 1:
            return self.space.sample(np.random.default_rng([1, self.calls]))
        return super().suggest(trial_id)


@pytest.mark.parametrize(
    ("tuner", "check"),
    [
        (SilentSingle, "refuses_objectives"),
        (IdleNone, "not_now"),
        (CrashesOnNaN, "nan_values"),
        (MOCrashesOnPartialValues, "mo_valid"),
        (MOUnseeded, "mo_determinism"),
        (MOCounts, "mo_resume"),
    ],
)
def test_v2_checks_catch_broken_tuners(tuner: type, check: str) -> None:
    result = run_tuner_check(check, tuner)
    assert not result.ok
    assert result.detail


# --- search quality -------------------------------------------------------------------------

_SPACE = SearchSpace.from_nni({f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(4)})


def _zdt1(p: dict[str, Any]) -> tuple[float, float]:
    x = np.array([p[f"x{i}"] for i in range(4)])
    g = 1.0 + 9.0 * float(x[1:].mean())
    return float(x[0]), g * (1.0 - math.sqrt(x[0] / g))


def _drive(tuner: Any, n: int, fn: Any = _zdt1) -> np.ndarray:
    out = []
    for i in range(n):
        p = tuner.suggest(f"t{i}")
        v = fn(p)
        out.append(v)
        tuner.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, v[0], values=v))
    return np.array(out)


@pytest.mark.parametrize("cls", [TPETuner, EvolutionTuner], ids=lambda c: c.__name__)
def test_multi_objective_tuners_beat_random_hypervolume(cls: type) -> None:
    ref = [1.1, 11.0]
    seeds = (0, 1, 2)
    hv = [pareto.hypervolume(_drive(cls(_SPACE, seed=s, objectives=TWO), 70), ref) for s in seeds]
    hv_rand = [
        pareto.hypervolume(_drive(RandomTuner(_SPACE, seed=s, objectives=TWO), 70), ref)
        for s in seeds
    ]
    assert np.median(hv) > np.median(hv_rand), (hv, hv_rand)


def test_nsga2_population_keeps_the_front() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    t = EvolutionTuner(space, seed=0, objectives=TWO, population_size=4, sample_size=2)
    pts = [(0.0, 1.0), (2.0, 2.0), (1.0, 0.0), (3.0, 3.0), (0.5, 0.5), (2.5, 0.2), (0.4, 0.9)]
    for i, v in enumerate(pts):
        t.observe(TrialResult(f"t{i}", {"x": i / 10}, TrialStatus.SUCCEEDED, v[0], values=v))
    alive = sorted(pts[i] for i in t._alive)
    # the front (4 points) survives; (2, 2) and (3, 3) and then the most crowded are gone
    assert alive == sorted([(0.0, 1.0), (1.0, 0.0), (0.5, 0.5), (0.4, 0.9)])


def test_multi_objective_tpe_good_set_is_the_front_first() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    t = TPETuner(space, seed=0, objectives=TWO, n_startup=2, gamma=0.3)
    pts = [(3.0, 3.0), (0.0, 1.0), (2.0, 2.0), (1.0, 0.0), (0.5, 0.5), (4.0, 4.0)] * 2
    for i, v in enumerate(pts[:10]):
        t.observe(TrialResult(f"t{i}", {"x": i / 10}, TrialStatus.SUCCEEDED, v[0], values=v))
    split = t._split()
    assert split is not None
    good = sorted({pts[i] for i in split[0]})
    assert good == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]  # 3 = ceil(0.3 * 10), all on the front


_CELLS = SearchSpace.from_nni(
    {f"e{i}": {"_type": "choice", "_value": ["a", "b", "c", "d"]} for i in range(4)}
)


def _cell_losses(p: dict[str, Any]) -> tuple[float, float]:
    # two conflicting objectives over a 4^4 grid: "a" edges are accurate but slow
    k = [("a", "b", "c", "d").index(p[f"e{i}"]) for i in range(4)]
    return float(sum(k)) + 0.1 * k[0] * k[1], float(sum(3 - v for v in k)) + 0.3 * (k[2] == 1)


def _one_change(p: dict[str, Any], q: dict[str, Any]) -> bool:
    return sum(p[k] != q[k] for k in p) == 1


@pytest.mark.parametrize("local_search", [True, False])
def test_multi_objective_tpe_local_search_walks_the_front(local_search: bool) -> None:
    # with local_search, from local_search_from observations on, each suggestion is an untried
    # one-option change of a trial on the current first front
    t = TPETuner(_CELLS, seed=3, objectives=TWO, n_startup=5, local_search=local_search)
    seen: list[tuple[dict[str, Any], tuple[float, float]]] = []
    walked = 0
    for i in range(40):
        p = t.suggest(f"t{i}")
        assert p is not None
        if i >= t.local_search_from:
            pts = np.array([v for _, v in seen])
            front = [seen[j][0] for j in np.flatnonzero(pareto.pareto_mask(pts))]
            walked += any(_one_change(q, p) for q in front)
        v = _cell_losses(p)
        seen.append((p, v))
        t.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, v[0], values=v))
    steps = 40 - t.local_search_from
    if local_search:
        assert walked == steps
    else:
        assert walked < steps  # the density's candidates jump further


def test_multi_objective_tpe_local_search_is_reproducible() -> None:
    runs = []
    for _ in range(2):
        t = TPETuner(_CELLS, seed=5, objectives=TWO, n_startup=4, local_search=True)
        runs.append(_drive(t, 30, _cell_losses).tolist())
    assert runs[0] == runs[1]


# --- constraints ----------------------------------------------------------------------------


def _feasible_share(cls: type, n: int, seed: int, multi: bool) -> float:
    """The share of feasible trials in the second half of a search whose best values (sum and
    x0, maximised) are infeasible (``x0 + x1 <= 0.6``)."""
    space = SearchSpace.from_nni(
        {f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(2)}
    )
    objs = (Objective("s", "maximize"), Objective("x0", "maximize")) if multi else None
    t = cls(space, seed=seed, objectives=objs, constraints=(Constraint("s", max=0.6),))
    ok = 0
    for i in range(n):
        p = t.suggest(f"t{i}")
        total = p["x0"] + p["x1"]
        vals = (total, p["x0"]) if multi else None
        t.observe(
            TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, total, metrics={"s": total}, values=vals)
        )
        if i >= n // 2:
            ok += total <= 0.6
    return ok / (n - n // 2)


@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
@pytest.mark.parametrize("cls", [TPETuner, EvolutionTuner], ids=lambda c: c.__name__)
def test_constraints_steer_towards_the_feasible_region(cls: type, multi: bool) -> None:
    share = np.median([_feasible_share(cls, 60, s, multi) for s in (0, 1, 2)])
    base = np.median([_feasible_share(RandomTuner, 60, s, multi) for s in (0, 1, 2)])
    assert share > base + 0.15, (share, base)


# --- the single-objective order: finished, then stopped early by depth ----------------------


def _stopped(tid: str, x: float, value: float, step: int) -> TrialResult:
    reports = tuple(Report(s, value) for s in range(step + 1))
    return TrialResult(tid, {"x": x}, TrialStatus.EARLY_STOPPED, value, reports=reports)


def test_tpe_good_set_prefers_finished_then_deeper_stopped_trials() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    t = TPETuner(space, seed=0, mode="maximize", n_startup=2, gamma=0.3)
    # stopped trials with the best values at shallow steps, a deep one, and finished ones
    t.observe(_stopped("s0", 0.1, 0.99, 0))
    t.observe(_stopped("s1", 0.2, 0.98, 0))
    t.observe(_stopped("s2", 0.3, 0.50, 5))
    for i in range(7):
        t.observe(TrialResult(f"f{i}", {"x": 0.4 + i / 20}, TrialStatus.SUCCEEDED, 0.6 - i / 100))
    split = t._split()
    assert split is not None
    assert split[0].tolist() == [3, 4, 5]  # ceil(0.3 * 10) finished trials, not the shallow 0.99
    t2 = TPETuner(space, seed=0, mode="maximize", n_startup=2, gamma=0.5)
    for r in (_stopped("s0", 0.1, 0.99, 0), _stopped("s2", 0.3, 0.50, 5)):
        t2.observe(r)
    t2.observe(TrialResult("f0", {"x": 0.5}, TrialStatus.SUCCEEDED, 0.1))
    split2 = t2._split()
    assert split2 is not None
    assert split2[0].tolist() == [1, 2]  # the finished one, then the deeper stopped one


def test_evolution_tournament_prefers_finished_over_stopped() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    t = EvolutionTuner(space, seed=0, mode="maximize", population_size=3, sample_size=3)
    t.observe(_stopped("s0", 0.1, 0.99, 0))
    t.observe(TrialResult("f0", {"x": 0.7}, TrialStatus.SUCCEEDED, 0.2))
    t.observe(_stopped("s1", 0.3, 0.95, 4))
    rng = np.random.default_rng(0)
    assert t._tournament(rng)[0] == pytest.approx(0.7)


# --- through the real manager on the simulate executor --------------------------------------


def test_two_objectives_through_the_manager(tmp_path: Path) -> None:
    rows = []
    for i in range(40):
        acc = 1.0 - (i / 39 - 0.3) ** 2
        rows.append(
            {
                "params": {"x": i},
                "curve": [acc * (s + 1) / 3 for s in range(3)],
                "seconds": [10.0 * (s + 1) for s in range(3)],
                "metrics": {"size": float(i * i)},
            }
        )
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"metric": "acc", "mode": "maximize", "rows": rows}))
    cfg = {
        "experimentName": "mo",
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(40))}},
        "trialConcurrency": 2,
        "maxTrialNumber": 16,
        "objectives": [{"name": "acc", "mode": "maximize"}, {"name": "size", "mode": "minimize"}],
        "tuner": {"name": "tpe", "classArgs": {"seed": 3, "n_startup": 4}},
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    path = tmp_path / "mo.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [sys.executable, "-m", "hyperloom.cli", "run", str(path), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    with open_experiment(out.stdout.split()[1]) as view:
        trials = list(view.trials())
    assert len(trials) == 16
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    vals = [tuple(t.values) for t in trials]
    assert all(v[1] == t.params["x"] ** 2 for v, t in zip(vals, trials, strict=True))
    assert len({t.params["x"] for t in trials}) == 16  # no duplicates in a finite space
    front = pareto.pareto_mask(pareto.as_losses(vals, ["max", "min"]))
    assert front.any()


# --- gp with expected hypervolume improvement -----------------------------------------------


def test_ehvi_2d_matches_monte_carlo_and_the_hypervolume_gain() -> None:
    from hyperloom.tuners.gp._tuner import ehvi_2d

    rng = np.random.default_rng(11)
    for _ in range(10):
        pts = rng.random((9, 2))
        front = pts[pareto.pareto_mask(pts)]
        ref = np.array([1.2, 1.1])
        mu0, mu1 = rng.random(3) * 1.2 - 0.1, rng.random(3) * 1.2 - 0.1
        s0, s1 = rng.random(3) * 0.3 + 0.01, rng.random(3) * 0.3 + 0.01
        got = ehvi_2d(front, ref, mu0, s0, mu1, s1)
        base = pareto.hypervolume(front, ref)
        for i in range(3):
            x = rng.normal(mu0[i], s0[i], 3000)
            y = rng.normal(mu1[i], s1[i], 3000)
            gain = [
                pareto.hypervolume(np.vstack([front, [[a, b]]]), ref) - base
                for a, b in zip(x, y, strict=True)
            ]
            se = np.std(gain) / np.sqrt(len(gain))
            assert abs(got[i] - np.mean(gain)) <= 4 * se + 1e-4, (got[i], np.mean(gain), se)
    # a point with no uncertainty: exactly its hypervolume gain
    front = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1]])
    ref = np.array([1.0, 1.0])
    got = ehvi_2d(front, ref, np.array([0.3]), np.array([1e-9]), np.array([0.3]), np.array([1e-9]))
    want = pareto.hypervolume(np.vstack([front, [[0.3, 0.3]]]), ref) - pareto.hypervolume(
        front, ref
    )
    assert got[0] == pytest.approx(want, abs=1e-6)


def _gp_ehvi(space: SearchSpace, **kw: Any) -> Any:
    from hyperloom.tuners.gp import GPTuner

    return GPTuner(space, acquisition="ehvi", **kw)


_gp_ehvi.multi_objective = True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "check",
    [
        "mo_valid",
        pytest.param("mo_determinism", marks=pytest.mark.slow),
        pytest.param("mo_resume", marks=pytest.mark.slow),
    ],
)
def test_gp_ehvi_conformance(check: str) -> None:
    result = run_tuner_check(check, _gp_ehvi)
    assert result.ok, result.detail


def test_gp_ehvi_beats_random_on_cells() -> None:
    from hyperloom.tuners.gp import GPTuner

    ref = [15.0, 15.0]
    hv = [
        pareto.hypervolume(
            _drive(GPTuner(_CELLS, seed=s, objectives=TWO, acquisition="ehvi"), 30, _cell_losses),
            ref,
        )
        for s in (0, 1)
    ]
    hv_rand = [
        pareto.hypervolume(
            _drive(RandomTuner(_CELLS, seed=s, objectives=TWO), 30, _cell_losses), ref
        )
        for s in (0, 1)
    ]
    assert np.median(hv) > np.median(hv_rand), (hv, hv_rand)
