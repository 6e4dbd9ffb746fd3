"""The conformance suite must catch broken tuners: each check fails for a tuner that breaks it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hyperloom.plugins.testing import _result
from hyperloom.plugins.testing.tuners import check_tuner, run_tuner_check
from hyperloom.tuners.random import RandomTuner
from hyperloom.types import TrialResult


class OutOfBounds(RandomTuner):
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        p = super().suggest(trial_id)
        if p is not None and "u" in p:
            p["u"] = 99.0
        if p is not None and "tiny" in p:
            p["tiny"] = 2.0
        return p


class Unseeded(RandomTuner):
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        return self.space.sample(np.random.default_rng())


class Repeats(RandomTuner):
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        return self.space.sample(np.random.default_rng(0))


class CrashesOnFailure(RandomTuner):
    def observe(self, result: TrialResult) -> None:
        float(result.value)  # type: ignore[arg-type]
        super().observe(result)


class StatefulRng(RandomTuner):
    """Deterministic, but its suggestions depend on how many it made, not on the history."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        self.count += 1
        if self._seen.exhausted:
            return None
        return self.space.sample(np.random.default_rng([self.seed or 0, self.count]))


class IgnoresMode(RandomTuner):
    """Treats every value as a loss to minimise, whatever the mode."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.best: tuple[float, dict[str, Any]] | None = None

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.best is not None and self._n_observed % 2 == 0:
            return self.best[1]
        return super().suggest(trial_id)

    def observe(self, result: TrialResult) -> None:
        super().observe(result)
        if result.value is not None and (self.best is None or result.value < self.best[0]):
            self.best = (result.value, result.params)


@pytest.mark.parametrize(
    ("tuner", "check"),
    [
        (OutOfBounds, "all_types"),
        (OutOfBounds, "bounds"),
        (Unseeded, "determinism"),
        (Repeats, "exhaustion"),
        (CrashesOnFailure, "failures"),
        (StatefulRng, "resume"),
        (IgnoresMode, "mode"),
    ],
)
def test_check_catches_a_broken_tuner(tuner: type, check: str) -> None:
    result = run_tuner_check(check, tuner)
    assert not result.ok
    assert result.detail


def test_check_tuner_reports_every_check() -> None:
    results = check_tuner(RandomTuner)
    assert [r.name for r in results] == [
        "all_types",
        "bounds",
        "determinism",
        "failures",
        "exhaustion",
        "resume",
        "mode",
        "report",
    ]
    assert all(isinstance(r, _result.CheckResult) and r.ok for r in results)


def test_exception_becomes_a_failed_result_naming_the_error() -> None:
    def factory(space: Any, **kw: Any) -> Any:
        raise RuntimeError("boom")

    result = run_tuner_check("determinism", factory)
    assert not result.ok
    assert "RuntimeError: boom" in result.detail
