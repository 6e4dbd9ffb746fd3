"""A local executor that loses each trial once, and a tuner that records what it is told: the
manager's retry of lost trials (``maxTrialRetries``) tested without a cluster.

`LosingExecutor` runs real subprocesses (it is the local executor); after a trial's
``lose_after``-th report on its first attempt it kills the trial and reports it the way the Ray
executor reports a dead runner (exit code None, reason ``node lost: ...``). Its second attempt
reads a fresh channel file, as the executor contract asks of a restarted trial.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from hyperloom.executor import NODE_LOST, LaunchSpec, LocalExecutor, TrialExited, TrialMessage
from hyperloom.tuners.random import RandomTuner
from hyperloom.types import TrialResult


class LosingExecutor(LocalExecutor):
    """Option ``loseAfter``: per attempt, the report after which it is lost (default ``[3]``:
    the first attempt after its third report, later attempts never)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.lose_after = [int(n) for n in self.options.get("loseAfter", [3])]
        self.attempt: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.losing: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        n = self.attempt[spec.trial_id] = self.attempt.get(spec.trial_id, 0) + 1
        metrics = Path(spec.trial_dir) / "metrics.jsonl"
        if n > 1 and metrics.exists():  # a retry: a fresh channel
            metrics.rename(metrics.with_name(f"metrics.lost-{n - 1}.jsonl"))
        self.seen[spec.trial_id] = 0
        return await super().start(spec)

    def _emit(self, event: Any) -> None:
        tid = event.trial_id
        if tid in self.losing:  # the lost attempt: nothing more reaches the manager but its loss
            return
        super()._emit(event)
        if isinstance(event, TrialMessage) and event.message.type == "metric":
            self.seen[tid] += 1
            n = self.attempt[tid]
            if n <= len(self.lose_after) and self.seen[tid] == self.lose_after[n - 1]:
                self.losing.add(tid)
                task = asyncio.get_running_loop().create_task(self._lose(tid))
                self.tasks.add(task)

    async def _lose(self, tid: str) -> None:
        await self.kill(tid, grace=0.0)  # returns once the process and its group are gone
        self.losing.discard(tid)
        super()._emit(TrialExited(tid, None, f"{NODE_LOST}: the test lost it"))


class RecordingTuner(RandomTuner):
    observed: ClassVar[list[TrialResult]] = []
    reports: ClassVar[list[tuple[str, int, float]]] = []

    def observe(self, result: TrialResult) -> None:
        RecordingTuner.observed.append(result)
        super().observe(result)

    def report(self, trial_id: str, step: int, value: float) -> None:
        RecordingTuner.reports.append((trial_id, step, value))
