"""A tuner and an assessor that play a fixed plan and log every TrialResult they observe
(module:Class plugins for the live-vs-resume test)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hyperloom.assessors import Assessor
from hyperloom.tuners import Tuner
from hyperloom.types import FINISHED, Decision, TrialResult, Verdict


def as_json(r: TrialResult) -> dict[str, Any]:
    return {
        "trial_id": r.trial_id,
        "params": r.params,
        "status": r.status.value,
        "value": r.value,
        "values": list(r.values) if r.values is not None else None,
        "intermediate": list(r.intermediate),
        "sequence": r.sequence,
        "metrics": r.metrics,
    }


class PlanTuner(Tuner):
    def __init__(self, space: Any, *, plan: list[dict[str, Any]], log: str, **kw: Any) -> None:
        super().__init__(space, mode=kw.get("mode", "maximize"), seed=kw.get("seed"))
        self.plan = plan
        self.log = log
        self.given = 0

    def suggest(self, trial_id: str) -> Any:
        if self.given >= len(self.plan):
            return FINISHED
        self.given += 1
        return dict(self.plan[self.given - 1])

    def observe(self, result: TrialResult) -> None:
        with open(self.log, "a") as f:
            f.write(json.dumps({"who": "tuner", **as_json(result)}) + "\n")


class StopFlagged(Assessor):
    """Stops a trial whose params carry ``stopme`` after its second report."""

    def __init__(self, *, log: str, mode: str = "maximize") -> None:
        super().__init__(mode=mode)
        self.log = log
        self.flagged: set[str] = set()

    def assess(
        self, trial_id: str, history: Sequence[float], steps: Sequence[int] | None = None
    ) -> Verdict | Decision:
        if len(history) >= 2 and history[0] < 0:
            return Decision(Verdict.STOP, "negative start")
        return Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        with open(self.log, "a") as f:
            f.write(json.dumps({"who": "assessor", **as_json(result)}) + "\n")
