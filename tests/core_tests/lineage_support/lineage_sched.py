"""Small schedulers for the PAUSE/resume and warm-start tests (loaded as module:Class)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hyperloom.tuners import Tuner
from hyperloom.types import Decision, Suggestion, TrialResult, Verdict


class PauseOnce(Tuner):
    """Starts ``n`` trials (x = 0..n-1), pauses each at step ``at``, then resumes them all."""

    def __init__(self, space: Any, *, n: int = 2, at: int = 2, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.n, self.at = n, at
        self.started = 0
        self.paused: list[str] = []
        self.resumed: set[str] = set()
        self.results: list[TrialResult] = []

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < self.n:
            self.started += 1
            return {"x": self.started - 1}
        if self.paused:
            tid = self.paused.pop(0)
            self.resumed.add(tid)
            return Suggestion({}, resume=tid)
        return None

    def assess(
        self, trial_id: str, history: Sequence[float], steps: Sequence[int] | None = None
    ) -> Decision:
        if trial_id not in self.resumed and steps and steps[-1] == self.at:
            self.paused.append(trial_id)
            return Decision(Verdict.PAUSE, f"rung at step {self.at}")
        return Decision(Verdict.CONTINUE)

    def observe(self, result: TrialResult) -> None:
        self.results.append(result)


class Exploit(Tuner):
    """Trial 1 runs x=1; once it has reported step 2, trial 2 warm-starts from it with x=2."""

    def __init__(self, space: Any, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.first: str | None = None
        self.done = False
        self.sent = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.sent == 0:
            self.sent, self.first = 1, trial_id
            return {"x": 1}
        if self.sent == 1 and self.done:
            self.sent = 2
            return Suggestion({"x": 2}, parent=self.first, perturbation={"x": "1 -> 2"})
        return None

    def report(self, trial_id: str, step: int, value: float) -> None:
        if trial_id == self.first and step >= 2:
            self.done = True

    def observe(self, result: TrialResult) -> None:
        if result.trial_id == self.first:
            self.done = True


class TwoObjectives(Tuner):
    """A multi-objective tuner that walks x = 0, 1, 2, ..."""

    multi_objective = True

    def __init__(self, space: Any, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.i = 0
        self.seen: list[TrialResult] = []

    def suggest(self, trial_id: str) -> dict[str, Any]:
        self.i += 1
        return {"x": self.i - 1}

    def observe(self, result: TrialResult) -> None:
        self.seen.append(result)


class NeverResume(PauseOnce):
    """Pauses every trial at step 2 and never resumes any."""

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < self.n:
            self.started += 1
            return {"x": self.started - 1}
        return None


class PauseThenResumeLater(PauseOnce):
    """Pauses every trial at step 2 and resumes only the trials it is given back on resume."""

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < self.n:
            self.started += 1
            return {"x": self.started - 1}
        if self.paused and self.restored:
            tid = self.paused.pop(0)
            self.resumed.add(tid)
            return Suggestion({}, resume=tid)
        return None

    restored = False

    def restore_paused(self, result: TrialResult) -> None:
        self.restored = True
        self.started = self.n
        if result.trial_id not in self.paused:
            self.paused.append(result.trial_id)


class PauseOnceTold(PauseOnce):
    """PauseOnce that writes to ``log`` when the manager says no new trial can start."""

    def __init__(self, space: Any, *, log: str, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.log = log

    def budget_spent(self) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"budget spent with {len(self.paused)} paused\n")
