"""The in-process executor: a Python function run as trials, in threads of the manager's process.

What `hyperloom.optimize(fn, ..., isolation="inprocess")` runs on. Each trial calls the function
in a worker thread (daemon threads, started as needed and reused); an ``async def`` function
runs as a task on the manager's loop instead. What it reports reaches the manager as the same
`TrialMessage` / `TrialExited` events a subprocess's channel gives, so the manager, tuners,
assessors and store are unchanged.

Options (``trainingService``): ``key`` (the function registered in this process with
`register_function`), ``function`` (``module:qualname``, imported when no function is registered
under ``key``: a resume from the CLI), ``path`` (where ``function`` is imported from),
``objectives`` (the objective names, to map a returned tuple). Threads cannot be killed: a kill
first waits ``grace`` seconds for the function to return (it sees ``trial.should_stop()``), then
abandons it: the trial ends at once, what the thread does later is dropped, and its next
``trial.report`` raises `TrialKilled` to unwind it. What a trial prints goes where it went
before and to the trial's ``stdout.log`` / ``stderr.log`` (``hyperloom._inproc_streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hyperloom._inproc_streams import tee_installed, trial_output
from hyperloom._optimize_common import Trial, TrialKilled, final_report, load_ref, takes_trial
from hyperloom.channel import Message
from hyperloom.errors import ConfigError, HyperloomError
from hyperloom.executor import Executor, ExecutorEvent, LaunchSpec, TrialExited, TrialMessage

__all__ = ["InProcessExecutor", "register_function", "registered_function", "unregister_function"]

logger = logging.getLogger(__name__)

_FUNCTIONS: dict[str, Callable[..., Any]] = {}
_FUNCTIONS_LOCK = threading.Lock()


def register_function(fn: Callable[..., Any], key: str | None = None) -> str:
    """Makes ``fn`` known to in-process executors of this process under ``key`` (a new random
    key when None); returns the key to put in the executor's options."""
    key = key or uuid.uuid4().hex
    with _FUNCTIONS_LOCK:
        _FUNCTIONS[key] = fn
    return key


def unregister_function(key: str) -> None:
    """Forgets the function registered under ``key`` (its experiment ended in this process)."""
    with _FUNCTIONS_LOCK:
        _FUNCTIONS.pop(key, None)


def registered_function(key: str) -> Callable[..., Any] | None:
    """The function registered under ``key`` in this process, or None."""
    with _FUNCTIONS_LOCK:
        return _FUNCTIONS.get(key)


class _Job:
    """One running attempt of a trial."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.stop_requested = False
        self.ended = False  # its TrialExited was emitted (or it was abandoned)
        self.done = asyncio.Event()  # the function returned (set on the loop)
        self.task: asyncio.Task[None] | None = None


class InProcessExecutor(Executor):
    """Runs a Python function as trials, in threads (or loop tasks for ``async def``)."""

    ships_checkpoints = True  # the trials run where the experiment directory is

    def __init__(
        self,
        *,
        experiment_dir: Path,
        emit: Callable[[ExecutorEvent], None],
        channel: str = "file",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(experiment_dir=experiment_dir, emit=emit, channel=channel, options=options)
        opts = self.options
        key, ref = opts.get("key"), opts.get("function")
        fn = registered_function(str(key)) if key else None
        if fn is None:
            fn = self._import(ref)
        self.fn = fn
        self._with_trial = takes_trial(fn)
        self._async = inspect.iscoroutinefunction(fn)
        self._objectives = [str(n) for n in (opts.get("objectives") or [])]
        self._jobs: dict[str, _Job] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # worker threads wait here; a new one is started when none is idle (a thread costs
        # milliseconds to start on a busy machine, a queue hand-over microseconds)
        self._work: queue.SimpleQueue[tuple[_Job, Trial] | None] = queue.SimpleQueue()
        self._idle = 0
        self._idle_lock = threading.Lock()
        self._workers = 0
        self._tee: contextlib.ExitStack | None = None  # prints of trials reach their logs too

    def _import(self, ref: Any) -> Callable[..., Any]:
        if not isinstance(ref, str) or not ref or ref.startswith("__main__:"):
            what = (
                "a function that another process cannot import (a lambda, a closure, a function "
                "of the script that called optimize, or one typed in a notebook)"
            )
            raise ConfigError(
                f"this experiment runs {what} in process, and this process does not have it: "
                f"resume it from Python with hyperloom.optimize(fn, resume=ID), giving the "
                f"function again"
            )
        for p in reversed([str(x) for x in self.options.get("path") or []]):
            if p not in sys.path:
                sys.path.insert(0, p)
        try:
            return load_ref(ref)
        except Exception as e:
            raise ConfigError(
                f"trainingService.function {ref!r}: cannot import it: {type(e).__name__}: {e}. "
                f"Resume from Python with hyperloom.optimize(fn, resume=ID) instead"
            ) from None

    # ------------------------------------------------------------------------------------------
    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._tee is None:
            self._tee = contextlib.ExitStack()
            self._tee.enter_context(tee_installed())

    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        if self._loop is None:
            await self.open()
        job = _Job(spec)
        old = self._jobs.get(spec.trial_id)
        if old is not None:  # a new attempt: the old one is forgotten
            old.ended = True
        self._jobs[spec.trial_id] = job
        trial = self._trial(job)
        if self._async:
            job.task = asyncio.ensure_future(self._run_task(job, trial))
            return {"pid": None, "inprocess": "task"}
        with self._idle_lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        if spawn:
            self._workers += 1
            name = f"hyperloom-inproc-{self._workers}"
            threading.Thread(target=self._worker, name=name, daemon=True).start()
        self._work.put((job, trial))
        return {"pid": None, "inprocess": "thread"}

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            job, trial = item
            outcome = self._run(job, trial)
            with self._idle_lock:  # idle before the manager hears of the end (and starts more)
                self._idle += 1
            self._post(job, outcome)

    def _trial(self, job: _Job) -> Trial:
        spec, loop = job.spec, self._loop
        assert loop is not None
        ckpt = spec.env.get("HYPERLOOM_CHECKPOINT_DIR")

        def send(value: float, step: int, metrics: dict[str, Any]) -> None:
            if job.ended:
                raise TrialKilled(f"trial {spec.trial_id} was already ended by the manager")
            msg = Message("metric", value, step, metrics, time.time())
            with contextlib.suppress(RuntimeError):  # the loop is gone: the experiment ended
                loop.call_soon_threadsafe(self._deliver, job, msg)

        return Trial(
            trial_id=spec.trial_id,
            number=spec.sequence,
            experiment_id=spec.experiment_id,
            params=dict(spec.params),
            trial_dir=Path(spec.trial_dir),
            send=send,
            stopped=lambda: job.stop_requested or job.ended,
            start_step=spec.start_step,
            checkpoint_dir=Path(ckpt) if ckpt else None,
            restore_dir=spec.restore_dir,
        )

    def _call(self, trial: Trial) -> Any:
        params = dict(trial.params)
        with trial_output(trial.trial_dir):
            return self.fn(params, trial) if self._with_trial else self.fn(params)

    async def _call_async(self, trial: Trial) -> Any:
        params = dict(trial.params)
        with trial_output(trial.trial_dir):
            if self._with_trial:
                return await self.fn(params, trial)
            return await self.fn(params)

    def _run(self, job: _Job, trial: Trial) -> tuple[str, Any]:
        try:
            return ("ok", self._call(trial))
        except TrialKilled:
            return ("killed", None)
        except BaseException as e:
            return ("error", self._failure(job, e))

    def _post(self, job: _Job, outcome: tuple[str, Any]) -> None:
        loop = self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone: the trial was abandoned
            loop.call_soon_threadsafe(self._finish, job, outcome)

    async def _run_task(self, job: _Job, trial: Trial) -> None:
        try:
            outcome: tuple[str, Any] = ("ok", await self._call_async(trial))
        except (TrialKilled, asyncio.CancelledError):
            outcome = ("killed", None)
        except BaseException as e:  # as in a thread: the trial FAILED, not the loop
            outcome = ("error", self._failure(job, e))
        assert self._loop is not None  # after the reports it queued (call_soon keeps the order)
        self._loop.call_soon(self._finish, job, outcome)

    def _failure(self, job: _Job, e: BaseException) -> str:
        """Writes the traceback to the trial's stderr.log; returns the trial's reason."""
        log = Path(job.spec.trial_dir) / "stderr.log"
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        try:
            with open(log, "a", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            logger.warning("trial %s: cannot write %s: %s", job.spec.trial_id, log, err)
        first = (str(e).strip().splitlines() or [""])[0][:300]
        return f"{type(e).__name__}: {first}" if first else type(e).__name__

    # ------------------------------------------------------------------------------------------
    # on the loop's thread

    def _live(self, job: _Job) -> bool:
        return not job.ended and self._jobs.get(job.spec.trial_id) is job

    def _deliver(self, job: _Job, msg: Message) -> None:
        if self._live(job):
            self._emit(TrialMessage(job.spec.trial_id, msg, 0))

    def _finish(self, job: _Job, outcome: tuple[str, Any]) -> None:
        job.done.set()
        if not self._live(job):
            return
        tid = job.spec.trial_id
        kind, got = outcome
        code, reason = 0, None
        if kind == "ok":
            try:
                final = final_report(got, self._objectives)
            except (ValueError, HyperloomError) as e:
                code, reason = 1, str(e)
                log = Path(job.spec.trial_dir) / "stderr.log"
                with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as f:
                    f.write(f"hyperloom: {reason}\n")
            else:
                if final is not None:
                    msg = Message("final", final[0], None, final[1], time.time())
                    self._emit(TrialMessage(tid, msg, 0))
        elif kind == "killed":
            code, reason = -9, "stopped: the function unwound (TrialKilled)"
        else:
            # no trial-specific path: identical failures read alike (maxLaunchFailures)
            code, reason = 1, f"{got} (traceback in the trial's stderr.log)"
        self._end(job, code, reason)

    def _end(self, job: _Job, code: int, reason: str | None) -> None:
        job.ended = True
        if self._jobs.get(job.spec.trial_id) is job:
            del self._jobs[job.spec.trial_id]
        self._emit(TrialExited(job.spec.trial_id, code, reason))

    async def reattach(self, spec: LaunchSpec, handle: Mapping[str, Any], offset: int) -> bool:
        return False  # a thread does not outlive its manager

    async def request_stop(self, trial_id: str) -> None:
        job = self._jobs.get(trial_id)
        if job is not None:
            job.stop_requested = True

    async def kill(self, trial_id: str, *, grace: float) -> None:
        """Waits up to ``grace`` seconds for the function to return after a stop request, then
        abandons it (a thread cannot be killed); returns after the trial's `TrialExited`."""
        job = self._jobs.get(trial_id)
        if job is None:
            return
        job.stop_requested = True
        if job.task is not None:
            job.task.cancel()
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.done.wait(), grace)
        if self._live(job):
            what = "task was cancelled" if job.task is not None else "thread is abandoned"
            logger.warning("trial %s did not return after a stop; its %s", trial_id, what)
            self._end(job, -9, f"killed by hyperloom: it did not return after a stop (its {what})")

    async def close(self, *, grace: float) -> None:
        await asyncio.gather(*(self.kill(t, grace=grace) for t in list(self._jobs)))
        for _ in range(self._workers):  # idle workers end; abandoned ones end when they return
            self._work.put(None)
        if self._tee is not None:
            self._tee.close()
            self._tee = None
