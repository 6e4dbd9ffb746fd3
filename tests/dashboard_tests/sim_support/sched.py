"""Small schedulers that pause, resume and warm-start trials through the real manager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hyperloom.tuners import Tuner
from hyperloom.types import Decision, Suggestion, TrialResult, Verdict


class Halving(Tuner):
    """Successive halving by pause and resume: ``n`` trials (x = 0..n-1) are paused at step
    ``rung``; once all are, the best ``keep`` are resumed and run to the end; the others stay
    paused (the manager ends them EARLY_STOPPED with the experiment)."""

    def __init__(self, space: Any, *, n: int = 9, rung: int = 2, keep: int = 3, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.n, self.rung, self.keep = n, rung, keep
        self.started = 0
        self.at_rung: dict[str, float] = {}
        self.queue: list[str] = []
        self.resumed: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < self.n:
            self.started += 1
            return {"x": self.started - 1}
        if self.queue:
            # the manager refuses a resume until the trial is PAUSED (its process has stopped):
            # ask again, round robin, until the trial reports past the rung
            tid = self.queue.pop(0)
            self.queue.append(tid)
            self.resumed.add(tid)
            return Suggestion({}, resume=tid)
        return None

    def report(self, trial_id: str, step: int, value: float) -> None:
        if step > self.rung and trial_id in self.queue:
            self.queue.remove(trial_id)

    def assess(
        self, trial_id: str, history: Sequence[float], steps: Sequence[int] | None = None
    ) -> Decision:
        if trial_id in self.resumed or not steps or steps[-1] != self.rung:
            return Decision(Verdict.CONTINUE)
        self.at_rung[trial_id] = history[-1]
        if len(self.at_rung) == self.n:
            self.queue = sorted(self.at_rung, key=lambda t: -self.at_rung[t])[: self.keep]
        return Decision(Verdict.PAUSE, f"rung at step {self.rung}")

    def observe(self, result: TrialResult) -> None:
        pass


class Chain(Tuner):
    """Three trials x = 0, 1, 2; when x = 2 has reported step ``every``, a child (x = 3) is
    warm-started from it, and from that child (x = 4) once it has gone ``every`` steps further."""

    def __init__(self, space: Any, *, every: int = 3, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.every = every
        self.started = 0
        self.ids: dict[int, str] = {}
        self.first_step: dict[str, int] = {}
        self.ready: list[tuple[str, int]] = []

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < 3:
            self.ids[self.started] = trial_id
            self.started += 1
            return {"x": self.started - 1}
        if self.ready:
            parent, x = self.ready.pop(0)
            self.ids[x] = trial_id
            return Suggestion({"x": x}, parent=parent, perturbation={"x": [x - 1, x]})
        return None

    def report(self, trial_id: str, step: int, value: float) -> None:
        self.first_step.setdefault(trial_id, step)
        for x in (2, 3):
            grown = step - self.first_step[trial_id] + 1 >= self.every
            if self.ids.get(x) == trial_id and x + 1 not in self.ids and grown:
                self.ready.append((trial_id, x + 1))
                self.ids[x + 1] = "pending"

    def observe(self, result: TrialResult) -> None:
        pass


class Walk(Tuner):
    """A multi-objective tuner that walks x = 0, 1, 2, ..."""

    multi_objective = True

    def __init__(self, space: Any, **kw: Any) -> None:
        super().__init__(space, **kw)
        self.i = 0

    def suggest(self, trial_id: str) -> dict[str, Any]:
        self.i += 1
        return {"x": self.i - 1}

    def observe(self, result: TrialResult) -> None:
        pass
