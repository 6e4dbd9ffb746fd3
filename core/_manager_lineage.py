"""The manager's checkpoint, pause and lineage rules (a mixin of :class:`~hyperloom.manager.Manager`).

* A checkpoint counts only when the trial reported it committed (``report(..., checkpoint=True)``):
  the manager snapshots ``<trial>/checkpoint`` through :class:`~hyperloom.checkpoints.CheckpointManager`
  and records the step (store column ``checkpoint_json``). A simulated trial's checkpoints are
  steps only: there are no files.
* ``Verdict.PAUSE`` stops the trial's process; the trial is PAUSED (not final, no slot, no
  devices). ``Suggestion(resume=ID)`` starts it again with the same id from its last committed
  checkpoint (steps go on from there; reports after that step are dropped, as they will be made
  again); with no checkpoint it starts again from step 0.
* ``Suggestion(parent=ID)`` starts a new trial from a private copy of that trial's last committed
  checkpoint; a donor without one is never exploited (the trial starts fresh, an
  ``exploit_refused`` event says why).
* PAUSED trials left when the experiment is done end EARLY_STOPPED with the value they reached;
  when it is stopped (Ctrl-C, ``hyperloom stop``) they stay PAUSED, and ``resume`` can continue
  them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
from pathlib import Path
from typing import Any

from hyperloom._manager_host import ManagerHost
from hyperloom._manager_types import RunningTrial, launch_spec, padded_metrics
from hyperloom.types import Suggestion, TrialResult, TrialStatus

log = logging.getLogger("hyperloom.manager")

CHECKPOINT_KEY = "hyperloom:checkpoint"  # == hyperloom.trials.CHECKPOINT_KEY (kept import-free)
RESTORE_DIR = "restore"


class LineageMixin(ManagerHost):
    """Checkpoint commits, PAUSE and resume, and warm starts; see the module docstring."""

    # -- the parts ------------------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        """Whether trials are simulated (checkpoints are steps, with no files)."""
        return bool(getattr(self.executor, "simulated_checkpoints", False))

    def checkpoints(self) -> Any:
        """The experiment's :class:`~hyperloom.checkpoints.CheckpointManager` (made on first use)."""
        if self._checkpoints is None:
            from hyperloom.checkpoints import CheckpointManager

            self._checkpoints = CheckpointManager(
                self.exp_dir / "checkpoints", self.config.checkpoint_budget
            )
        return self._checkpoints

    def _trial_dir(self, trial_id: str) -> Path:
        return self.exp_dir / "trials" / trial_id

    # -- commits --------------------------------------------------------------------------------

    async def _commit_checkpoint(self, rt: RunningTrial, step: int, reported_at: float) -> None:
        """The trial said its checkpoint at ``step`` is complete: snapshot and record it (a file
        written after ``reported_at``, the trial's time of the report, refuses the commit)."""
        where = ""
        if not self.simulated:
            from hyperloom.checkpoints import CheckpointError

            src = self._trial_dir(rt.trial_id) / "checkpoint"
            commit = functools.partial(self.checkpoints().commit, reported_at=reported_at)
            try:
                ckpts = self.checkpoints()
                where = str(await self._lanes.call(ckpts, commit, rt.trial_id, step, src))
            except (CheckpointError, OSError) as e:
                log.warning(
                    "trial %s: checkpoint at step %d not committed: %s", rt.trial_id, step, e
                )
                self.store.add_event(
                    "checkpoint_refused",
                    rt.trial_id,
                    {"step": step, "reason": str(e)[:500]},
                    self.clock.now(),
                )
                return
            self.store.set_checkpoint(rt.trial_id, step, where)
        self.ckpt_steps[rt.trial_id] = step
        hook = getattr(self.tuner, "checkpointed", None)
        if hook is not None:
            self._lanes.fire(
                self.tuner, hook, rt.trial_id, step,
                on_error=functools.partial(self._algo_failed, "tuner.checkpointed", rt.trial_id),
            )  # fmt: skip

    async def _collect_checkpoints(self) -> None:
        """Deletes snapshots no trial can need any more, within ``checkpointBudget``."""
        if self._checkpoints is None:
            return
        needed = set(self.running)
        store = self._checkpoints

        def collect(keep: set[str]) -> None:  # on the checkpoints' own lane, like every change
            self._lanes.fire(
                store, store.gc, keep,
                on_error=lambda e: log.error("checkpoint garbage collection failed", exc_info=e),
            )  # fmt: skip

        more = getattr(self.tuner, "needed_checkpoints", None)
        if more is None:
            collect(needed | set(self.paused))  # any paused trial may be resumed
            return
        # the scheduler knows which paused or ended trials it may still use; it is asked on
        # its lane, in turn. When in doubt (it raised), everything is kept.
        self._lanes.fire(
            self.tuner, lambda: needed | set(more()),
            on_error=functools.partial(self._algo_failed, "tuner.needed_checkpoints", "-"),
            then=collect,
        )  # fmt: skip

    async def _restore_from(self, source: str, trial_id: str) -> tuple[int | None, Path | None]:
        """A private copy of ``source``'s last committed checkpoint for ``trial_id``: (its step,
        the directory), or (None, None) when there is none."""
        if self.simulated:
            return self.ckpt_steps.get(source), None
        if self._checkpoints is None and source not in self.ckpt_steps:
            return None, None
        dest = self._trial_dir(trial_id) / RESTORE_DIR
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            ckpts = self.checkpoints()
            step = await self._lanes.call(ckpts, ckpts.prepare_restore, source, dest)
        except Exception as e:
            log.warning("trial %s: cannot restore from %s: %s", trial_id, source, e)
            return None, None
        return (None, None) if step is None else (int(step), dest)

    async def _warm_start(
        self, trial_id: str, sugg: Suggestion | None
    ) -> tuple[str | None, int, Path | None]:
        """For ``Suggestion(parent=...)``: (the parent, the first step, the restore directory);
        (None, 0, None) for a fresh trial, or when the donor has no committed checkpoint."""
        if sugg is None or sugg.parent is None:
            return None, 0, None
        step, restore = await self._restore_from(sugg.parent, trial_id)
        if step is None:
            log.warning(
                "trial %s: not warm-started from %s, which has no committed checkpoint; it "
                "starts fresh",
                trial_id,
                sugg.parent,
            )
            self.store.add_event(
                "exploit_refused",
                trial_id,
                {"parent": sugg.parent, "reason": "no committed checkpoint"},
                self.clock.now(),
            )
            return None, 0, None
        self.store.add_event(
            "warm_start", trial_id, {"parent": sugg.parent, "step": step}, self.clock.now()
        )
        return sugg.parent, step + 1, restore

    # -- pause ----------------------------------------------------------------------------------

    async def _pause(self, rt: RunningTrial) -> None:
        if self.running.pop(rt.trial_id, None) is not None:
            self.counts[TrialStatus.RUNNING.value] -= 1
        if rt.kill_task is not None and not rt.kill_task.done():
            rt.kill_task.cancel()
        self._release(rt.trial_id)
        reason = rt.stop_reason
        rt.stop_status = rt.stop_reason = None
        rt.kill_at, rt.kill_task = None, None
        rt.pids.clear()
        self.paused[rt.trial_id] = rt
        self.counts[TrialStatus.PAUSED.value] += 1
        step = self.ckpt_steps.get(rt.trial_id)
        if self.simulated and step is not None:
            self.store.set_checkpoint(rt.trial_id, step, "")
        self.store.set_status(rt.trial_id, TrialStatus.PAUSED, reason)
        self.store.add_event(
            "paused",
            rt.trial_id,
            {"step": rt.steps[-1] if rt.steps else None, "checkpoint": step, "reason": reason},
            self.clock.now(),
        )
        await self._collect_checkpoints()
        self._emit_progress(force=True)
        pending = self._resume_pending.pop(rt.trial_id, None)
        if pending is not None:
            await self._resume_paused(pending)

    async def _resume_paused(self, sugg: Suggestion) -> bool:
        """Starts a PAUSED trial again; False (nothing started) when it cannot be."""
        trial_id = str(sugg.resume)
        rt = self.paused.get(trial_id)
        if rt is None:
            pausing = self.running.get(trial_id)
            if pausing is not None and pausing.stop_status == TrialStatus.PAUSED:
                self._resume_pending[trial_id] = sugg  # resumed as soon as its process is gone
                return False
            log.warning("the tuner asked to resume trial %s, which is not paused", trial_id)
            return False
        got = self.executor.reserve(trial_id)
        if got is None:
            return False  # its devices are not free yet
        devices = tuple(got)
        del self.paused[trial_id]
        self.counts[TrialStatus.PAUSED.value] -= 1
        if dict(sugg.params) != rt.params:
            log.info(
                "trial %s resumes with its own parameters (a resume never changes them)", trial_id
            )
        step, restore = await self._restore_from(trial_id, trial_id)
        start = 0 if step is None else step + 1
        keep = [i for i, s in enumerate(rt.steps) if s < start]
        rt.intermediate = [rt.intermediate[i] for i in keep]
        padded = padded_metrics(rt.report_metrics, len(rt.steps))
        rt.report_metrics = [padded[i] for i in keep]
        rt.steps = [rt.steps[i] for i in keep]
        rt.seen = set(rt.steps)
        rt.next_step, rt.start_step = start, start
        rt.final_seen, rt.final, rt.final_metrics = False, None, {}
        self.store.truncate_metrics(trial_id, start)
        if not self.simulated:
            _archive_channel(self._trial_dir(trial_id))
        rt.started_mono = self.clock.monotonic()
        if self.config.max_trial_duration:
            rt.deadline = rt.started_mono + self.config.max_trial_duration
        spec = launch_spec(
            self.config, self.exp_dir, self.experiment_id, trial_id, rt.sequence, rt.params,
            start_step=start, restore_dir=restore,
        )  # fmt: skip
        self.running[trial_id] = rt
        self.counts[TrialStatus.RUNNING.value] += 1
        self.store.add_event(
            "resumed", trial_id, {"start_step": start, "checkpoint": step}, self.clock.now()
        )
        try:
            handle = await self.executor.start(spec)
        except Exception as e:
            log.warning("trial %s could not be resumed: %s", trial_id, e)
            await self._finish(
                rt, TrialStatus.FAILED, exit_code=None, reason=f"could not resume: {e}"
            )
            return True
        self._started(rt, handle, devices)
        return True

    async def _end_paused(self) -> None:
        """The experiment is done: PAUSED trials end EARLY_STOPPED with the value they reached."""
        for rt in list(self.paused.values()):
            await self._finish(
                rt,
                TrialStatus.EARLY_STOPPED,
                exit_code=None,
                reason="paused when the experiment ended (never resumed)",
            )

    def _load_paused(self) -> None:
        """On resume: the PAUSED trials of the store, ready to be resumed, and every trial's last
        committed checkpoint step."""
        self.ckpt_steps.update(self.store.checkpoint_steps())
        for r in self.store.trials(status=TrialStatus.PAUSED, with_intermediate=True):
            rt = RunningTrial(
                r.trial_id, r.sequence, r.params, r.started or self.clock.now(),
                self.clock.monotonic(), None,
            )  # fmt: skip
            steps = [s for s, _v, _t in self.store.intermediate(r.trial_id)]
            rt.intermediate, rt.steps = list(r.intermediate), steps
            rt.next_step = (steps[-1] + 1) if steps else 0
            rt.parent = r.parent
            self.paused[r.trial_id] = rt
            self.counts[TrialStatus.PAUSED.value] += 1
            hook = getattr(self.tuner, "restore_paused", None)
            if hook is not None:
                try:
                    hook(paused_result(rt))
                except Exception:
                    self._algo_failed("tuner.restore_paused", r.trial_id)


def paused_result(rt: RunningTrial) -> TrialResult:
    """A PAUSED trial as a TrialResult (for a scheduler rebuilding its state on resume)."""
    from hyperloom.types import Report

    return TrialResult(
        trial_id=rt.trial_id,
        params=rt.params,
        status=TrialStatus.PAUSED,
        value=rt.intermediate[-1] if rt.intermediate else None,
        intermediate=tuple(rt.intermediate),
        sequence=rt.sequence,
        reports=tuple(Report(s, v) for s, v in zip(rt.steps, rt.intermediate, strict=False)),
        parent=rt.parent,
    )


def _archive_channel(trial_dir: Path) -> None:
    """Moves a paused trial's ``metrics.jsonl`` aside (``metrics.jsonl.1``, ...): the resumed
    process's channel starts empty, and what the first run wrote stays on disk."""
    src = trial_dir / "metrics.jsonl"
    if not src.exists():
        return
    n = 1
    while (trial_dir / f"metrics.jsonl.{n}").exists():
        n += 1
    src.rename(trial_dir / f"metrics.jsonl.{n}")
