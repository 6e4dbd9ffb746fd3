"""How the manager stops trials and itself (a mixin of :class:`~hyperloom.manager.Manager`).

* A stop (Ctrl-C, SIGTERM, ``hyperloom stop``, the dashboard, ``maxExperimentDuration``) starts
  no new trial and asks every running one to stop cooperatively; after a short window its process
  group gets SIGTERM, then SIGKILL after ``stopGracePeriod``.
* A second Ctrl-C escalates: every trial is killed at once and the lanes are not drained.
* ``maxTrialDuration`` ends a trial TIMEOUT by the same path.
* At the close the executor is closed, trials that saw no exit are recorded with what is known,
  the lanes are drained (every ended trial observed), and any process still carrying the
  experiment's id in its environment (a daemonized trial) is ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from hyperloom._manager_host import ManagerHost
from hyperloom._manager_resume import end_marked
from hyperloom._manager_types import RunningTrial
from hyperloom.errors import StoreError
from hyperloom.types import TrialStatus

log = logging.getLogger("hyperloom.manager")

__all__ = ["StoppingMixin", "duration_text", "log_task_error"]


class StoppingMixin(ManagerHost):
    """Stop requests, escalation, deadlines and the close; see the module docstring."""

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed: list[signal.Signals] = []

        def on_signal(signame: str) -> None:
            self._interrupts += 1
            if self._interrupts == 1:
                self.request_stop(f"{signame} received")
            else:
                self.escalate()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, sig.name)
                installed.append(sig)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
                pass
        return installed

    def request_stop(self, message: str = "stop requested") -> None:
        """Stops the experiment: no new trials; running trials get a cooperative stop first."""
        if not self.stopping:
            self.stopping = True
            self.stop_message = message
            self._say(f"stopping: {message}")
        self._queue.put_nowait(None)

    def escalate(self) -> None:
        """Kills every running trial at once (a second Ctrl-C)."""
        self.escalated = True
        self.request_stop("interrupted twice: killing trials now")
        for rt in self.running.values():
            rt.kill_at = 0.0
        self._queue.put_nowait(None)

    def stop_trial(self, trial_id: str, reason: str = "stopped by the user") -> bool:
        """Stops one running trial (status CANCELED). False if it is not running."""
        rt = self.running.get(trial_id)
        if rt is None:
            return False
        self._begin_stop(rt, TrialStatus.CANCELED, reason)
        return True

    def _begin_stop(
        self, rt: RunningTrial, status: TrialStatus, reason: str, window: float | None = None
    ) -> None:
        if rt.stop_status is None:
            rt.stop_status, rt.stop_reason = status, reason
            self.store.add_event(
                "stop_request",
                rt.trial_id,
                {"status": status.value, "reason": reason},
                self.clock.now(),
            )
        if rt.kill_at is None:
            coop = min(3.0, self.config.stop_grace_period) if window is None else window
            rt.kill_at = self.clock.monotonic() + coop
            task = asyncio.ensure_future(self.executor.request_stop(rt.trial_id))
            task.add_done_callback(log_task_error)

    def _check_deadlines(self) -> None:
        now = self.clock.monotonic()
        if self.stopping:
            for rt in self.running.values():
                if rt.stop_status is None:
                    self._begin_stop(
                        rt, TrialStatus.CANCELED, self.stop_message or "experiment stopped"
                    )
        elif (
            self.config.max_experiment_duration is not None
            and self._elapsed() >= self.config.max_experiment_duration
        ):
            self.request_stop(
                f"maxExperimentDuration ({duration_text(self.config.max_experiment_duration)}) "
                "reached"
            )
            self.budget_ended = True
        for rt in list(self.running.values()):
            if rt.deadline is not None and now >= rt.deadline and rt.stop_status is None:
                self._begin_stop(
                    rt,
                    TrialStatus.TIMEOUT,
                    f"maxTrialDuration ({self.config.max_trial_duration:g}s) exceeded",
                )
            if rt.kill_at is not None and now >= rt.kill_at and rt.kill_task is None:
                grace = 0.0 if self.escalated else self.config.stop_grace_period
                rt.kill_task = asyncio.ensure_future(self.executor.kill(rt.trial_id, grace=grace))
                rt.kill_task.add_done_callback(log_task_error)
            elif (
                self.escalated and rt.kill_task is not None and not getattr(rt, "_escalated", False)
            ):
                setattr(rt, "_escalated", True)  # noqa: B010
                t = asyncio.ensure_future(self.executor.kill(rt.trial_id, grace=0.0))
                t.add_done_callback(log_task_error)

    async def _shutdown(self) -> None:
        if self._filling():  # the run ended by an error while slots were being filled
            assert self._filler is not None
            self._filler.cancel()
            with contextlib.suppress(BaseException):
                await self._filler
        if self.executor is None:
            return
        with contextlib.suppress(Exception):
            grace = 0.0 if self.escalated else self.config.stop_grace_period
            await self.executor.close(grace=grace)
        # Anything still marked running had no exit event: record what we know.
        while not self._queue.empty():
            ev = self._queue.get_nowait()
            with contextlib.suppress(Exception):
                await self._handle(ev)
        for rt in list(self.running.values()):
            try:
                await self._finish(
                    rt,
                    rt.stop_status or TrialStatus.CANCELED,
                    exit_code=None,
                    reason=rt.stop_reason or "experiment stopped",
                )
            except StoreError:
                if self.store_error is None:
                    raise
                self.running.pop(rt.trial_id, None)  # recorded RUNNING; resume settles it
        if not self.escalated:  # the tuner and assessor have seen every trial
            await self._lanes.drain()
        self._lanes.close()
        # Daemonized descendants leave their trial's process group; they still carry the
        # experiment's id in their environment: nothing of this experiment outlives it.
        with contextlib.suppress(Exception):
            strays = await asyncio.to_thread(
                end_marked, {"HYPERLOOM_EXPERIMENT_ID": self.experiment_id}
            )
            if strays:
                log.warning("ended %d stray trial process(es) at the close", strays)


def log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("background task failed: %r", task.exception())


def duration_text(seconds: float) -> str:
    """90 -> "90s", 5400 -> "1.5h": how a budget reads in a message."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
