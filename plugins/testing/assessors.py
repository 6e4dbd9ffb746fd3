"""The assessor conformance suite: checks that any assessor, built-in or third-party, keeps the
contract.

Use it from code (``hyperloom plugins check NAME`` does)::

    from hyperloom.plugins.testing import check_assessor
    for r in check_assessor(MyAssessor):
        print(r.name, r.ok, r.detail)

or from pytest, one test per check::

    @pytest.mark.parametrize("check", ASSESSOR_CHECKS)
    def test_my_assessor(check):
        result = run_assessor_check(check, MyAssessor)
        assert result.ok, result.detail

``assessor_factory(mode=...)`` builds an assessor with its default options; an assessor class works
as is. Every check drives the assessor the way the manager does: trials run a few at a time, each
report is followed by ``assess(trial_id, history)`` with the whole history so far, a stopped trial
reports no more, and every ended trial is passed to ``observe()``. The curves are synthetic,
deterministic and short (30 steps), so the whole suite runs in about a second.

An assessor may expose ``start_step`` (the first history length at which it may stop a trial);
without it the suite assumes 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperloom.errors import HyperloomError
from hyperloom.plugins.testing._result import CheckFailure, CheckResult, run_check
from hyperloom.types import TrialResult, TrialStatus, Verdict

__all__ = ["ASSESSOR_CHECKS", "CheckResult", "check_assessor", "run_assessor_check"]

AssessorFactory = Callable[..., Any]

LENGTH = 30
_N_PEERS = 12


class _Failure(CheckFailure):
    """A check failed; the message says how."""


def _curve(quality: float, seed: int, length: int = LENGTH) -> list[float]:
    """A saturating accuracy-like curve that ends near ``quality``, with small fixed noise."""
    out = []
    for t in range(1, length + 1):
        noise = 0.003 * math.sin(7.3 * t + 1.7 * seed)
        out.append(quality * (1.0 - 0.8 * math.exp(-t / 6.0)) + noise)
    return out


def _as_mode(curve: Sequence[float], mode: str) -> list[float]:
    """The same curve as a loss (1 - accuracy) when minimizing."""
    return list(curve) if mode == "maximize" else [1.0 - v for v in curve]


def _peer_curves(mode: str) -> dict[str, list[float]]:
    """Completed-quality peers ending between 0.70 and 0.95, in a fixed shuffled order (so that
    later peers are sometimes worse than earlier ones)."""
    order = [5, 0, 9, 2, 11, 7, 1, 10, 3, 8, 4, 6]
    return {f"peer{i}": _as_mode(_curve(0.70 + 0.25 * i / (_N_PEERS - 1), i), mode) for i in order}


def _start_step(assessor: Any) -> int:
    value = getattr(assessor, "start_step", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def _build(factory: AssessorFactory, mode: str) -> Any:
    assessor = factory(mode=mode)
    for method in ("assess", "observe"):
        if not callable(getattr(assessor, method, None)):
            raise _Failure(f"{type(assessor).__name__} has no {method}() method")
    return assessor


def _assess(assessor: Any, trial_id: str, history: Sequence[Any]) -> Verdict:
    verdict = assessor.assess(trial_id, list(history))
    if not isinstance(verdict, Verdict):
        raise _Failure(
            f"assess({trial_id!r}, <{len(history)} values>) returned {verdict!r}, not a Verdict"
        )
    if verdict is Verdict.STOP:
        reason = getattr(assessor, "last_reason", None)
        if not isinstance(reason, str) or not reason.strip():
            raise _Failure(
                f"assess({trial_id!r}) returned STOP after {len(history)} steps but "
                f"last_reason is {reason!r}; set it to a short human reason"
            )
    return verdict


@dataclass
class _Run:
    """What happened to each trial of a simulated experiment."""

    stopped_at: dict[str, int] = field(default_factory=dict)  # trial -> history length at STOP
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    results: list[TrialResult] = field(default_factory=list)  # in the order trials ended


def _drive(
    assessor: Any,
    curves: dict[str, list[float]],
    *,
    concurrency: int = 4,
    statuses: dict[str, TrialStatus] | None = None,
    values: dict[str, float | None] | None = None,
) -> _Run:
    """Runs ``curves`` (in order, ``concurrency`` at a time, one report per tick) through the
    assessor like the manager does. A trial that is told STOP ends EARLY_STOPPED; the others end
    with ``statuses[tid]`` (default SUCCEEDED) and final value ``values[tid]`` (default: the last
    report)."""
    statuses = statuses or {}
    values = values or {}
    waiting = list(curves)
    running: dict[str, int] = {}
    run = _Run()
    seq = 0
    while waiting or running:
        while waiting and len(running) < concurrency:
            running[waiting.pop(0)] = 0
        for tid in list(running):
            curve = curves[tid]
            running[tid] += 1
            history = curve[: running[tid]]
            verdict = _assess(assessor, tid, history)
            run.verdicts.setdefault(tid, []).append(verdict)
            ended = None
            if verdict is Verdict.STOP:
                run.stopped_at[tid] = len(history)
                status = TrialStatus.EARLY_STOPPED
                value = values.get(tid)
                ended = True
            elif running[tid] >= len(curve):
                status = statuses.get(tid, TrialStatus.SUCCEEDED)
                value = values[tid] if tid in values else curve[-1]
                ended = True
            if ended:
                del running[tid]
                result = TrialResult(tid, {}, status, value, tuple(history), seq)
                seq += 1
                assessor.observe(result)
                run.results.append(result)
    return run


def _experiment(mode: str) -> dict[str, list[float]]:
    """Peers, then a hopeless trial and an excellent one."""
    curves = _peer_curves(mode)
    curves["hopeless"] = _as_mode(_curve(0.10, 101), mode)
    curves["excellent"] = _as_mode(_curve(1.0, 102), mode)
    return curves


# -- the checks ----------------------------------------------------------------------------------


def _check_stops_hopeless(factory: AssessorFactory) -> str:
    """It stops a clearly hopeless trial before its end, and never the best one."""
    details = []
    for mode in ("maximize", "minimize"):
        run = _drive(_build(factory, mode), _experiment(mode))
        if "hopeless" not in run.stopped_at:
            raise _Failure(
                f"mode={mode}: a trial ending at 0.10 while {_N_PEERS} peers completed at 0.70-0.95 "
                f"was never stopped in {LENGTH} steps (expected an early stop)"
            )
        if "excellent" in run.stopped_at:
            raise _Failure(
                f"mode={mode}: the best trial (ending at 1.0, above every peer) was stopped after "
                f"{run.stopped_at['excellent']} steps"
            )
        details.append(f"{mode}: hopeless stopped at step {run.stopped_at['hopeless']}")
    return "; ".join(details) + "; the best trial was never stopped"


def _check_start_step(factory: AssessorFactory) -> str:
    """It never stops a trial whose history is shorter than its start_step."""
    out = []
    for mode in ("maximize", "minimize"):
        assessor = _build(factory, mode)
        _drive(assessor, _peer_curves(mode))
        start = _start_step(assessor)
        _assess(assessor, "empty", [])  # must not crash, whatever it answers
        hopeless = _as_mode(_curve(0.01, 7), mode)
        for n in range(1, min(start, LENGTH + 1)):
            if _assess(assessor, "early", hopeless[:n]) is Verdict.STOP:
                raise _Failure(
                    f"mode={mode}: stopped a trial after {n} steps, before start_step={start}"
                )
        out.append(f"{mode}: start_step={start}")
    return "; ".join(out) + "; no stop before it (with 12 completed peers and a hopeless trial)"


def _check_growing(factory: AssessorFactory) -> str:
    """Interleaved trials with histories that only grow; repeated calls give the same answer, and
    a trial told STOP that reports again (the manager has not stopped it yet) is handled."""
    assessor = _build(factory, "maximize")
    curves = _experiment("maximize")
    run = _drive(assessor, curves, concurrency=4)
    again = _build(factory, "maximize")
    _drive(again, _peer_curves("maximize"))
    for tid in ("t-a", "t-b"):
        curve = _curve(0.5 if tid == "t-a" else 0.9, 11)
        for n in range(1, LENGTH + 1):
            first = _assess(again, tid, curve[:n])
            second = _assess(again, tid, curve[:n])
            if first is not second:
                raise _Failure(
                    f"trial {tid}: assess() with the same {n}-step history answered {first.value} "
                    f"then {second.value}"
                )
            if first is Verdict.STOP:
                for m in range(n + 1, min(n + 4, LENGTH + 1)):
                    _assess(again, tid, curve[:m])
                break
    return (
        f"{len(curves)} trials, 4 at a time, {sum(len(v) for v in run.verdicts.values())} calls; "
        "repeated calls agree; calls after STOP are accepted"
    )


def _check_no_peers(factory: AssessorFactory) -> str:
    """With nothing to compare against (nothing observed, or only failures), it raises nothing
    and never stops the trial."""
    for mode in ("maximize", "minimize"):
        for label, prelude in (
            ("nothing observed", []),
            ("only failed trials observed", [TrialStatus.FAILED, TrialStatus.CANCELED]),
        ):
            assessor = _build(factory, mode)
            for i, status in enumerate(prelude):
                assessor.observe(TrialResult(f"f{i}", {}, status, None, (), i))
            for quality in (0.05, 0.9):
                curve = _as_mode(_curve(quality, 3), mode)
                for n in range(1, LENGTH + 1):
                    if _assess(assessor, f"lone{quality}", curve[:n]) is Verdict.STOP:
                        raise _Failure(
                            f"mode={mode}, {label}: stopped a lone trial (quality {quality}) after "
                            f"{n} steps with no completed trial to compare against"
                        )
    return "a lone trial (good or bad) is never stopped with no completed peers, in both modes"


def _check_nan_none(factory: AssessorFactory) -> str:
    """NaN, inf and None in histories and results raise nothing; a history with no finite value
    is never stopped."""
    bad_values: list[Any] = [math.nan, None, math.inf, -math.inf]
    for mode in ("maximize", "minimize"):
        assessor = _build(factory, mode)
        peers = _peer_curves(mode)
        # Completed results with holes, a None final value, and a NaN one.
        for i, (tid, curve) in enumerate(peers.items()):
            holed: list[Any] = list(curve)
            holed[i % LENGTH] = bad_values[i % len(bad_values)]
            value: float | None = curve[-1] if i % 3 else (None if i % 2 else math.nan)
            assessor.observe(TrialResult(tid, {}, TrialStatus.SUCCEEDED, value, tuple(holed), i))
        assessor.observe(
            TrialResult("all-nan", {}, TrialStatus.SUCCEEDED, math.nan, (math.nan,) * 5, 99)
        )
        assessor.observe(TrialResult("empty", {}, TrialStatus.SUCCEEDED, None, (), 100))
        for bad in bad_values:
            only_bad = [bad] * LENGTH
            for n in range(1, LENGTH + 1):
                if _assess(assessor, f"only-{bad}", only_bad[:n]) is Verdict.STOP:
                    raise _Failure(
                        f"mode={mode}: stopped a trial whose {n} reports are all {bad!r} "
                        "(no usable value: nothing to judge)"
                    )
            holed = list(_as_mode(_curve(0.5, 5), mode))
            for k in range(2, LENGTH, 3):
                holed[k] = bad
            for n in range(1, LENGTH + 1):
                _assess(assessor, f"holed-{bad}", holed[:n])
    return "NaN/None/inf in histories, intermediates and final values accepted; all-NaN histories never stopped"


def _check_modes(factory: AssessorFactory) -> str:
    """Both modes are accepted and mirror each other: maximizing a metric and minimizing its
    negation stop the same trials at the same steps; a bad mode is a HyperloomError."""
    stopped = {}
    for mode in ("maximize", "minimize"):
        sign = 1.0 if mode == "maximize" else -1.0
        curves = {tid: [sign * v for v in c] for tid, c in _experiment("maximize").items()}
        stopped[mode] = _drive(_build(factory, mode), curves).stopped_at
    if stopped["maximize"] != stopped["minimize"]:
        raise _Failure(
            f"maximizing a metric stopped {stopped['maximize']} (trial: step), minimizing its "
            f"negation stopped {stopped['minimize']}; the two should agree"
        )
    try:
        factory(mode="sideways")
    except HyperloomError:
        pass
    else:
        raise _Failure("mode='sideways' was accepted; raise a HyperloomError naming the mode")
    return f"same trials stopped in both modes ({len(stopped['maximize'])}); bad mode rejected"


def _check_poison(factory: AssessorFactory) -> str:
    """Trials that did not succeed never make it stricter: after FAILED, CANCELED and TIMEOUT
    trials with spectacular curves (run through assess() first, as live) and an EARLY_STOPPED one
    with a spectacular final value, a middling trial is stopped no earlier than without them."""
    out = []
    for mode in ("maximize", "minimize"):
        middling = _as_mode(_curve(0.86, 55), mode)
        clean = _build(factory, mode)
        _drive(clean, _peer_curves(mode))
        base = _drive(clean, {"middling": middling}).stopped_at.get("middling")

        poisoned = _build(factory, mode)
        _drive(poisoned, _peer_curves(mode))
        great = _as_mode(_curve(10.0, 9), mode) if mode == "maximize" else [-9.0] * LENGTH
        bad_curves = {"failed": great, "canceled": great, "timeout": great}
        statuses = {
            "failed": TrialStatus.FAILED,
            "canceled": TrialStatus.CANCELED,
            "timeout": TrialStatus.TIMEOUT,
        }
        _drive(poisoned, bad_curves, statuses=statuses)
        spectacular = 1e6 if mode == "maximize" else -1e6
        short = _as_mode(_curve(0.3, 8), mode)[:3]
        poisoned.observe(
            TrialResult("stopped", {}, TrialStatus.EARLY_STOPPED, spectacular, tuple(short), 50)
        )
        after = _drive(poisoned, {"middling": middling}).stopped_at.get("middling")
        if after is not None and (base is None or after < base):
            raise _Failure(
                f"mode={mode}: a middling trial (ending at 0.86, peers at 0.70-0.95) was stopped "
                f"after {after} steps once failed/canceled/timed-out/stopped trials with "
                f"spectacular values had been observed, but "
                f"{'never' if base is None else f'after {base} steps'} without them"
            )
        out.append(f"{mode}: middling stopped at {base} either way")
    return "; ".join(out)


def _check_resume(factory: AssessorFactory) -> str:
    """A fresh assessor given observe() for every ended trial, in order, judges new trials as the
    live one does."""
    live = _build(factory, "maximize")
    run = _drive(live, _experiment("maximize"))
    fresh = _build(factory, "maximize")
    for result in run.results:
        fresh.observe(result)
    probes = {f"probe{q}": _curve(q, 77) for q in (0.3, 0.72, 0.8, 0.9, 0.97)}
    a = _drive(live, dict(probes), concurrency=1).verdicts
    b = _drive(fresh, dict(probes), concurrency=1).verdicts
    if a != b:
        diff = [tid for tid in probes if a.get(tid) != b.get(tid)]
        raise _Failure(
            f"after replaying {len(run.results)} ended trials into a fresh assessor, trials {diff} "
            "were judged differently than by the live one"
        )
    return f"replayed {len(run.results)} ended trials; 5 new trials judged identically"


ASSESSOR_CHECKS: dict[str, Callable[[AssessorFactory], str]] = {
    "stops_hopeless": _check_stops_hopeless,
    "start_step": _check_start_step,
    "growing": _check_growing,
    "no_peers": _check_no_peers,
    "nan_none": _check_nan_none,
    "modes": _check_modes,
    "poison": _check_poison,
    "resume": _check_resume,
}


def run_assessor_check(name: str, assessor_factory: AssessorFactory) -> CheckResult:
    """Runs one check of :data:`ASSESSOR_CHECKS`; an exception becomes a failed result with its
    traceback's last frame."""
    return run_check(ASSESSOR_CHECKS, name, assessor_factory)


def check_assessor(assessor_factory: AssessorFactory) -> list[CheckResult]:
    """Runs every check on assessors built by ``assessor_factory(mode=...)``.

    Args:
        assessor_factory: An assessor class, or any callable with that signature.

    Returns:
        One :class:`CheckResult` per check, in a fixed order.
    """
    return [run_assessor_check(name, assessor_factory) for name in ASSESSOR_CHECKS]
