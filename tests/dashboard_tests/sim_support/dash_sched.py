"""Small schedulers that pause, resume and warm-start trials through the real manager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hyperloom.tuners import Tuner
from hyperloom.types import Decision, Suggestion, TrialResult, Verdict


class Halving(Tuner):
    """Successive halving by pause and resume: ``n`` trials (x = 0..n-1) are paused at each step
    in ``rungs``; once every trial that got there is paused, the best ``1 / eta`` of them are
    resumed; the others stay paused (the manager ends them EARLY_STOPPED with the experiment)."""

    def __init__(
        self, space: Any, *, n: int = 9, rungs: Sequence[int] = (2,), eta: int = 3, **kw: Any
    ) -> None:
        super().__init__(space, **kw)
        self.n, self.rungs, self.eta = n, list(rungs), eta
        self.started = 0
        self.expected = [n]  # how many trials reach each rung
        for _ in self.rungs[1:]:
            self.expected.append(max(1, self.expected[-1] // eta))
        self.at: list[dict[str, float]] = [{} for _ in self.rungs]
        self.level: dict[str, int] = {}  # the next rung index of each trial
        self.queue: list[str] = []

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        if self.started < self.n:
            self.started += 1
            self.level[trial_id] = 0
            return {"x": self.started - 1}
        if self.queue:
            # the manager refuses a resume until the trial is PAUSED (its process has stopped):
            # ask again, round robin, until the trial reports past its rung
            tid = self.queue.pop(0)
            self.queue.append(tid)
            return Suggestion({}, resume=tid)
        return None

    def report(self, trial_id: str, step: int, value: float) -> None:
        k = self.level.get(trial_id, 0) - 1
        if trial_id in self.queue and k >= 0 and step > self.rungs[k]:
            self.queue.remove(trial_id)

    def assess(
        self, trial_id: str, history: Sequence[float], steps: Sequence[int] | None = None
    ) -> Decision:
        k = self.level.get(trial_id, 0)
        if k >= len(self.rungs) or not steps or steps[-1] != self.rungs[k]:
            return Decision(Verdict.CONTINUE)
        self.at[k][trial_id] = history[-1]
        self.level[trial_id] = k + 1
        if len(self.at[k]) == self.expected[k]:
            keep = max(1, self.expected[k] // self.eta)
            self.queue += sorted(self.at[k], key=lambda t: -self.at[k][t])[:keep]
        return Decision(Verdict.PAUSE, f"rung {k} at step {self.rungs[k]}")

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
