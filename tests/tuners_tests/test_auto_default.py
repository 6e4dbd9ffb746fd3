"""auto as the default tuner: every kind of space, up to 16 concurrent suggestions, failures,
constraints, several objectives, exhaustion of small finite spaces and resume by replay, all with
auto's default options (what a config that names no tuner would get)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hyperloom.space import SearchSpace
from hyperloom.tuners.auto import AutoTuner
from hyperloom.types import Constraint, Objective, TrialResult, TrialStatus

SPACES: dict[str, dict[str, Any]] = {
    "choice_only": {f"c{i}": {"_type": "choice", "_value": [1, 2, 3, "x"]} for i in range(5)},
    "nested": {
        "model": {
            "_type": "choice",
            "_value": [
                {
                    "_name": "net",
                    "lr": {"_type": "loguniform", "_value": [1e-4, 1]},
                    "opt": {
                        "_type": "choice",
                        "_value": [
                            {"_name": "sgd", "m": {"_type": "uniform", "_value": [0, 1]}},
                            {"_name": "adam"},
                        ],
                    },
                },
                {"_name": "tree", "depth": {"_type": "randint", "_value": [1, 12]}},
                {"_name": "const"},
            ],
        }
    },
    "small_grid": {
        "k": {"_type": "choice", "_value": ["a", "b"]},
        "q": {"_type": "quniform", "_value": [0, 2, 1]},
    },
    "huge": {f"x{i}": {"_type": "uniform", "_value": [-1, 1]} for i in range(40)},
    "all_types": {
        "u": {"_type": "uniform", "_value": [-1, 1]},
        "qu": {"_type": "quniform", "_value": [0, 10, 0.5]},
        "lu": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
        "qlu": {"_type": "qloguniform", "_value": [1, 1000, 1]},
        "ri": {"_type": "randint", "_value": [-3, 7]},
        "n": {"_type": "normal", "_value": [0, 2]},
        "qn": {"_type": "qnormal", "_value": [0, 3, 1]},
        "ln": {"_type": "lognormal", "_value": [0, 1]},
        "qln": {"_type": "qlognormal", "_value": [1, 1, 1]},
        "c": {"_type": "choice", "_value": [0.1, "s", None]},
    },
}
SMALL_GP = {"n_candidates": 64, "n_restarts": 2, "max_iter": 15}


def _loss(p: dict[str, Any]) -> float:
    """A deterministic loss of any params dict (numbers summed, other values hashed)."""
    total = 0.0
    for v in p.values():
        if isinstance(v, dict):
            total += _loss(v) + len(str(v.get("_name")))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            total += math.tanh(float(v))
        else:
            total += len(str(v)) * 0.1
    return total


def _run(space: dict[str, Any], n: int, width: int, **kw: Any) -> tuple[AutoTuner, list[Any]]:
    """``n`` trials, ``width`` at a time; every fifth one fails; returns the tuner and the results
    in the order they were observed."""
    sp = SearchSpace.from_nni(space)
    t = AutoTuner(sp, mode="minimize", seed=3, **kw)
    results: list[TrialResult] = []
    k = 0
    while k < n:
        batch = []
        for _ in range(min(width, n - k)):
            p = t.suggest(f"t{k}")
            if p is None:
                break
            assert sp.contains(p), p
            batch.append((f"t{k}", p))
            k += 1
        if not batch:
            break
        params = [p for _, p in batch]
        assert len({repr(p) for p in params}) == len(params)  # concurrent: all distinct
        for j, (tid, p) in enumerate(reversed(batch)):  # end in another order than started
            failed = (len(results) + j) % 5 == 4
            r = TrialResult(
                tid,
                p,
                TrialStatus.FAILED if failed else TrialStatus.SUCCEEDED,
                None if failed else _loss(p),
                (),
                len(results),
            )
            t.observe(r)
            results.append(r)
    return t, results


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_every_space_kind_concurrent_and_resume(kind: str) -> None:
    width = 16 if kind != "small_grid" else 4
    n = 24 if kind == "all_types" else 36
    t, results = _run(SPACES[kind], n, width, gp=SMALL_GP)
    assert len(results) == (6 if kind == "small_grid" else n)
    if kind == "small_grid":  # 6 points: exhausted, and says so
        assert t.suggest("more") is None
        return
    nxt = t.suggest("next")
    assert nxt is not None
    # resume by replay: a fresh tuner fed the same results continues the same way
    b = AutoTuner(SearchSpace.from_nni(SPACES[kind]), mode="minimize", seed=3, gp=SMALL_GP)
    for r in results:
        b.observe(r)
    assert b.suggest("next") == nxt
    assert b.choice == t.choice and b.reason == t.reason


def test_default_options_sixteen_concurrent() -> None:
    """auto exactly as a config without classArgs gets it (default gp settings)."""
    sp = SearchSpace.from_nni(SPACES["all_types"])
    t = AutoTuner(sp, seed=0)
    ps = [t.suggest(f"a{i}") for i in range(16)]
    assert all(p is not None and sp.contains(p) for p in ps)
    assert len({repr(p) for p in ps}) == 16


def test_constraints_and_objectives() -> None:
    objs = (Objective("a", "minimize"), Objective("b", "minimize"))
    cons = (Constraint("mem", max=1.0),)
    for kind in ("all_types", "choice_only"):
        sp = SearchSpace.from_nni(SPACES[kind])
        t = AutoTuner(sp, seed=0, objectives=objs, constraints=cons, gp=SMALL_GP)
        assert len(t.delegate.objectives) == 2
        assert tuple(getattr(t.delegate, "constraints", ())) == cons  # passed on to the method
        for i in range(14):
            p = t.suggest(str(i))
            assert p is not None and sp.contains(p)
            v = _loss(p)
            t.observe(
                TrialResult(
                    str(i),
                    p,
                    TrialStatus.SUCCEEDED,
                    v,
                    (),
                    i,
                    values=(v, -v + i % 3),
                    metrics={"mem": float(i % 2) * 2.0},
                )
            )


@dataclass(frozen=True)
class _TimedResult(TrialResult):
    """A result with a ``duration`` (seconds, start to end), as the kernel provides it (this
    re-declares the field where ``TrialResult`` already has it)."""

    duration: float | None = None


def _timed_run(t: AutoTuner, n: int, secs: float) -> list[TrialResult]:
    out: list[TrialResult] = []
    for i in range(n):
        p = t.suggest(f"t{i}")
        assert p is not None
        r = _TimedResult(f"t{i}", p, TrialStatus.SUCCEEDED, _loss(p), (), i, duration=secs)
        t.observe(r)
        out.append(r)
    return out


def test_quick_trials_hand_gp_over_to_tpe_and_replay_agrees() -> None:
    sp = SearchSpace.from_nni(SPACES["all_types"])
    t = AutoTuner(sp, mode="minimize", seed=1, gp=SMALL_GP)
    assert t.choice == "gp"
    results = _timed_run(t, 6, 0.05)  # the switch is checked at each suggestion
    assert t.choice == "tpe" and "0.05 s" in t.reason
    nxt = t.suggest("next")
    b = AutoTuner(sp, mode="minimize", seed=1, gp=SMALL_GP)
    for r in results:
        b.observe(r)
    assert b.suggest("next") == nxt and b.choice == "tpe"
    slow = AutoTuner(sp, mode="minimize", seed=1, gp=SMALL_GP)
    _timed_run(slow, 7, 30.0)
    assert slow.choice == "gp"  # slow trials: gp stays
    off = AutoTuner(sp, mode="minimize", seed=1, gp=SMALL_GP, min_trial_seconds=0)
    _timed_run(off, 7, 0.01)
    assert off.choice == "gp"
    plain = AutoTuner(sp, mode="minimize", seed=1, gp=SMALL_GP)
    for i in range(7):
        p = plain.suggest(str(i))
        assert p is not None
        plain.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, _loss(p), (), i))
    assert plain.choice == "gp"
