"""The manager: one asyncio loop that runs an experiment.

It asks the tuner for parameters, starts trials through an executor, reads their channel
messages, asks the assessor after each intermediate report, enforces budgets and timeouts, and
records everything in the store (it is the store's only writer). Time comes from a :class:`Clock`
and trials from an :class:`~hyperloom.executor.Executor`, never from ``time`` or ``subprocess``
directly, so that the same loop drives local subprocesses, Ray, or a replay on a virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hyperloom._manager_lanes import Lanes
from hyperloom._manager_launch import LaunchMixin
from hyperloom._manager_lineage import CHECKPOINT_KEY, LineageMixin
from hyperloom._manager_resume import ResumeMixin, replay_records, replay_results
from hyperloom._manager_retry import is_retriable
from hyperloom._manager_stopping import StoppingMixin
from hyperloom._manager_types import (
    AssessorPart,
    Clock,
    Progress,
    RunningTrial,
    TunerPart,
    judged_result,
    named_series,
    padded_metrics,
)
from hyperloom.config import Config

if TYPE_CHECKING:
    from hyperloom.executor import Executor
from hyperloom.errors import ConfigError, StoreError
from hyperloom.types import (
    BEST_STATUSES,
    Decision,
    Objective,
    Report,
    Suggestion,
    TrialResult,
    TrialStatus,
    Verdict,
    named_value,
    outcome,
)

__all__ = ["Clock", "Manager", "Progress", "RunningTrial", "replay_records", "replay_results"]

log = logging.getLogger(__name__)


class Manager(LaunchMixin, LineageMixin, ResumeMixin, StoppingMixin):
    """Drives one experiment. Build it through :class:`hyperloom.experiment.Experiment`."""

    TICK = 0.25  # seconds between housekeeping checks when nothing happens
    GPU_SAMPLE_EVERY = 5.0  # seconds between per-trial GPU usage samples

    def __init__(
        self,
        config: Config,
        *,
        experiment_id: str,
        exp_dir: Path,
        store: Any,
        clock: Clock | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self._maximize = config.mode == "maximize"
        self.experiment_id = experiment_id
        self.exp_dir = exp_dir
        self.store = store
        self.clock = clock or Clock()
        self.on_progress = on_progress
        self.on_event = on_event
        self.running: dict[str, RunningTrial] = {}
        self.counts: dict[str, int] = {s.value: 0 for s in TrialStatus}
        self.best_value: float | None = None
        self.best_trial: str | None = None
        self.used_budget = 0
        self.exhausted = False
        self.stopping = False
        self.escalated = False
        self.stop_message = ""
        self.budget_ended = False  # the stop was maxExperimentDuration: a budget, so DONE
        self.failed = False  # a run-time failure of the tuner (the experiment ends FAILED)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._interrupts = 0
        self._prev_elapsed = 0.0
        self._run_start_mono = 0.0
        self._last_progress = 0.0
        self._gpu_task: asyncio.Future[Any] | None = None  # the GPU usage sampler in flight
        self._gpu_last = float("-inf")
        self._lanes = Lanes(self.clock)  # where tuner and assessor calls run (_manager_lanes)
        self._filler: asyncio.Task[None] | None = None  # _fill_slots as a task (real clocks)
        # trials whose executor.start is in flight: their events wait here, in order
        self._starting: dict[str, list[Any]] = {}
        self._tuner_reports = False  # the tuner overrides report() (set by build_parts)
        self._algo_errors: set[str] = set()  # tuner/assessor hooks that raised (logged once)
        self.tuner: TunerPart = cast("TunerPart", None)  # set by build_parts
        self.assessor: AssessorPart | None = None
        self._gpus = False  # trialGpuNumber set: the executor leases devices (use_devices)
        self.executor: Executor = cast("Executor", None)  # set by build_parts
        self._assess_takes_steps = False
        self._assess_takes_metrics = False  # assess(..., metrics=[...]): each report's metrics
        # (index, name) of the objective the assessor judges when it is not the first
        self._judged: tuple[int, str] | None = None
        self._inline_tuner = False  # a cheap tuner (inline_calls): called on the loop
        self._told_budget_spent = False  # tuner.budget_spent() called (no new trial can start)
        self._tuner_choice: tuple[str, Any] | None = None  # the last recorded (choice, reason)
        # a named first objective: a report's value is the metric of that name when it has one
        self._first_name = config.objectives[0].name if config.objectives else None
        self.objectives: tuple[Objective, ...] = config.objective_list
        self.store_error: str | None = None  # the store write that failed the experiment
        self._launch_failures: tuple[str, int] = ("", 0)  # (signature, how many in a row)
        self.paused: dict[str, RunningTrial] = {}  # PAUSED trials a scheduler may resume
        self.ckpt_steps: dict[str, int] = {}  # trial id -> its last committed checkpoint step
        self._checkpoints: Any = None  # the CheckpointManager, made on first commit
        self._resume_pending: dict[str, Suggestion] = {}  # resumes asked while still pausing

    # ------------------------------------------------------------------------------------------
    # construction of the parts

    def build_parts(self) -> None:
        """Loads tuner, assessor, device pool and executor (raising clear errors for bad config)."""
        from hyperloom import registry

        cfg = self.config
        targs = dict(cfg.tuner.class_args)
        targs["mode"] = cfg.mode
        if cfg.seed is not None and "seed" not in targs:
            targs["seed"] = cfg.seed
        if len(self.objectives) > 1:
            cls = registry.load("tuner", cfg.tuner.name, cfg.tuner.code_directory)
            if not getattr(cls, "multi_objective", False):
                raise ConfigError(
                    f"tuner {cfg.tuner.name!r} optimizes one objective; this experiment has "
                    f"{len(self.objectives)} ({', '.join(o.name for o in self.objectives)}). "
                    f"Use a multi-objective tuner (random, grid, tpe, evolution, gp) or one objective"
                )
            targs["objectives"] = self.objectives
        if cfg.constraints or cfg.max_trial_number:
            cls = registry.load("tuner", cfg.tuner.name, cfg.tuner.code_directory)
            if cfg.constraints and _names(cls, "constraints"):  # they prefer feasible regions
                targs["constraints"] = cfg.constraints
            if cfg.max_trial_number and _names(cls, "budget") and "budget" not in targs:
                targs["budget"] = cfg.max_trial_number  # e.g. auto picks its method by it
        # the NNI adapter's older form named its code directory in classArgs
        tuner_dir = targs.pop("code_directory", None) or cfg.tuner.code_directory
        self.tuner = registry.load_tuner(
            cfg.tuner.name, cfg.search_space, code_directory=tuner_dir, **targs
        )
        self._inline_tuner = getattr(type(self.tuner), "inline_calls", False) is True
        if cfg.assessor is not None:
            aargs = dict(cfg.assessor.class_args)
            judged = cfg.assessed_objective  # assessor.objective, else the first
            aargs.setdefault("mode", judged.mode)
            index = self.objectives.index(judged)
            self._judged = (index, judged.name) if index > 0 else None
            assessor_dir = aargs.pop("code_directory", None) or cfg.assessor.code_directory
            self.assessor = registry.load_assessor(
                cfg.assessor.name, code_directory=assessor_dir, **aargs
            )
            self._assess_takes_steps = _accepts(self.assessor.assess, "steps")
            self._assess_takes_metrics = _accepts(self.assessor.assess, "metrics")
        elif callable(getattr(self.tuner, "assess", None)):
            # a scheduler (multi-fidelity, PBT) is both: it judges the trials it suggested
            self.assessor = cast("AssessorPart", self.tuner)
            self._assess_takes_steps = _accepts(self.assessor.assess, "steps")
            self._assess_takes_metrics = _accepts(self.assessor.assess, "metrics")
        executor_cls = registry.load("executor", cfg.training_service.platform)
        self.executor = executor_cls(
            experiment_dir=self.exp_dir,
            emit=self._queue.put_nowait,
            channel=cfg.channel,
            options=dict(cfg.training_service.options),
        )
        if not getattr(self.executor, "ships_checkpoints", True) and (
            callable(getattr(self.tuner, "assess", None))
            or callable(getattr(self.tuner, "needed_checkpoints", None))
        ):
            self._say(
                f"note: the {cfg.training_service.platform!r} executor does not ship checkpoints "
                f"between nodes yet: paused and warm-started trials (PBT, promotion) find their "
                f"checkpoint only when the experiment directory {self.exp_dir} is on a file "
                f"system every node shares"
            )
        if cfg.trial_gpu_number is not None:  # the (local) executor owns the device pool
            self.executor.use_devices(functools.partial(_make_pool, cfg), cfg.trial_gpu_number)
            self._gpus = True
        own_clock = getattr(self.executor, "clock", None)
        if isinstance(own_clock, Clock):  # an executor that simulates time brings its clock
            self.clock = own_clock
        self._lanes = Lanes(self.clock)
        if self._inline_tuner:
            self._lanes.run_inline(self.tuner)
        from hyperloom.tuners._base import Tuner

        # only a tuner that does something with intermediate reports is sent them
        report = getattr(type(self.tuner), "report", None)
        self._tuner_reports = callable(report) and report is not Tuner.report

    # ------------------------------------------------------------------------------------------
    # public entry

    async def run(self, *, resume: bool = False) -> str:
        """Runs until the budget is used, the space is exhausted or a stop is requested.
        Returns the final experiment status."""
        loop = asyncio.get_running_loop()
        self._run_start_mono = self.clock.monotonic()
        installed = self._install_signals(loop)
        status = "FAILED"
        try:
            await self.executor.open()
            if self.simulated and hasattr(self.store, "group_writes"):
                self.store.group_writes()  # no process to survive a crash: commit in groups
            self.store.set_experiment_status("RUNNING")
            self.store.add_event("run_start", None, {"resume": resume}, self.clock.now())
            if resume:
                await self._resume()
            self._emit_progress(force=True)
            await self._main_loop()
            if not self.stopping:
                await self._end_paused()
            status = (
                "FAILED"
                if self.failed
                else "STOPPED"
                if self.stopping and not self.budget_ended
                else "DONE"
            )
        except StoreError as e:
            # disk full, a lock held elsewhere: one clear line, FAILED; what was recorded stays
            self.store_error = str(e)
            self.failed, self.stopping = True, True
            self.stop_message = str(e)
            self._say(f"stopping: {e}")
            log.error("%s", e)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            try:
                await self._shutdown()
            except StoreError as e:
                self.store_error = self.store_error or str(e)
                status = "FAILED"
            run_elapsed = (
                self.clock.monotonic() - self._run_start_mono
            )  # this run only; resume sums them
            with contextlib.suppress(StoreError):
                self.store.add_event(
                    "run_end", None, {"elapsed": run_elapsed, "status": status}, self.clock.now()
                )
                self.store.set_experiment_status(status, message=self.stop_message or None)
            self._emit_progress(force=True)
        return status

    # ------------------------------------------------------------------------------------------
    # the loop

    async def _main_loop(self) -> None:
        while True:
            if not self.stopping:
                await self._fill()
            if (
                not self.running
                and not self._filling()
                and (
                    self.stopping
                    or (self._no_more_trials() and (self.exhausted or not self.paused))
                )
            ):
                break
            timeout = self._next_wakeup()
            ev = await self.clock.wait(self._queue, timeout)
            while ev is not None or not self._queue.empty():
                if ev is not None:
                    await self._handle(ev)
                    if len(self.running) < self.config.trial_concurrency and not self.stopping:
                        await self._fill()  # a freed slot is filled before more reports
                ev = self._queue.get_nowait() if not self._queue.empty() else None
            self._check_deadlines()
            self._sample_gpus()
            self._emit_progress()

    async def _fill(self) -> None:
        """Fills free slots. On a virtual clock, right here (deterministic, and nothing else
        happens in virtual time meanwhile). Otherwise as a task, so that the loop goes on
        recording reports and exits while the tuner thinks; its end wakes the loop."""
        if self._lanes.inline:
            await self._fill_slots()
            return
        if self._filling():
            return
        if self._filler is not None:  # done: what it raised (a store error) ends the run
            filler, self._filler = self._filler, None
            if not filler.cancelled() and filler.exception() is not None:
                raise cast(BaseException, filler.exception())
        if not self._can_fill():
            return

        def state() -> tuple[Any, ...]:
            return (
                self.used_budget,
                self.exhausted,
                self.stopping,
                len(self.running),
                len(self.paused),
            )

        async def fill() -> None:
            before = state()
            try:
                await self._fill_slots()
            finally:
                if state() != before:  # wake the loop: slots, budget or the end changed
                    self._queue.put_nowait(None)  # (a "not now" waits for the next event)

        self._filler = asyncio.ensure_future(fill())

    def _can_fill(self) -> bool:
        """A slot is free, and a trial may be started or a paused one resumed."""
        return (
            len(self.running) < self.config.trial_concurrency
            and not self.stopping
            and (not self._no_more_trials() or (bool(self.paused) and not self.exhausted))
        )

    def _filling(self) -> bool:
        return self._filler is not None and not self._filler.done()

    def _budget_left(self) -> bool:
        cfg = self.config
        if cfg.max_trial_number is not None and self.used_budget >= cfg.max_trial_number:
            return False
        return cfg.max_experiment_duration is None or self._elapsed() < cfg.max_experiment_duration

    def _no_more_trials(self) -> bool:
        return self.exhausted or not self._budget_left()

    def _elapsed(self) -> float:
        return self._prev_elapsed + self.clock.monotonic() - self._run_start_mono

    def _next_wakeup(self) -> float:
        t = float(getattr(self.clock, "tick", self.TICK))
        now = self.clock.monotonic()
        for rt in self.running.values():
            for d in (rt.deadline, rt.kill_at):
                if d is not None:
                    t = min(t, max(d - now, 0.0))
        return t

    # ------------------------------------------------------------------------------------------
    # events

    async def _handle(self, ev: Any) -> None:
        from hyperloom.executor import TrialExited, TrialMessage, TrialRejected

        early = self._starting.get(getattr(ev, "trial_id", None) or "")
        if early is not None:  # its start has not returned yet (see _early_events)
            early.append(ev)
            return
        if isinstance(ev, TrialMessage):
            await self._on_message(ev)
        elif isinstance(ev, TrialRejected):
            log.warning("trial %s: rejected a channel message: %s", ev.trial_id, ev.reason)
            self.store.add_event(
                "channel_reject", ev.trial_id, {"reason": ev.reason[:500]}, self.clock.now()
            )
        elif isinstance(ev, TrialExited):
            await self._on_exit(ev)
        elif callable(ev):
            got = ev()
            if asyncio.iscoroutine(got):
                await got

    async def _on_message(self, ev: Any) -> None:
        rt = self.running.get(ev.trial_id)
        msg = ev.message
        if rt is None:
            return
        if self._repeat(rt, msg):
            # socket trials journal every line to metrics.jsonl too: after a resume the file
            # repeats what the socket had delivered; the store already holds it
            self.store.set_offset(rt.trial_id, ev.offset)
            return
        if rt.final_seen:
            self.store.add_event(
                "channel_reject",
                rt.trial_id,
                {"reason": f"{msg.type} report after the final one ignored"},
                self.clock.now(),
            )
            self.store.set_offset(rt.trial_id, ev.offset)
            return
        if msg.type == "final":
            rt.final_seen = True
            rt.final = msg.value
            rt.final_metrics = dict(msg.metrics or {})
            self.store.set_final(rt.trial_id, msg.value, rt.final_metrics, msg.t, ev.offset)
            return
        step = msg.step if msg.step is not None else rt.next_step
        rt.next_step = step + 1
        metrics = dict(msg.metrics or {})
        committed = metrics.pop(CHECKPOINT_KEY, None) is True
        value = named_value(msg.value, metrics, self._first_name)
        rt.intermediate.append(value)
        rt.steps.append(step)
        rt.seen.add(step)
        rt.report_metrics.append(metrics)
        self.store.add_metric(rt.trial_id, step, value, metrics, msg.t, ev.offset)
        if committed:
            await self._commit_checkpoint(rt, step, msg.t)
        if self._tuner_reports:
            self._lanes.fire(
                self.tuner, self.tuner.report, rt.trial_id, step, value,
                on_error=functools.partial(self._algo_failed, "tuner.report", rt.trial_id),
            )  # fmt: skip
        history, steps = list(rt.intermediate), list(rt.steps)
        metrics_seen = padded_metrics(rt.report_metrics, len(rt.steps))
        if self._judged is not None:  # the assessor judges another objective: its series
            steps, history = named_series(self._judged[1], steps, metrics_seen)
            metrics_seen = [m for m in metrics_seen if self._judged[1] in m][-len(steps) :]
            if not steps or steps[-1] != step:
                return  # this report does not carry the judged objective
        if self.assessor is not None and rt.stop_status is None:
            args: tuple[Any, ...] = (rt.trial_id, history)
            if self._assess_takes_steps:
                args = (*args, steps)
            call: Callable[..., Any] = self.assessor.assess
            if self._assess_takes_metrics:
                call = functools.partial(call, metrics=metrics_seen)
            assessor = self.assessor

            def judge(*a: Any) -> tuple[Verdict, str]:
                return _decision(call(*a), assessor)  # v1's last_reason, read in the same call

            # a broken assessor must not take the experiment down: its trial goes on
            self._lanes.fire(
                assessor, judge, *args,
                on_error=functools.partial(self._algo_failed, "assessor.assess", rt.trial_id),
                then=functools.partial(self._on_verdict, rt, step),
            )  # fmt: skip

    def _on_verdict(self, rt: RunningTrial, step: int, decision: tuple[Verdict, str]) -> None:
        """Applies a verdict now when the call ran inline (we are in the loop's handling of the
        report), else as the loop's next event, where a store error ends the run cleanly."""
        if self._lanes.inline:
            self._apply_verdict(rt, step, decision)
        else:
            self._queue.put_nowait(functools.partial(self._apply_verdict, rt, step, decision))

    def _apply_verdict(self, rt: RunningTrial, step: int, decision: tuple[Verdict, str]) -> None:
        """An assessor's answer for ``rt``'s report at ``step``: STOP and PAUSE begin its stop
        (unless it ended, or is stopping, meanwhile)."""
        verdict, reason = decision
        if verdict not in (Verdict.STOP, Verdict.PAUSE):
            return
        if rt.stop_status is not None or self.running.get(rt.trial_id) is not rt:
            return
        self.store.add_event(
            "assessor",
            rt.trial_id,
            {
                "verdict": verdict.value,
                "reason": reason,
                "step": step,
                "assessor": self.config.assessor.name if self.config.assessor else "",
            },
            self.clock.now(),
        )
        if verdict == Verdict.PAUSE:
            self._begin_stop(rt, TrialStatus.PAUSED, f"paused: {reason}")
        else:
            self._begin_stop(rt, TrialStatus.EARLY_STOPPED, f"assessor: {reason}")

    def _repeat(self, rt: RunningTrial, msg: Any) -> bool:
        """Whether a socket trial's message is the journal's copy of one already recorded: a
        metric step seen before, or the final value again."""
        if self.config.channel == "file":
            return False
        if msg.type == "final":
            return rt.final_seen and msg.value == rt.final
        return msg.step is not None and msg.step in rt.seen

    async def _on_exit(self, ev: Any) -> None:
        rt = self.running.get(ev.trial_id)
        if rt is None:
            return
        code = ev.exit_code
        if not self.stopping and is_retriable(rt, code, ev.reason, self.config.max_trial_retries):
            await self._retry(rt, ev.reason)
            return
        # a re-attached trial is not our child: its exit code is unknown, its final value is not
        await self._finish(rt, None, exit_code=code, reason=ev.reason, reattached=rt.final_seen)

    async def _finish(
        self,
        rt: RunningTrial,
        status: TrialStatus | None,
        *,
        exit_code: int | None,
        reason: str | None,
        reattached: bool = False,
    ) -> None:
        """Ends a trial. ``status`` None: :func:`~hyperloom.types.outcome` decides from what the
        trial did; a status forces it (a launch failure), and the value still follows the rule.
        A trial whose pause was asked is PAUSED instead (the rule says so; see _manager_lineage)."""
        ruled, values, ruled_reason = outcome(
            exit_code=exit_code,
            final=rt.final if rt.final_seen else None,
            final_metrics=rt.final_metrics,
            intermediate=rt.intermediate,
            stop_status=status if status is not None else rt.stop_status,
            stop_reason=reason if status is not None else rt.stop_reason,
            exit_reason=reason,
            objectives=self.objectives,
            reattached=reattached,
            last_metrics=rt.report_metrics[-1] if rt.report_metrics else None,
        )
        if ruled == TrialStatus.PAUSED:  # it holds no slot and is not observed until it ends
            await self._pause(rt)
            return
        if self.running.pop(rt.trial_id, None) is not None:
            self.counts[TrialStatus.RUNNING.value] -= 1
        elif self.paused.pop(rt.trial_id, None) is not None:
            self.counts[TrialStatus.PAUSED.value] -= 1
        if rt.kill_task is not None and not rt.kill_task.done():
            rt.kill_task.cancel()
        self._release(rt.trial_id)
        if status == TrialStatus.FAILED:
            values = None  # a failed trial's numbers never count
        status, reason = ruled, ruled_reason
        value = values[0] if values else None
        ended = self.clock.now()
        self.store.finish_trial(
            rt.trial_id,
            status,
            ended=ended,
            exit_code=exit_code,
            reason=reason,
            value=value,
            values=values,
        )
        if status == TrialStatus.CANCELED and rt.trial_id:
            self.used_budget -= 1  # user-canceled trials give their budget back
        self.counts[status.value] += 1
        if status == TrialStatus.FAILED and reason:
            self._say(f"trial {rt.trial_id} (#{rt.sequence}) failed: {reason[:200]}")
        self._count_launch_failure(rt, status, reason, exit_code)
        self._note_best(status, value, rt.trial_id)
        result = TrialResult(
            trial_id=rt.trial_id,
            params=rt.params,
            status=status,
            value=value,
            intermediate=tuple(rt.intermediate),
            sequence=rt.sequence,
            metrics=rt.final_metrics,
            values=values,
            reports=tuple(Report(s, v) for s, v in zip(rt.steps, rt.intermediate, strict=False)),
            parent=rt.parent,
            duration=ended - rt.started,  # as resume computes it from the stored times
        )
        judged = None
        if self._judged is not None:
            steps, vals = named_series(
                self._judged[1], rt.steps, padded_metrics(rt.report_metrics, len(rt.steps))
            )
            judged = judged_result(result, self._judged[0], list(zip(steps, vals, strict=True)))
        await self._observe(result, judged=judged)
        await self._collect_checkpoints()
        self._emit_progress(force=True)

    async def _observe(
        self, result: TrialResult, *, inline: bool = False, judged: TrialResult | None = None
    ) -> None:
        """Gives an ended trial to the tuner (off the loop, unless ``inline``: the resume replay,
        when no trial runs and a thread hop per trial would only cost time) and the assessor
        (``judged``: the trial as an assessor of another objective than the first sees it)."""
        tid = result.trial_id
        if inline:
            try:
                self.tuner.observe(result)
            except Exception:
                log.exception("tuner.observe failed for trial %s", tid)
        else:  # queued on the tuner's lane: after what it was asked before, before what next
            self._lanes.fire(
                self.tuner, self.tuner.observe, result,
                on_error=functools.partial(self._algo_failed, "tuner.observe", tid),
            )  # fmt: skip
        if self.assessor is not None and self.assessor is not cast(Any, self.tuner):
            seen = judged if judged is not None else result
            if inline:
                try:
                    self.assessor.observe(seen)
                except Exception:
                    log.exception("assessor.observe failed for trial %s", tid)
            else:
                self._lanes.fire(
                    self.assessor, self.assessor.observe, seen,
                    on_error=functools.partial(self._algo_failed, "assessor.observe", tid),
                )  # fmt: skip

    def _note_tuner_choice(self) -> None:
        """Records a tuner's explained choice (``auto``: ``choice``, ``reason``) as a
        ``tuner_choice`` event when it changes, for ``status`` and the dashboard."""
        choice = getattr(self.tuner, "choice", None)
        reason = getattr(self.tuner, "reason", None)
        if not isinstance(choice, str) or (choice, reason) == self._tuner_choice:
            return
        self._tuner_choice = (choice, reason)
        self.store.add_event(
            "tuner_choice", None, {"choice": choice, "reason": reason}, self.clock.now()
        )

    def _algo_failed(self, what: str, trial_id: str, exc: BaseException | None = None) -> None:
        """Logs a tuner/assessor hook that raised (``exc``, else the exception being handled):
        the traceback once per hook, then at debug."""
        info: BaseException | bool = exc if exc is not None else True
        if what in self._algo_errors:
            log.debug("%s failed again for trial %s", what, trial_id, exc_info=info)
            return
        self._algo_errors.add(what)
        log.error(
            "%s failed for trial %s; the trial goes on (further failures at debug level)",
            what,
            trial_id,
            exc_info=info,
        )
        self._say(f"{what} raised an exception (trial {trial_id}); ignored, see manager.log")

    def _note_best(self, status: TrialStatus, value: float | None, trial_id: str) -> None:
        if status not in BEST_STATUSES or value is None:
            return
        if self.best_value is None or self._better(value, self.best_value):
            self.best_value, self.best_trial = value, trial_id

    def _better(self, a: float, b: float) -> bool:
        return a > b if self._maximize else a < b

    # ------------------------------------------------------------------------------------------
    # progress

    def _say(self, text: str) -> None:
        log.info(text)
        if self.on_event is not None:
            self.on_event(text)

    def progress(self) -> Progress:
        return Progress(
            experiment_id=self.experiment_id,
            counts=dict(self.counts),
            running=len(self.running),
            best_value=self.best_value,
            best_trial=self.best_trial,
            elapsed=self._elapsed(),
            max_duration=self.config.max_experiment_duration,
            max_trials=self.config.max_trial_number,
            started_trials=self.used_budget,
            stopping=self.stopping,
            message=self.stop_message,
        )

    def _emit_progress(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock.monotonic()
        if force or now - self._last_progress >= 0.25:
            self._last_progress = now
            self.on_progress(self.progress())


def _make_pool(cfg: Config) -> Any:
    """A device pool when GPUs are scheduled (trialGpuNumber set), else None."""
    if cfg.trial_gpu_number is None:
        return None
    try:
        from hyperloom.devices import DevicePool
    except ImportError:
        return None
    ts = cfg.training_service
    pool = DevicePool.from_config(
        trial_gpu_number=cfg.trial_gpu_number,
        gpu_indices=list(ts.gpu_indices) if ts.gpu_indices is not None else None,
        max_trials_per_gpu=ts.max_trial_number_per_gpu,
        use_active_gpu=ts.use_active_gpu,
        fake=ts.fake_gpus,
    )
    pool.check_request(cfg.trial_gpu_number)
    return pool


def _decision(got: Any, assessor: Any) -> tuple[Verdict, str]:
    """An assessor's answer as ``(verdict, reason)``: a Decision, or a bare Verdict with v1's
    ``last_reason`` attribute as its reason."""
    if isinstance(got, Decision):
        return got.verdict, got.reason or "stopped early by the assessor"
    verdict = got if isinstance(got, Verdict) else Verdict.CONTINUE
    return verdict, getattr(assessor, "last_reason", "") or "stopped early by the assessor"


def _names(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` names a parameter ``name`` itself (``**kwargs`` does not count)."""
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes a parameter called ``name`` (or ``**kwargs``)."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(
        p.name == name or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        for p in sig.parameters.values()
    )
