"""The tuner conformance suite: checks that any tuner, built-in or third-party, keeps the contract.

Use it from code (``hyperloom plugins check NAME`` does)::

    from hyperloom.plugins.testing import check_tuner
    for r in check_tuner(MyTuner):
        print(r.name, r.ok, r.detail)

or from pytest, one test per check::

    @pytest.mark.parametrize("check", TUNER_CHECKS)
    def test_my_tuner(check):
        result = run_tuner_check(check, MyTuner)
        assert result.ok, result.detail

The contract-v2 checks (:data:`V2_TUNER_CHECKS`: NaN values, "not now", and, for a tuner that
declares ``multi_objective = True``, several objectives) run with ``check_tuner(f, v2=True)`` or one
by one with ``run_tuner_check``.

``tuner_factory(space, mode=..., seed=...)`` builds a tuner; a tuner class works as is. Every check
drives the tuner the way the manager does: ``suggest()`` for new trials, ``observe()`` once for each
ended trial (failed ones with value None), never a process. The checks are small (at most a
hundred trials each) so that the whole suite runs in seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from hyperloom.plugins.testing._result import CheckFailure, CheckResult, run_check
from hyperloom.space import SearchSpace
from hyperloom.types import FINISHED, Objective, TrialResult, TrialStatus

__all__ = [
    "ALL_TYPES_SPACE",
    "TUNER_CHECKS",
    "V2_TUNER_CHECKS",
    "CheckResult",
    "check_tuner",
    "run_tuner_check",
]

TunerFactory = Callable[..., Any]

#: A space with every NNI type, q- and log-types, and a two-level nested choice.
ALL_TYPES_SPACE: dict[str, Any] = {
    "c": {"_type": "choice", "_value": ["a", 2, 3.5, True, None]},
    "ri": {"_type": "randint", "_value": [-3, 4]},
    "u": {"_type": "uniform", "_value": [-1.5, 2.5]},
    "qu": {"_type": "quniform", "_value": [0, 10, 3]},
    "lu": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "qlu": {"_type": "qloguniform", "_value": [1, 1000, 10]},
    "n": {"_type": "normal", "_value": [1.0, 2.0]},
    "qn": {"_type": "qnormal", "_value": [0.0, 5.0, 2]},
    "ln": {"_type": "lognormal", "_value": [0.0, 1.0]},
    "qln": {"_type": "qlognormal", "_value": [2.0, 0.5, 1]},
    "net": {
        "_type": "choice",
        "_value": [
            {"_name": "mlp", "width": {"_type": "qloguniform", "_value": [16, 512, 16]}},
            {
                "_name": "cnn",
                "kernel": {"_type": "choice", "_value": [3, 5, 7]},
                "block": {
                    "_type": "choice",
                    "_value": [
                        {"_name": "plain"},
                        {"_name": "res", "depth": {"_type": "randint", "_value": [1, 4]}},
                    ],
                },
            },
            {"_name": "none"},
        ],
    },
}

#: Narrow ranges, q-steps that do not divide the range, bounds that the objective pushes against.
_EDGE_SPACE: dict[str, Any] = {
    "tiny": {"_type": "uniform", "_value": [1.0, 1.0001]},
    "q": {"_type": "quniform", "_value": [0.1, 1.0, 0.3]},
    "ql": {"_type": "qloguniform", "_value": [3, 70, 7]},
    "l": {"_type": "loguniform", "_value": [1e-8, 1e-7]},
    "r": {"_type": "randint", "_value": [5, 7]},
    "one": {"_type": "choice", "_value": ["only"]},
}

#: A finite space of 8 points ((2 + 1 + 1) x 2), with a nested choice.
_FINITE_SPACE: dict[str, Any] = {
    "a": {
        "_type": "choice",
        "_value": [
            {"_name": "x", "k": {"_type": "randint", "_value": [0, 2]}},
            {"_name": "y"},
            {"_name": "z"},
        ],
    },
    "b": {"_type": "quniform", "_value": [0, 1, 1]},
}
_FINITE_SIZE = 8


def _num(v: Any) -> float:
    if isinstance(v, bool) or v is None:
        return float(bool(v))
    if isinstance(v, int | float):
        return float(v) if math.isfinite(float(v)) else 0.0
    if isinstance(v, str):
        return float(len(v))
    if isinstance(v, dict):
        return sum(_num(x) for k, x in v.items() if k != "_name") + float(
            len(str(v.get("_name", "")))
        )
    return 0.0


def _objective(params: dict[str, Any]) -> float:
    """A deterministic, bounded function of any params dict."""
    s = 0.0
    for i, k in enumerate(sorted(params)):
        s += math.sin((i + 1) * 0.7 * _num(params[k]))
    return s


def _key(params: Any) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _result(trial_id: str, params: dict[str, Any], value: float | None, seq: int) -> TrialResult:
    status = TrialStatus.SUCCEEDED if value is not None else TrialStatus.FAILED
    return TrialResult(trial_id, params, status, value, (), seq)


class _Failure(CheckFailure):
    pass


def _params(s: Any) -> dict[str, Any] | None:
    """The parameters of a suggestion (a dict or a Suggestion); None for "not now" or FINISHED."""
    if s is None or s is FINISHED:
        return None
    if isinstance(s, dict):
        return s
    params = getattr(s, "params", None)
    if isinstance(params, dict):
        return params
    raise _Failure(f"suggest() returned {s!r}: not a dict, a Suggestion, None or FINISHED")


def _run(
    tuner: Any,
    space: SearchSpace,
    n: int,
    *,
    concurrency: int = 1,
    value: Callable[[int, dict[str, Any]], float | None] | None = None,
    start: int = 0,
    log: list[TrialResult] | None = None,
    make: Callable[[str, dict[str, Any], int], TrialResult] | None = None,
) -> list[dict[str, Any] | None]:
    """Drives ``tuner`` for ``n`` trials with up to ``concurrency`` running at once (oldest ends
    first); checks every suggestion against the space. Returns the suggestions in order.
    ``make(trial_id, params, seq)`` builds the ended trial's result (default: ``value``)."""
    value = value or (lambda i, p: _objective(p))
    out: list[dict[str, Any] | None] = []
    running: list[tuple[str, dict[str, Any], int]] = []
    i = start
    while i < start + n or running:
        while i < start + n and len(running) < concurrency:
            tid = f"trial-{i}"
            p = _params(tuner.suggest(tid))
            out.append(p)
            if p is None:
                i = start + n
                break
            if not space.contains(p):
                try:
                    space.validate(p)
                    why = "?"
                except Exception as e:
                    why = str(e)
                raise _Failure(f"suggestion {i} is not a point of the space: {p!r} ({why})")
            running.append((tid, p, i))
            i += 1
        if running:
            tid, p, seq = running.pop(0)
            r = make(tid, p, seq) if make is not None else _result(tid, p, value(seq, p), seq)
            tuner.observe(r)
            if log is not None:
                log.append(r)
    return out


def _check_all_types(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    for mode in ("maximize", "minimize"):
        tuner = factory(space, mode=mode, seed=3)
        out = _run(tuner, space, 40, concurrency=3)
        if any(p is None for p in out):
            raise _Failure(f"suggest() returned None in an infinite space (mode={mode})")
    names = set()
    for p in out:
        assert p is not None
        names.add(p["net"]["_name"])
    return f"80 suggestions over all 10 types and a 2-level nested choice were valid; branches used: {sorted(names)}"


def _check_bounds(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(_EDGE_SPACE)

    def push_up(i: int, p: dict[str, Any]) -> float:
        return float(p["q"] + p["ql"] / 70 + p["r"] + p["l"] * 1e7 + (p["tiny"] - 1.0) * 1e4)

    for mode in ("maximize", "minimize"):
        tuner = factory(space, mode=mode, seed=5)
        _run(tuner, space, 40, concurrency=2, value=push_up)
    return "80 suggestions in narrow, q-stepped and log ranges with the objective at the bounds were valid"


def _check_determinism(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    runs = []
    for _ in range(2):
        tuner = factory(space, mode="maximize", seed=11)
        runs.append([_key(p) for p in _run(tuner, space, 30, concurrency=2)])
    if runs[0] != runs[1]:
        first = next(i for i, (a, b) in enumerate(zip(*runs, strict=True)) if a != b)
        raise _Failure(
            f"two tuners with seed=11 and the same history diverged at suggestion {first}"
        )
    return "the same seed and history gave the same 30 suggestions"


def _check_failures(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    tuner = factory(space, mode="maximize", seed=7)
    _run(tuner, space, 15, concurrency=2, value=lambda i, p: None)
    _run(
        tuner,
        space,
        25,
        concurrency=2,
        start=15,
        value=lambda i, p: None if i % 3 == 0 else _objective(p),
    )
    return "40 trials, all failing at first and then one in three, never broke the tuner"


def _check_exhaustion(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(_FINITE_SPACE)
    for concurrency in (1, _FINITE_SIZE + 2):
        tuner = factory(space, mode="minimize", seed=1)
        out = _run(tuner, space, _FINITE_SIZE + 3, concurrency=concurrency)
        points = [p for p in out if p is not None]
        keys = [_key(p) for p in points]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise _Failure(
                f"duplicate suggestion {dup} in a finite space (concurrency {concurrency})"
            )
        if len(points) != _FINITE_SIZE:
            raise _Failure(
                f"a space of {_FINITE_SIZE} points gave {len(points)} suggestions before None (concurrency {concurrency})"
            )
        if tuner.suggest("after-end") is not None:
            raise _Failure("suggest() returned a point after it had returned None")
    return f"a space of {_FINITE_SIZE} points gave each point once, then None, sequentially and with all trials pending"


def _check_resume(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    original = factory(space, mode="maximize", seed=21)
    history: list[TrialResult] = []
    _run(original, space, 25, concurrency=3, log=history)
    after_original = _run(original, space, 10, start=25)
    replays = []
    for _ in range(2):
        resumed = factory(space, mode="maximize", seed=21)
        for r in history:
            resumed.observe(r)
        replays.append(_run(resumed, space, 10, start=25))
    if [_key(p) for p in replays[0]] != [_key(p) for p in replays[1]]:
        raise _Failure(
            "two tuners rebuilt by replaying the same 25 results suggested different points"
        )
    if [_key(p) for p in replays[0]] != [_key(p) for p in after_original]:
        first = next(
            i
            for i, (a, b) in enumerate(zip(replays[0], after_original, strict=True))
            if _key(a) != _key(b)
        )
        raise _Failure(
            f"a tuner rebuilt by replaying observe() diverged from the original at suggestion {first} after resume"
        )
    return (
        "a tuner rebuilt by replaying 25 results continued exactly like the original for 10 trials"
    )


def _check_mode(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    tmax = factory(space, mode="maximize", seed=4)
    tmin = factory(space, mode="minimize", seed=4)
    a = _run(tmax, space, 30, concurrency=2, value=lambda i, p: _objective(p))
    b = _run(tmin, space, 30, concurrency=2, value=lambda i, p: -_objective(p))
    if [_key(p) for p in a] != [_key(p) for p in b]:
        first = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if _key(x) != _key(y))
        raise _Failure(
            f"maximizing f and minimizing -f diverged at suggestion {first}: mode is not honoured"
        )
    tnn = factory(space, mode="min", seed=4)
    if getattr(tnn, "mode", "minimize") != "minimize":
        raise _Failure(f"mode='min' (NNI spelling) gave mode={tnn.mode!r}")
    return "maximizing f and minimizing -f gave the same 30 suggestions"


def _check_report(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    tuner = factory(space, mode="maximize", seed=2)
    for i in range(5):
        p = tuner.suggest(f"t{i}")
        for step in range(3):
            tuner.report(f"t{i}", step, float(step))
        tuner.observe(_result(f"t{i}", p, 1.0, i))
    tuner.observe(_result("never-suggested", space.sample(0), 0.5, 99))
    return "report() for running trials and observe() of a trial it never suggested were accepted"


_TWO = (Objective("score", "maximize"), Objective("cost", "minimize"))
_THREE = (*_TWO, Objective("size", "minimize"))


def _values(p: dict[str, Any], m: int) -> tuple[float, ...]:
    """Conflicting, deterministic objectives of any params dict."""
    a = _objective(p)
    out = [a, a + 0.5 * math.cos(3.0 * a), -a + 0.3 * math.sin(5.0 * a)]
    return tuple(out[:m])


def _mo_result(m: int) -> Callable[[str, dict[str, Any], int], TrialResult]:
    """Ended trials with ``m`` values: mostly finished, some failed (None), some stopped early
    with a partial vector, and one in nine with a NaN value."""

    def make(tid: str, p: dict[str, Any], seq: int) -> TrialResult:
        vals = _values(p, m)
        if seq % 7 == 3:
            return TrialResult(tid, p, TrialStatus.FAILED, None, (), seq, values=None)
        if seq % 9 == 5:
            bad = (vals[0], math.nan, *vals[2:])
            return TrialResult(tid, p, TrialStatus.SUCCEEDED, vals[0], (), seq, values=bad)
        if seq % 11 == 6:
            return TrialResult(tid, p, TrialStatus.EARLY_STOPPED, vals[0], (vals[0],), seq)
        return TrialResult(tid, p, TrialStatus.SUCCEEDED, vals[0], (), seq, values=vals)

    return make


def _declares_mo(factory: TunerFactory) -> bool:
    flag = getattr(factory, "multi_objective", None)
    if flag is None:
        space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
        flag = getattr(factory(space, mode="maximize", seed=0), "multi_objective", False)
    return bool(flag)


def _skip(factory: TunerFactory) -> str | None:
    if not _declares_mo(factory):
        return "skipped: the tuner does not declare multi_objective = True"
    return None


def _check_mo_valid(factory: TunerFactory) -> str:
    if (why := _skip(factory)) is not None:
        return why
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    for objs in (_TWO, _THREE):
        tuner = factory(space, mode="maximize", seed=3, objectives=objs)
        got = tuple(getattr(tuner, "objectives", objs))
        if len(got) != len(objs):
            raise _Failure(f"built with {len(objs)} objectives, tuner.objectives has {len(got)}")
        out = _run(tuner, space, 40, concurrency=3, make=_mo_result(len(objs)))
        if any(p is None for p in out):
            raise _Failure(f"suggest() returned None in an infinite space ({len(objs)} objectives)")
    return (
        "80 suggestions with 2 and 3 objectives (mixed modes; failed, NaN and stopped-early "
        "results among them) were valid"
    )


def _check_mo_determinism(factory: TunerFactory) -> str:
    if (why := _skip(factory)) is not None:
        return why
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    runs = []
    for _ in range(2):
        tuner = factory(space, mode="maximize", seed=11, objectives=_TWO)
        runs.append([_key(p) for p in _run(tuner, space, 30, concurrency=2, make=_mo_result(2))])
    if runs[0] != runs[1]:
        first = next(i for i, (a, b) in enumerate(zip(*runs, strict=True)) if a != b)
        raise _Failure(f"two 2-objective tuners with seed=11 diverged at suggestion {first}")
    return "the same seed and 2-objective history gave the same 30 suggestions"


def _check_mo_resume(factory: TunerFactory) -> str:
    if (why := _skip(factory)) is not None:
        return why
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    make = _mo_result(2)
    original = factory(space, mode="maximize", seed=21, objectives=_TWO)
    history: list[TrialResult] = []
    _run(original, space, 25, concurrency=3, log=history, make=make)
    after = [_key(p) for p in _run(original, space, 10, start=25, make=make)]
    resumed = factory(space, mode="maximize", seed=21, objectives=_TWO)
    for r in history:
        resumed.observe(r)
    again = [_key(p) for p in _run(resumed, space, 10, start=25, make=make)]
    if again != after:
        first = next(i for i, (a, b) in enumerate(zip(again, after, strict=True)) if a != b)
        raise _Failure(
            f"a 2-objective tuner rebuilt by replaying observe() diverged at suggestion {first}"
        )
    return "a 2-objective tuner rebuilt by replaying 25 results continued like the original"


def _check_refuses_objectives(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    if _declares_mo(factory):
        tuner = factory(space, mode="maximize", seed=0, objectives=_TWO)
        modes = [o.mode for o in getattr(tuner, "objectives", _TWO)]
        if modes != ["maximize", "minimize"]:
            raise _Failure(f"objectives' modes were not kept: {modes}")
        return "multi-objective: built with 2 objectives and kept their modes"
    try:
        factory(space, mode="maximize", seed=0, objectives=_TWO)
    except Exception as e:  # a UsageError, or a TypeError for a tuner without the keyword
        return f"a single-objective tuner refused 2 objectives ({type(e).__name__})"
    raise _Failure(
        "the tuner does not declare multi_objective = True but accepted 2 objectives silently"
    )


def _check_nan_values(factory: TunerFactory) -> str:
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    odd = (math.nan, math.inf, -math.inf)
    for mode in ("maximize", "minimize"):
        tuner = factory(space, mode=mode, seed=8)
        out = _run(
            tuner,
            space,
            30,
            concurrency=2,
            value=lambda i, p: odd[i % 3] if i % 2 == 0 else _objective(p),
        )
        if any(p is None for p in out):
            raise _Failure(f"suggest() returned None in an infinite space after NaN/inf ({mode})")
    return "60 trials, half of them with NaN or infinite values, never broke the tuner"


def _check_not_now(factory: TunerFactory) -> str:
    """Up to 8 running trials that end out of order, and now and then all of them before the next
    question; a None ("not now") while trials run is asked again after the next end, but None or
    FINISHED while nothing runs ends a search of an infinite space early."""
    space = SearchSpace.from_nni(ALL_TYPES_SPACE)
    tuner = factory(space, mode="maximize", seed=9)
    running: list[tuple[str, dict[str, Any], int]] = []
    done = 0
    asked = 0
    not_now = 0
    order = 0
    while done < 40:
        while len(running) < 8 and done + len(running) < 40:
            tid = f"trial-{asked}"
            asked += 1
            s = tuner.suggest(tid)
            p = _params(s)
            if p is None:
                if not running:
                    raise _Failure(
                        f"suggest() returned {s!r} with no trial running after {done} trials in "
                        "an infinite space: that ends the experiment"
                    )
                not_now += 1
                break
            if not space.contains(p):
                raise _Failure(f"suggestion {asked - 1} is not a point of the space: {p!r}")
            running.append((tid, p, asked - 1))
        order = (order * 5 + 3) % 11
        # every tenth trial, all running trials end before the next question
        ending = len(running) if done % 10 == 9 else 1
        for _ in range(ending):
            tid, p, seq = running.pop(order % len(running))
            tuner.observe(_result(tid, p, _objective(p), seq))
            done += 1
    return (
        f"40 trials, 8 at a time ending out of order and sometimes all at once, were served "
        f"({not_now} 'not now' answers)"
    )


V2_TUNER_CHECKS: dict[str, Callable[[TunerFactory], str]] = {
    "nan_values": _check_nan_values,
    "not_now": _check_not_now,
    "refuses_objectives": _check_refuses_objectives,
    "mo_valid": _check_mo_valid,
    "mo_determinism": _check_mo_determinism,
    "mo_resume": _check_mo_resume,
}


TUNER_CHECKS: dict[str, Callable[[TunerFactory], str]] = {
    "all_types": _check_all_types,
    "bounds": _check_bounds,
    "determinism": _check_determinism,
    "failures": _check_failures,
    "exhaustion": _check_exhaustion,
    "resume": _check_resume,
    "mode": _check_mode,
    "report": _check_report,
}


def run_tuner_check(name: str, tuner_factory: TunerFactory) -> CheckResult:
    """Runs one check of :data:`TUNER_CHECKS` or :data:`V2_TUNER_CHECKS`; an exception becomes
    a failed result with its traceback's last frame."""
    return run_check({**TUNER_CHECKS, **V2_TUNER_CHECKS}, name, tuner_factory)


def check_tuner(tuner_factory: TunerFactory, *, v2: bool = False) -> list[CheckResult]:
    """Runs every check on tuners built by ``tuner_factory(space, mode=..., seed=...)``.

    Args:
        tuner_factory: A tuner class, or any callable with that signature (and, for a
            multi-objective tuner, an ``objectives`` keyword).
        v2: Also run :data:`V2_TUNER_CHECKS` (NaN values, "not now", several objectives).

    Returns:
        One :class:`CheckResult` per check, in a fixed order.
    """
    names = list(TUNER_CHECKS) + (list(V2_TUNER_CHECKS) if v2 else [])
    return [run_tuner_check(name, tuner_factory) for name in names]
