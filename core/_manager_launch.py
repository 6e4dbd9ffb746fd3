"""How the manager fills its slots and starts trials (a mixin of :class:`~hyperloom.manager.Manager`).

* ``_fill_slots`` asks the tuner (on its lane) while a slot is free and the budget allows; a
  ``Suggestion(resume=)`` continues a PAUSED trial instead, ``None`` means "not now" (asked again
  after the next event) and ``FINISHED`` ends the search. Devices are reserved before the tuner
  is asked, so a suggestion never waits for a GPU.
* ``_launch`` allocates the sequence (the trial id derives from it), records the trial, and has
  the executor prepare and start it. Events that arrive while ``start`` is in flight are kept in
  ``_starting`` and handled right after the trial is registered (``_early_events``).
* ``_retry`` starts a trial lost with its node again, after every tuner and assessor ``forget``s
  the lost attempt.
* ``_count_launch_failure`` fails the experiment after ``maxLaunchFailures`` identical early
  crashes in a row.
* GPU usage of running trials is sampled off the loop every ``GPU_SAMPLE_EVERY`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from hyperloom._manager_host import ManagerHost
from hyperloom._manager_retry import forget_attempt
from hyperloom._manager_types import (
    RunningTrial,
    _plain_params,
    launch_spec,
    trial_id_for,
)
from hyperloom.errors import UsageError
from hyperloom.types import FINISHED, Suggestion, TrialStatus

log = logging.getLogger("hyperloom.manager")

__all__ = ["LaunchMixin", "suggested_params"]


class LaunchMixin(ManagerHost):
    """Slot filling, trial starts, retries and launch-failure detection; see the module
    docstring."""

    async def _fill_slots(self) -> None:
        while self._can_fill():
            if self._no_more_trials() and not self._told_budget_spent:
                # only paused trials can run now: a scheduler may promote them more freely
                self._told_budget_spent = True
                hook = getattr(self.tuner, "budget_spent", None)
                if callable(hook):
                    try:
                        await self._lanes.call(self.tuner, hook)
                    except Exception:
                        self._algo_failed(
                            "tuner.budget_spent", trial_id_for(self.store.peek_sequence())
                        )
            trial_id = trial_id_for(self.store.peek_sequence())
            got_devices = self.executor.reserve(trial_id)
            if got_devices is None:
                return  # wait for devices; the loop goes on
            devices = tuple(got_devices)
            try:
                got_params = await self._lanes.call(self.tuner, self.tuner.suggest, trial_id)
                params = suggested_params(got_params)
                self._note_tuner_choice()
            except Exception as e:
                self._release(trial_id)
                log.exception("tuner.suggest failed")
                self.failed = True
                self.request_stop(f"the tuner failed: {type(e).__name__}: {e}")
                return
            if self.stopping:  # a stop came while the tuner thought: start nothing more
                self._release(trial_id)
                return
            if isinstance(got_params, Suggestion) and got_params.resume is not None:
                self._release(trial_id)
                if await self._resume_paused(got_params):
                    continue
                return
            if params is None:
                self._release(trial_id)
                if got_params is FINISHED or (not self.running and not self.paused):
                    # FINISHED, or v1's None with nothing running: nothing can change its mind
                    self.exhausted = True
                    self._say(
                        "the tuner has no more parameters to suggest (search space exhausted)"
                    )
                elif not self.running:
                    self.exhausted = True  # only paused trials are left, and none is resumed
                return  # None: not now; ask again after the next event
            if self._no_more_trials():
                self._release(trial_id)  # the budget is spent: only resumes are taken now
                if not self.running:
                    self.exhausted = True  # nothing runs that could change the tuner's mind
                return
            sugg = got_params if isinstance(got_params, Suggestion) else None
            await self._launch(trial_id, params, devices, sugg)

    def _sample_gpus(self) -> None:
        """Every GPU_SAMPLE_EVERY seconds, per-trial GPU usage (memory, utilisation) into the
        store as ``gpu_sample`` events; NVML is read in a worker thread, never on the loop."""
        if not self._gpus or not self.running or not self.config.trial_gpu_number:
            return
        now = self.clock.monotonic()
        if (self._gpu_task is not None and not self._gpu_task.done()) or (
            now - self._gpu_last < self.GPU_SAMPLE_EVERY
        ):
            return
        self._gpu_last = now
        pids = {t: list(rt.pids) for t, rt in self.running.items()}
        self._gpu_task = asyncio.ensure_future(asyncio.to_thread(self.executor.device_usage, pids))
        self._gpu_task.add_done_callback(self._store_gpu_samples)

    def _store_gpu_samples(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            log.debug("GPU sampling failed: %r", None if task.cancelled() else task.exception())
            return
        for trial_id, usage in task.result().items():
            if trial_id in self.running:
                with contextlib.suppress(Exception):
                    self.store.add_event("gpu_sample", trial_id, usage, self.clock.now())

    def _release(self, trial_id: str) -> None:
        if self.executor is not None:
            self.executor.release(trial_id)

    async def _launch(
        self,
        trial_id: str,
        params: dict[str, Any],
        devices: tuple[int, ...],
        sugg: Suggestion | None = None,
    ) -> None:
        cfg = self.config
        sequence = self.store.allocate_sequence()
        if trial_id_for(sequence) != trial_id:  # the store moved on under us: never reuse an id
            trial_id = trial_id_for(sequence)
        parent, start, restore = await self._warm_start(trial_id, sugg)
        perturbation = None
        if sugg is not None and sugg.perturbation:
            perturbation = _plain_params(dict(sugg.perturbation))
        self.store.add_trial(
            trial_id, sequence, params, t=self.clock.now(), parent=parent, perturbation=perturbation
        )
        spec = launch_spec(
            cfg, self.exp_dir, self.experiment_id, trial_id, sequence, params,
            start_step=start, restore_dir=restore,
        )  # fmt: skip
        now, mono = self.clock.now(), self.clock.monotonic()
        self.used_budget += 1
        self._starting[trial_id] = []  # its events, should any come before start returns
        try:
            self.executor.prepare(spec)  # its directory and params.json, before it runs
            handle = await self.executor.start(spec)
        except Exception as e:
            self._early_events(trial_id)
            log.warning("trial %s could not start: %s", trial_id, e)
            if isinstance(e, UsageError):  # a config problem: every trial would fail the same way
                self.request_stop(f"trials cannot start: {e}")
            self.store.start_trial(
                trial_id, started=now, pid=None, pgid=None, handle={}, devices=list(devices)
            )
            self._release(trial_id)
            await self._finish(
                RunningTrial(trial_id, sequence, params, now, mono, None),
                TrialStatus.FAILED,
                exit_code=None,
                reason=f"could not start: {e}",
            )
            return
        deadline = mono + cfg.max_trial_duration if cfg.max_trial_duration else None
        rt = RunningTrial(trial_id, sequence, params, now, mono, deadline)
        rt.parent, rt.start_step, rt.next_step = parent, start, start
        self._started(rt, handle, devices)
        self.running[trial_id] = rt
        self.counts[TrialStatus.RUNNING.value] += 1
        self._early_events(trial_id)

    def _early_events(self, trial_id: str) -> None:
        """The trial's start returned: what it sent meanwhile (an executor that yields inside
        ``start``, while the loop went on) is handled next, in order, before anything newer."""
        if not self._starting.get(trial_id):
            self._starting.pop(trial_id, None)
            return

        async def handle_them() -> None:
            for ev in self._starting.pop(trial_id, []):
                await self._handle(ev)

        self._queue.put_nowait(handle_them)

    def _started(self, rt: RunningTrial, handle: Any, devices: tuple[int, ...]) -> None:
        """Records the handle an executor's ``start`` returned."""
        handle = dict(handle or {})
        self.store.start_trial(
            rt.trial_id,
            started=rt.started,
            pid=handle.get("pid"),
            pgid=handle.get("pgid"),
            handle=handle,
            devices=list(devices),
        )
        if handle.get("pid"):
            rt.pids.append(int(handle["pid"]))

    async def _retry(self, rt: RunningTrial, reason: str | None) -> None:
        """Starts a trial lost with its node again, as a fresh attempt (see _manager_retry)."""
        forget_attempt(rt, self.store, reason, self.clock.now())
        rt.steps.clear()
        for part in {id(p): p for p in (self.tuner, self.assessor) if p is not None}.values():
            forget = getattr(part, "forget", None)
            if forget is not None:
                try:
                    await self._lanes.call(part, forget, rt.trial_id)
                except Exception:
                    self._algo_failed(f"{type(part).__name__}.forget", rt.trial_id)
        self._say(
            f"trial {rt.trial_id} (#{rt.sequence}) lost ({(reason or '')[:200]}); "
            f"starting it again (attempt {rt.attempt})"
        )
        devices = self.executor.reserve(rt.trial_id) or ()  # the lease it holds
        rt.started, rt.started_mono = self.clock.now(), self.clock.monotonic()
        if self.config.max_trial_duration:
            rt.deadline = rt.started_mono + self.config.max_trial_duration
        try:
            spec = launch_spec(
                self.config, self.exp_dir, self.experiment_id, rt.trial_id, rt.sequence,
                rt.params,
            )  # fmt: skip
            handle = await self.executor.start(spec)
        except Exception as e:
            log.warning("trial %s could not start again: %s", rt.trial_id, e)
            await self._finish(
                rt,
                TrialStatus.FAILED,
                exit_code=None,
                reason=f"{reason}; could not start again: {e}",
            )
            return
        self._started(rt, handle, devices)

    def _count_launch_failure(
        self, rt: RunningTrial, status: TrialStatus, reason: str | None, exit_code: int | None
    ) -> None:
        """Stops the experiment FAILED after ``maxLaunchFailures`` trials in a row failed the
        same way before reporting anything (command not found, a broken interpreter...): every
        other trial would fail so too, and burn the budget."""
        limit = self.config.max_launch_failures
        quick = self.clock.monotonic() - rt.started_mono < 60.0
        crashed = exit_code != 0  # a trial that exits 0 ran; it just reported nothing
        if (
            status != TrialStatus.FAILED
            or rt.intermediate
            or rt.final_seen
            or not quick
            or not crashed
        ):
            self._launch_failures = ("", 0)
            return
        sig = f"{reason or ''} | {_last_line(self.exp_dir / 'trials' / rt.trial_id / 'stderr.log')}"
        same, n = self._launch_failures
        n = n + 1 if sig == same else 1
        self._launch_failures = (sig, n)
        if limit and n >= limit and not self.stopping:
            self.failed = True
            hint = sig.split(" | ", 1)[1] or sig.split(" | ", 1)[0]
            self.request_stop(
                f"{n} trials in a row failed the same way before reporting anything "
                f"({hint[:200]}); check trialCommand and trialCodeDirectory by running one "
                f"trial by hand (its stderr: {self.exp_dir / 'trials' / rt.trial_id / 'stderr.log'}); "
                f"maxLaunchFailures: 0 turns this check off"
            )


def suggested_params(got: Any) -> dict[str, Any] | None:
    """The parameters in what ``tuner.suggest`` returned (None for "not now" and FINISHED)."""
    if got is None or got is FINISHED:
        return None
    if isinstance(got, Suggestion):
        got = got.params
    return _plain_params(got)


def _last_line(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a (log) file, '' when there is none."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    return lines[-1] if lines else ""
