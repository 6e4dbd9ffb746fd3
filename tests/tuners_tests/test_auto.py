"""The auto tuner: the documented choice per space, the gp -> tpe switch with replay, MO
delegation, determinism on resume and the conformance suite."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners.auto import AutoTuner, choose
from hyperloom.tuners.gp import GPTuner
from hyperloom.tuners.tpe import TPETuner
from hyperloom.types import Objective, TrialResult, TrialStatus

CONT = {f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(4)}
#: NAS-Bench-201-shaped (6 x 5 options, 15,625 points): gp
CATS = {f"c{i}": {"_type": "choice", "_value": list("abcde")} for i in range(6)}
#: wider (8 x 5 = 40 options > GP_MAX_FEATURES): tpe with local search
CATS_WIDE = {f"c{i}": {"_type": "choice", "_value": list("abcde")} for i in range(8)}
#: mostly categorical, with numeric parameters: gp (cat_mixed-like)
MIXED = {
    **{f"c{i}": {"_type": "choice", "_value": list("abcdef")} for i in range(4)},
    "u": {"_type": "uniform", "_value": [0, 1]},
    "v": {"_type": "loguniform", "_value": [1e-4, 1]},
}
SMALL = {  # 2 x 13 x 11 = 286 points
    "k": {"_type": "choice", "_value": ["rbf", "sigmoid"]},
    "c": {"_type": "quniform", "_value": [-2, 4, 0.5]},
    "g": {"_type": "quniform", "_value": [-5, 0, 0.5]},
}
INTS = {f"n{i}": {"_type": "randint", "_value": [0, 20]} for i in range(5)}
NESTED = {
    "m": {
        "_type": "choice",
        "_value": [{"_name": "a", "u": {"_type": "uniform", "_value": [0, 1]}}, {"_name": "b"}],
    }
}
WIDE = {f"x{i}": {"_type": "uniform", "_value": [0, 1]} for i in range(40)}
FAST_GP = {"n_candidates": 64, "n_restarts": 2, "max_iter": 10}


def test_choice_rule() -> None:
    assert choose(SearchSpace.from_nni(CONT))[0] == "gp"
    name, why = choose(SearchSpace.from_nni(CATS))
    assert name == "gp" and "categorical" in why and "15625 points" in why
    name, why = choose(SearchSpace.from_nni(CATS_WIDE))
    assert name == "tpe" and "40 model features (categorical options)" in why
    tiny = {f"c{i}": {"_type": "choice", "_value": list("abcde")} for i in range(4)}  # 625
    assert choose(SearchSpace.from_nni(tiny))[0] == "tpe"
    assert choose(SearchSpace.from_nni(MIXED))[0] == "gp"  # 26 features, 2 numeric
    name, why = choose(SearchSpace.from_nni(SMALL))
    assert name == "tpe" and "286 points" in why
    assert choose(SearchSpace.from_nni(INTS))[0] == "gp"  # 3.2M points
    wide_mixed = {
        **MIXED,
        **{f"d{i}": {"_type": "choice", "_value": list("abcd")} for i in range(2)},
    }
    assert choose(SearchSpace.from_nni(wide_mixed))[0] == "tpe"  # 34 features
    name, why = choose(SearchSpace.from_nni(NESTED))
    assert name == "gp" and "nested" in why  # small conditional spaces: gp (measured)
    assert choose(SearchSpace.from_nni(WIDE))[0] == "tpe"
    assert choose(SearchSpace.from_nni(CONT), budget=5000)[0] == "tpe"


def test_delegates_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hyperloom.tuners.auto"):
        t = AutoTuner(SearchSpace.from_nni(CONT), mode="minimize", seed=0, gp=FAST_GP)
        t.suggest("a")
        t.suggest("b")
    assert isinstance(t.delegate, GPTuner) and t.choice == "gp"
    assert sum("auto tuner: using gp" in r.getMessage() for r in caplog.records) == 1
    cats = AutoTuner(SearchSpace.from_nni(MIXED), seed=0)
    assert isinstance(cats.delegate, GPTuner) and cats.switch_after == 150
    cat = AutoTuner(SearchSpace.from_nni(CATS), seed=0)
    assert isinstance(cat.delegate, GPTuner) and cat.switch_after == 150
    assert isinstance(AutoTuner(SearchSpace.from_nni(CATS_WIDE), seed=0).delegate, TPETuner)
    assert isinstance(AutoTuner(SearchSpace.from_nni(NESTED), seed=0).delegate, GPTuner)
    assert isinstance(AutoTuner(SearchSpace.from_nni(SMALL), seed=0).delegate, TPETuner)
    with pytest.raises(PluginError):
        AutoTuner(SearchSpace.from_nni(CONT), method="cmaes")


def _drive(t: Any, n: int) -> list[TrialResult]:
    out = []
    for i in range(n):
        p = t.suggest(f"t{i}")
        assert p is not None
        r = TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, sum(p.values()), (), i)
        t.observe(r)
        out.append(r)
    return out


def test_switch_to_tpe_replays_history() -> None:
    t = AutoTuner(SearchSpace.from_nni(CONT), mode="minimize", seed=1, switch_after=12, gp=FAST_GP)
    log = _drive(t, 12)
    assert t.choice == "gp"
    p = t.suggest("next")
    assert t.choice == "tpe" and isinstance(t.delegate, TPETuner) and p is not None
    assert t.delegate.history.n == 12  # type: ignore[attr-defined]
    # resume: a fresh tuner fed the same results makes the same suggestion
    b = AutoTuner(SearchSpace.from_nni(CONT), mode="minimize", seed=1, switch_after=12, gp=FAST_GP)
    for r in log:
        b.observe(r)
    assert b.suggest("next") == p
    # a known budget within switch_after never switches
    c = AutoTuner(
        SearchSpace.from_nni(CONT),
        mode="minimize",
        seed=1,
        switch_after=12,
        budget=12,
        gp=FAST_GP,
    )
    _drive(c, 13)
    assert c.choice == "gp"


def test_multi_objective_goes_to_an_mo_tuner() -> None:
    objs = (Objective("a", "minimize"), Objective("b", "maximize"))
    t = AutoTuner(SearchSpace.from_nni(CONT), seed=0, objectives=objs, gp=FAST_GP)
    assert t.multi_objective and getattr(type(t.delegate), "multi_objective", False)
    assert len(t.delegate.objectives) == 2
    p = t.suggest("0")
    assert p is not None
    t.observe(TrialResult("0", p, TrialStatus.SUCCEEDED, 1.0, (), 0, values=(1.0, 2.0)))
    # a wide all-categorical space goes to tpe, which searches several objectives itself
    c = AutoTuner(SearchSpace.from_nni(CATS_WIDE), seed=0, objectives=objs)
    assert isinstance(c.delegate, TPETuner) and len(c.delegate.objectives) == 2
    assert c.choice == "tpe" and "categorical" in c.reason


def test_conformance_suite() -> None:
    from hyperloom.plugins.testing.tuners import check_tuner

    def factory(space: SearchSpace, **kw: Any) -> AutoTuner:
        return AutoTuner(space, gp=FAST_GP, **kw)

    failed = [r for r in check_tuner(factory, v2=True) if not r.ok]
    assert not failed, [(r.name, r.detail) for r in failed]


def test_all_categorical_late_gp_phase_and_replay() -> None:
    sp = SearchSpace.from_nni(CATS_WIDE)
    kw: dict[str, Any] = {"mode": "minimize", "seed": 2, "late_gp": 12, "switch_after": 20}
    t = AutoTuner(sp, gp=FAST_GP, **kw)
    assert t.choice == "tpe" and "hands over to gp after 12" in t.reason
    log = _drive_cat(t, 12)
    assert isinstance(t.delegate, TPETuner)
    running = t.suggest("run")  # the switch happens here, before the suggestion
    assert t.choice == "gp" and isinstance(t.delegate, GPTuner) and running is not None
    nxt = t.suggest("next")
    assert nxt is not None and nxt != running  # the pending trial is known to the gp phase
    b = AutoTuner(sp, gp=FAST_GP, **kw)  # resume by replay
    for r in log:
        b.observe(r)
    assert b.suggest("run") == running and b.suggest("next") == nxt
    log += _drive_cat(t, 8, start=12, pending=("run", "next"))
    t.suggest("late")
    assert t.choice == "tpe" and "from gp to tpe" in t.reason
    # no late gp: disabled, forced, or a budget within it
    assert not AutoTuner(sp, late_gp=0)._phases
    assert AutoTuner(sp, budget=12, late_gp=12)._phases == []
    many = {f"c{i}": {"_type": "choice", "_value": list(range(10))} for i in range(6)}
    assert "hands over" not in AutoTuner(SearchSpace.from_nni(many)).reason  # 60 options


def _drive_cat(t: Any, n: int, start: int = 0, pending: tuple[str, ...] = ()) -> list[TrialResult]:
    out = []
    for tid in pending:  # end the running ones first
        p = t._pending[tid]
        r = TrialResult(tid, p, TrialStatus.SUCCEEDED, float(len(set(p.values()))), (), 0)
        t.observe(r)
        out.append(r)
    for i in range(start, start + n - len(pending)):
        p = t.suggest(f"t{i}")
        assert p is not None
        r = TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, float(len(set(p.values()))), (), i)
        t.observe(r)
        out.append(r)
    return out
