"""An assessor for the device tests: stops every trial that reports a negative value."""

from __future__ import annotations

from collections.abc import Sequence

from hyperloom.assessors import Assessor
from hyperloom.types import Verdict


class StopNegative(Assessor):
    """Stops a trial as soon as it reports a negative value."""

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        return Verdict.STOP if history and history[-1] < 0 else Verdict.CONTINUE
