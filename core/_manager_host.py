"""What the manager's mixins share (:class:`ManagerHost`): the attributes
:class:`~hyperloom.manager.Manager` sets and the methods one part calls in another, declared once
for the type checker. It holds no code and no state of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperloom._manager_lanes import Lanes
from hyperloom._manager_types import AssessorPart, Clock, RunningTrial, TunerPart
from hyperloom.types import Suggestion, TrialResult, TrialStatus

if TYPE_CHECKING:
    from hyperloom.config import Config
    from hyperloom.executor import Executor
    from hyperloom.store import Store

__all__ = ["ManagerHost"]


class ManagerHost:
    """The base of the manager's mixins (launch, lineage, resume, stopping)."""

    GPU_SAMPLE_EVERY: float

    config: Config
    store: Store
    executor: Executor
    tuner: TunerPart
    assessor: AssessorPart | None
    clock: Clock
    exp_dir: Path
    experiment_id: str
    running: dict[str, RunningTrial]
    counts: dict[str, int]
    paused: dict[str, RunningTrial]
    used_budget: int
    exhausted: bool
    stopping: bool
    escalated: bool
    failed: bool
    stop_message: str
    budget_ended: bool
    store_error: str | None
    ckpt_steps: dict[str, int]
    _lanes: Lanes
    _queue: asyncio.Queue[Any]
    _filler: asyncio.Task[None] | None
    _interrupts: int
    _prev_elapsed: float
    _judged: tuple[int, str] | None
    _starting: dict[str, list[Any]]
    _gpus: bool
    _gpu_task: asyncio.Future[Any] | None
    _gpu_last: float
    _told_budget_spent: bool
    _launch_failures: tuple[str, int]
    _checkpoints: Any
    _resume_pending: dict[str, Suggestion]

    if TYPE_CHECKING:
        # the loop and the event lifecycle (manager.py)
        def _say(self, text: str) -> None: ...
        def _emit_progress(self, force: bool = False) -> None: ...
        def _elapsed(self) -> float: ...
        def _filling(self) -> bool: ...
        def _can_fill(self) -> bool: ...
        def _no_more_trials(self) -> bool: ...
        def _note_tuner_choice(self) -> None: ...
        def _note_best(self, status: TrialStatus, value: float | None, trial_id: str) -> None: ...
        def _algo_failed(
            self, what: str, trial_id: str, exc: BaseException | None = None
        ) -> None: ...
        async def _handle(self, ev: Any) -> None: ...
        async def _observe(
            self, result: TrialResult, *, inline: bool = False, judged: TrialResult | None = None
        ) -> None: ...
        async def _finish(
            self,
            rt: RunningTrial,
            status: TrialStatus | None,
            *,
            exit_code: int | None,
            reason: str | None,
            reattached: bool = False,
        ) -> None: ...

        # launch (_manager_launch)
        def _release(self, trial_id: str) -> None: ...
        def _started(self, rt: RunningTrial, handle: Any, devices: tuple[int, ...]) -> None: ...

        # lineage (_manager_lineage)
        def _load_paused(self) -> None: ...
        async def _resume_paused(self, sugg: Suggestion) -> bool: ...
        async def _warm_start(
            self, trial_id: str, sugg: Suggestion | None
        ) -> tuple[str | None, int, Path | None]: ...

        # stopping (_manager_stopping)
        def request_stop(self, message: str = "stop requested") -> None: ...
