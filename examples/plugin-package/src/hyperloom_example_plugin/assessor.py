"""The leader-gap assessor: stop a trial that trails the best finished trial by too much.

At each step from ``start_step`` on, the running trial's best value so far is compared with the
value the leader (the succeeded trial with the best final value) had reached by the same step. A
trial more than ``gap`` behind is stopped. With no finished trial yet, nothing is stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hyperloom.assessors import Assessor
from hyperloom.types import TrialResult, TrialStatus, Verdict


class LeaderGapAssessor(Assessor):
    """Stops trials that trail the leader's curve by more than ``gap``.

    Args:
        mode: "maximize" or "minimize" the metric.
        start_step: The first step (counting from 1) at which a trial may be stopped.
        gap: How far behind the leader (in metric units) a trial may be.
    """

    def __init__(self, *, mode: str = "maximize", start_step: int = 2, gap: float = 0.1) -> None:
        super().__init__(mode=mode)
        if not isinstance(start_step, int) or start_step < 1:
            raise ValueError(f"start_step must be an int >= 1, got {start_step!r}")
        if not math.isfinite(float(gap)) or float(gap) < 0:
            raise ValueError(f"gap must be a number >= 0, got {gap!r}")
        self.start_step = start_step
        self.gap = float(gap)
        self._leader: tuple[float, tuple[float, ...]] | None = None

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        step = len(history)
        if self._leader is None or step < self.start_step:
            return Verdict.CONTINUE
        mine = self.clean(history)
        theirs = self.clean(self._leader[1][:step])
        if not mine or not theirs:
            return Verdict.CONTINUE
        sign = 1.0 if self.mode == "maximize" else -1.0
        my_best = max(sign * v for v in mine)
        their_best = max(sign * v for v in theirs)
        if my_best < their_best - self.gap:
            self.last_reason = (
                f"best {sign * my_best:.4g} by step {step} trails the leader's {sign * their_best:.4g} "
                f"by more than {self.gap:g}"
            )
            return Verdict.STOP
        return Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        if result.status is not TrialStatus.SUCCEEDED or result.value is None:
            return
        if not math.isfinite(result.value) or not result.intermediate:
            return
        if self._leader is None or self.better(result.value, self._leader[0]):
            self._leader = (float(result.value), tuple(result.intermediate))
