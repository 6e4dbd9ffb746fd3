"""The manager's small parts: its clock, what it tracks per running trial, progress snapshots,
and the helpers that prepare a trial's launch. Re-exported by :mod:`hyperloom.manager`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hyperloom.types import Decision, TrialResult, TrialStatus, Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

T = TypeVar("T")

__all__ = ["AssessorPart", "Clock", "Progress", "RunningTrial", "TunerPart", "trial_id_for"]


class TunerPart(Protocol):
    """What the manager needs of a tuner (a scheduler adds ``assess``; optional hooks —
    ``forget``, ``checkpointed``, ``needed_checkpoints``, ``restore_paused`` — are looked up with
    ``getattr``)."""

    def suggest(self, trial_id: str) -> Any: ...
    def observe(self, result: TrialResult) -> None: ...
    def report(self, trial_id: str, step: int, value: float) -> None: ...


class AssessorPart(Protocol):
    """What the manager needs of an assessor (``steps`` is passed only when ``assess`` takes it)."""

    def assess(
        self, trial_id: str, history: Sequence[float], /, *args: Any
    ) -> Verdict | Decision: ...
    def observe(self, result: TrialResult) -> None: ...


class Clock:
    """The manager's only source of time: wall-clock time, and the wait for the next event.

    A simulator substitutes a clock whose ``wait`` jumps ahead instead of sleeping; the manager
    never calls ``time`` or ``asyncio.sleep`` itself.
    """

    inline_calls = False
    """Whether tuner and assessor calls run on the loop (a virtual clock: nothing else happens
    meanwhile in virtual time), instead of on their lanes' threads (see _manager_lanes)."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    tick = 0.25  # seconds between the loop's housekeeping checks when nothing happens

    def thinking(self) -> contextlib.AbstractContextManager[None]:
        """Wraps a tuner or assessor call; a virtual clock may charge its duration."""
        return contextlib.nullcontext()

    async def wait(self, queue: asyncio.Queue[Any], timeout: float) -> Any:
        """The next event from ``queue``, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return None


def padded_metrics(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The last ``n`` reports' metrics, with empty ones in front for reports whose metrics are
    not in memory (a trial re-attached or reloaded after a restart)."""
    return [{}] * max(0, n - len(items)) + items[-n:] if n else []


def named_series(
    name: str, steps: list[int], metrics: list[dict[str, Any]]
) -> tuple[list[int], list[float]]:
    """The ``(steps, values)`` of one named objective over a trial's reports: the reports whose
    metrics carry it as a finite number (an assessor that judges an objective other than the
    first sees only those)."""
    out_steps: list[int] = []
    out_values: list[float] = []
    for step, m in zip(steps[-len(metrics) :] if metrics else [], metrics, strict=False):
        v = m.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out_steps.append(step)
            out_values.append(float(v))
    return out_steps, out_values


def judged_result(result: TrialResult, index: int, series: list[tuple[int, float]]) -> TrialResult:
    """``result`` as an assessor that judges objective ``index`` sees it: that objective's value
    and intermediate series."""
    from dataclasses import replace

    from hyperloom.types import Report

    value = result.values[index] if result.values and len(result.values) > index else None
    return replace(
        result,
        value=value,
        values=None if value is None else (value,),
        intermediate=tuple(v for _s, v in series),
        reports=tuple(Report(s, v) for s, v in series),
    )


def trial_id_for(sequence: int) -> str:
    """The id of the trial with this sequence number: readable, collision-free, reproducible
    (``T0001``, ``T0002``, ... ``T12345``; upper case never collides with v1's random ids)."""
    return f"T{sequence:04d}"


@dataclass
class RunningTrial:
    """What the manager tracks for a trial that was started and has not ended."""

    trial_id: str
    sequence: int
    params: dict[str, Any]
    started: float
    started_mono: float
    deadline: float | None  # monotonic time of maxTrialDuration, or None
    intermediate: list[float] = field(default_factory=list)
    final: float | None = None
    final_metrics: dict[str, Any] = field(default_factory=dict)
    final_seen: bool = False
    next_step: int = 0
    stop_status: TrialStatus | None = None  # why the manager stopped it
    stop_reason: str | None = None
    kill_at: float | None = None  # monotonic time after which it is killed
    kill_task: asyncio.Task[None] | None = None
    pids: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # the step of each intermediate value
    seen: set[int] = field(default_factory=set)
    report_metrics: list[dict[str, Any]] = field(
        default_factory=list
    )  # per report, in order  # the steps already recorded (dedupe)
    attempt: int = 1  # 2 and more: started again after its node was lost (maxTrialRetries)
    parent: str | None = None  # the trial it was warm-started from
    start_step: int = 0  # the first step of this run (a restored checkpoint's step + 1)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    experiment_id: str
    counts: dict[str, int]
    running: int
    best_value: float | None
    best_trial: str | None
    elapsed: float
    max_duration: float | None
    max_trials: int | None
    started_trials: int
    stopping: bool
    message: str = ""


def launch_spec(
    cfg: Any,
    exp_dir: Path,
    experiment_id: str,
    trial_id: str,
    sequence: int,
    params: dict[str, Any],
    *,
    start_step: int = 0,
    restore_dir: Path | None = None,
) -> Any:
    """A trial's `~hyperloom.executor.LaunchSpec`: its templated command and environment
    (the checkpoint variables: where it saves, what it restores, the step it continues from;
    the executor that leased the trial devices adds ``CUDA_VISIBLE_DEVICES``)."""
    from hyperloom.executor import LaunchSpec
    from hyperloom.launch import prepare_launch

    trial_dir = exp_dir / "trials" / trial_id
    command, extra_env = prepare_launch(
        cfg,
        params=params,
        trial_id=trial_id,
        trial_dir=trial_dir,
        experiment_id=experiment_id,
        sequence=sequence,
    )
    env = {
        "PATH": _trial_path(),
        "HYPERLOOM_TRIAL_ID": trial_id,
        "HYPERLOOM_EXPERIMENT_ID": experiment_id,
        "HYPERLOOM_TRIAL_DIR": str(trial_dir),
        "HYPERLOOM_TRIAL_SEQUENCE": str(sequence),
        "HYPERLOOM_CHECKPOINT_DIR": str(trial_dir / "checkpoint"),
        "HYPERLOOM_START_STEP": str(start_step),
        **extra_env,
    }
    if restore_dir is not None:
        env["HYPERLOOM_RESTORE_DIR"] = str(restore_dir)
    return LaunchSpec(
        trial_id=trial_id,
        experiment_id=experiment_id,
        sequence=sequence,
        command=command,
        cwd=cfg.trial_code_directory,
        trial_dir=trial_dir,
        env=env,
        params=params,
        start_step=start_step,
        restore_dir=restore_dir,
    )


def _trial_path() -> str:
    """PATH for trials: the manager's interpreter directory first, so that ``python`` in a trial
    command is the interpreter hyperloom runs under (as if its venv were activated)."""
    import os
    import sys

    path = os.environ.get("PATH", "")
    bindir = os.path.dirname(sys.executable)
    parts = path.split(os.pathsep) if path else []
    if parts and parts[0] == bindir:
        return path
    return os.pathsep.join([bindir, *[p for p in parts if p != bindir]])


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """A tuner's suggestion as plain JSON values (numpy scalars become Python numbers), as it will
    be written to ``params.json`` and the store. TypeError for anything else JSON cannot hold."""

    def default(o: Any) -> Any:
        if hasattr(o, "item") and callable(o.item):
            return o.item()
        raise TypeError(
            f"parameter value {o!r} of type {type(o).__name__} is not JSON-serializable"
        )

    plain: dict[str, Any] = json.loads(json.dumps(params, default=default))
    return plain
