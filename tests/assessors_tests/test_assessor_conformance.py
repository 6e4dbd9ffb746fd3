"""Runs the assessor conformance suite over every registered assessor, and checks that the suite
itself catches broken assessors."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hyperloom.assessors._base import Assessor
from hyperloom.errors import MissingDependencyError
from hyperloom.plugins.testing.assessors import (
    ASSESSOR_CHECKS,
    check_assessor,
    run_assessor_check,
)
from hyperloom.registry import discover, load
from hyperloom.types import TrialResult, Verdict

REGISTERED = sorted({info.name for info in discover("assessor")})

#: Arguments an adapter needs besides ``mode`` (the NNI adapter wraps one NNI algorithm).
ADAPTER_ARGS: dict[str, dict[str, Any]] = {"nni": {"builtin": "Medianstop"}}


@functools.cache
def _factory(name: str) -> Any:
    """The registered class (with an adapter's arguments), or a skip reason when it needs an
    optional package that is missing."""
    cls = load("assessor", name)
    factory = functools.partial(cls, **ADAPTER_ARGS.get(name, {}))
    try:
        factory(mode="maximize")
    except MissingDependencyError as e:
        return str(e)
    return factory


def test_builtins_are_registered() -> None:
    assert {"median_stop", "curve_fitting", "asha"} <= set(REGISTERED)


@pytest.mark.parametrize("check", list(ASSESSOR_CHECKS))
@pytest.mark.parametrize("name", REGISTERED)
def test_registered_assessor_conforms(name: str, check: str) -> None:
    factory = _factory(name)
    if isinstance(factory, str):
        pytest.skip(factory)
    result = run_assessor_check(check, factory)
    assert result.ok, f"{name}: {result.name}: {result.detail}"


# -- broken assessors the suite must reject -------------------------------------------------------


class _Never(Assessor):
    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        return Verdict.CONTINUE


class _Always(Assessor):
    start_step = 3

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        self.last_reason = "always"
        return Verdict.STOP


class _Threshold(Assessor):
    """Stops below the best final value seen, from any trial, failed ones included, and crashes
    on None."""

    start_step = 5

    def __init__(self, *, mode: str = "maximize") -> None:
        super().__init__(mode=mode)
        self.best: float | None = None

    def observe(self, result: TrialResult) -> None:
        if result.value is not None and math.isfinite(result.value):
            v = result.value
            if self.best is None or self.better(v, self.best):
                self.best = v

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        if len(history) < self.start_step or self.best is None:
            return Verdict.CONTINUE
        last = float(history[-1])  # TypeError on None
        if math.isnan(last):
            return Verdict.CONTINUE
        scaled = self.best * 0.5 if self.mode == "maximize" else self.best * 2
        if self.better(scaled, last):
            self.last_reason = "below half the best"
            return Verdict.STOP
        return Verdict.CONTINUE


class _NoReason(_Threshold):
    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        verdict = super().assess(trial_id, [0.0 if v is None else v for v in history])
        self.last_reason = ""
        return verdict


class _MaximizeOnly(_Threshold):
    def better(self, a: float, b: float) -> bool:
        return a > b


def _failed(factory: type) -> set[str]:
    return {r.name for r in check_assessor(factory) if not r.ok}


def test_suite_rejects_an_assessor_that_never_stops() -> None:
    assert "stops_hopeless" in _failed(_Never)


def test_suite_rejects_an_assessor_that_always_stops() -> None:
    failed = _failed(_Always)
    assert {"stops_hopeless", "start_step", "no_peers", "nan_none"} <= failed


def test_suite_rejects_poisoning_and_none_crashes() -> None:
    failed = _failed(_Threshold)
    assert {"poison", "nan_none"} <= failed
    assert "no_peers" not in failed


def test_suite_rejects_a_stop_without_a_reason() -> None:
    assert "stops_hopeless" in _failed(_NoReason)


def test_suite_rejects_an_assessor_that_ignores_the_mode() -> None:
    assert {"modes", "stops_hopeless"} <= _failed(_MaximizeOnly)


def test_failed_check_says_what_went_wrong() -> None:
    result = run_assessor_check("start_step", _Always)
    assert not result.ok
    assert "before start_step=3" in result.detail
