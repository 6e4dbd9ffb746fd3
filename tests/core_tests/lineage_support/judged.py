"""An assessor that records what it is given (the judged-objective tests; loaded as
module:Class). It writes every call to the JSON-lines file named by ``log``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hyperloom.assessors import Assessor
from hyperloom.types import TrialResult, Verdict


class Recorder(Assessor):
    """Never stops anything; records each assess and observe call."""

    def __init__(self, *, log: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.log = log
        self._write({"mode": self.mode})

    def _write(self, item: dict[str, Any]) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(item) + "\n")

    def assess(
        self, trial_id: str, history: Sequence[float], steps: Sequence[int] | None = None
    ) -> Verdict:
        self._write({"assess": trial_id, "history": list(history), "steps": list(steps or [])})
        return Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        self._write(
            {"observe": result.trial_id, "value": result.value, "intermediate": list(result.intermediate)}
        )


class StopAtTwo(Assessor):
    """Stops every trial once it has reported two steps."""

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        return Verdict.STOP if len(history) >= 2 else Verdict.CONTINUE
