"""TPE's local search (session 6): the best-scored untried one-option change of the incumbent comes
first; auto turns it on for spaces of categorical parameters only."""

from __future__ import annotations

import functools
import random
from typing import Any

import pytest
from hyperloom.errors import PluginError
from hyperloom.plugins.testing.tuners import TUNER_CHECKS, run_tuner_check
from hyperloom.space import SearchSpace
from hyperloom.tuners.auto import AutoTuner
from hyperloom.tuners.tpe import TPETuner
from hyperloom.types import TrialResult, TrialStatus

CELL = {f"e{i}": {"_type": "choice", "_value": ["a", "b", "c", "d"]} for i in range(5)}
MIXED = {**CELL, "lr": {"_type": "loguniform", "_value": [1e-4, 1.0]}}


def _loss(p: dict[str, Any]) -> float:
    return float(sum(v != "c" for k, v in p.items() if k.startswith("e")))


def _run(tuner: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        p = tuner.suggest(f"t{i}")
        out.append(p)
        tuner.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, _loss(p), (), i))
    return out


def _diff(a: dict[str, Any], b: dict[str, Any]) -> int:
    return sum(a[k] != b[k] for k in a)


def test_suggestions_are_neighbours_of_the_incumbent() -> None:
    t = TPETuner(SearchSpace.from_nni(CELL), mode="minimize", seed=0, local_search=True)
    assert t.local_search_from == 20  # 2 * n_startup
    pts = _run(t, 20)
    for i in range(20, 40):
        best = min(pts, key=_loss)
        untried = any(
            {**best, k: o} not in pts for k in best for o in "abcd" if o != best[k]
        )  # an untried neighbour exists
        p = t.suggest(f"t{i}")
        if untried:
            assert _diff(p, best) == 1, (i, p, best)
        pts.append(p)
        t.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, _loss(p), (), i))
    assert min(map(_loss, pts)) == 0  # a separable cell: the local search walks to the optimum


def test_off_by_default_and_validated() -> None:
    sp = SearchSpace.from_nni(CELL)
    assert TPETuner(sp).local_search is False
    with pytest.raises(PluginError, match="local_search"):
        TPETuner(sp, local_search=1)  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="local_search_from"):
        TPETuner(sp, local_search=True, local_search_from=0)


def test_concurrent_suggestions_spread_over_the_neighbourhood() -> None:
    t = TPETuner(SearchSpace.from_nni(CELL), mode="minimize", seed=1, local_search=True)
    _run(t, 25)
    batch = [t.suggest(f"p{i}") for i in range(8)]
    assert len({tuple(sorted(p.items())) for p in batch}) == 8


def test_replay_gives_the_same_next_suggestion() -> None:
    sp = SearchSpace.from_nni(MIXED)
    live = TPETuner(sp, mode="minimize", seed=3, local_search=True)
    pts = _run(live, 30)
    replay = TPETuner(sp, mode="minimize", seed=3, local_search=True)
    for i, p in enumerate(pts):
        replay.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, _loss(p), (), i))
    assert replay.suggest("x") == live.suggest("x")


@pytest.mark.parametrize("check", list(TUNER_CHECKS))
def test_conformance_with_local_search(check: str) -> None:
    factory = functools.partial(TPETuner, local_search=True, local_search_from=3)
    result = run_tuner_check(check, factory)
    assert result.ok, result.detail


def test_auto_uses_it_on_categorical_spaces_only() -> None:
    # 9 x 4 = 36 options: wider than auto's gp branch for all-categorical spaces (32), so tpe
    wide = {f"e{i}": {"_type": "choice", "_value": ["a", "b", "c", "d"]} for i in range(9)}
    cat = AutoTuner(SearchSpace.from_nni(wide), mode="minimize", seed=0)
    assert cat.choice == "tpe" and cat.delegate.local_search is True  # type: ignore[attr-defined]
    assert "local search" in cat.reason
    off = AutoTuner(
        SearchSpace.from_nni(wide), mode="minimize", seed=0, tpe={"local_search": False}
    )
    assert off.delegate.local_search is False  # type: ignore[attr-defined]
    assert "local search" not in off.reason
    big = {f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(40)}
    num = AutoTuner(SearchSpace.from_nni(big), mode="minimize", seed=0)
    assert num.choice == "tpe" and num.delegate.local_search is False  # type: ignore[attr-defined]


def test_a_local_optimum_moves_on_to_two_option_changes() -> None:
    """The incumbent and all its one-option changes are tried: the next suggestion changes two."""
    sp = SearchSpace.from_nni({f"e{i}": {"_type": "choice", "_value": [0, 1, 2]} for i in range(4)})
    t = TPETuner(sp, mode="minimize", seed=0, local_search=True)
    inc = {f"e{i}": 0 for i in range(4)}
    pts = [inc] + [{**inc, f"e{i}": o} for i in range(4) for o in (1, 2)]
    rng = random.Random(0)
    while len(pts) < 20:
        p = {f"e{i}": rng.choice([0, 1, 2]) for i in range(4)}
        if p not in pts and _diff(p, inc) > 2:
            pts.append(p)
    for i, p in enumerate(pts):
        t.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, float(p != inc), (), i))
    for i in range(3):
        p = t.suggest(f"s{i}")
        assert _diff(p, inc) == 2, p
