"""Executors start trials, deliver what they report, and end them.

`Executor` is the seam between the manager loop and wherever trials run; `LocalExecutor` runs
each trial as a local subprocess in its own session. Events reach the manager through the
``emit`` callback, always on the loop's thread, and every accepted message of a trial is emitted
before that trial's `TrialExited`.

`LocalExecutor` lives in ``hyperloom._executor_local`` and is imported from here on first use.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperloom.channel import Message
from hyperloom.errors import ConfigError

if TYPE_CHECKING:
    from hyperloom._executor_local import LocalExecutor

__all__ = [
    "NODE_LOST",
    "Executor",
    "ExecutorEvent",
    "LaunchSpec",
    "LocalExecutor",
    "TrialExited",
    "TrialMessage",
    "TrialRejected",
]

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
STOP_FILE = "STOP"
#: How a `TrialExited` reason starts when the trial's node or runner was lost (not the trial's own
#: failure); the manager starts such a trial again while ``maxTrialRetries`` allows.
NODE_LOST = "node lost"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything an executor needs to start one trial.

    Attributes:
        trial_id: The trial's id.
        experiment_id: The experiment's id.
        sequence: The trial's sequence number.
        command: A shell command line, already templated (run with ``/bin/sh -c`` unless it is a
            plain command that can be executed directly with the same meaning).
        cwd: The working directory (``trialCodeDirectory``).
        trial_dir: The trial's directory: ``params.json``, ``metrics.jsonl``, logs.
        env: Variables added to the manager's environment: the ``HYPERLOOM_*`` protocol
            variables, ``CUDA_VISIBLE_DEVICES``, extras. The executor fills in the channel ones
            (``HYPERLOOM_CHANNEL``, ``HYPERLOOM_TOKEN``) and any missing identity ones.
        params: The parameters, already written to ``trial_dir/params.json`` by the manager.
        start_step: The first step this run reports (a restored checkpoint's step + 1; 0 for a
            fresh trial). Also in ``env`` as ``HYPERLOOM_START_STEP``.
        restore_dir: What the trial restores from (its own checkpoint when resumed, a private
            copy of its parent's when warm-started), or None.
    """

    trial_id: str
    experiment_id: str
    sequence: int
    command: str
    cwd: Path
    trial_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    start_step: int = 0
    restore_dir: Path | None = None


@dataclass(frozen=True)
class TrialMessage:
    """A trial reported a metric or its final value; ``offset`` is the metrics file position to
    persist with it (re-attach reads on from there)."""

    trial_id: str
    message: Message
    offset: int


@dataclass(frozen=True)
class TrialRejected:
    """A bad channel line from a trial: logged and recorded, never fatal."""

    trial_id: str
    reason: str


@dataclass(frozen=True)
class TrialExited:
    """A trial's process ended. ``exit_code`` is negative for a signal (like Popen), None when
    unknown (a re-attached trial, which is not our child). A ``reason`` that starts with
    `NODE_LOST` (with ``exit_code`` None) says the trial was lost with its node or runner."""

    trial_id: str
    exit_code: int | None
    reason: str | None


ExecutorEvent = TrialMessage | TrialRejected | TrialExited


_UNSAFE = set("|&;<>()$`\\*?[]#~{}!\n\r\t")
_SHELL_WORDS = {
    ".", ":", "alias", "case", "cd", "command", "eval", "exec", "exit", "export", "for", "if",
    "read", "return", "set", "shift", "source", "time", "trap", "ulimit", "umask", "unset",
    "until", "wait", "while",
}  # fmt: skip


def _argv(command: str, cwd: Path, path_env: str | None, shell: str) -> list[str]:
    """The argv to run: the command itself when that means exactly what the shell would do.

    Shared by the executors (the Ray runner uses it too): a command with no shell syntax whose
    program resolves (PATH, or an executable path relative to ``cwd``) runs directly; anything
    else, shell builtins included, runs as ``[shell, "-c", command]``.
    """
    fallback = [shell, "-c", command]
    if _UNSAFE & set(command):
        return fallback
    try:
        argv = shlex.split(command)
    except ValueError:
        return fallback
    if not argv or "=" in argv[0] or argv[0] in _SHELL_WORDS:
        return fallback
    if "/" in argv[0]:
        exe = Path(argv[0]) if os.path.isabs(argv[0]) else cwd / argv[0]
        ok = exe.is_file() and os.access(exe, os.X_OK)
    else:
        ok = shutil.which(argv[0], path=path_env) is not None
    return argv if ok else fallback  # the shell gives the usual "not found" message and code


class Executor(abc.ABC):
    """Runs trials for the manager.

    Call order: ``await open()``; then any number of ``start`` / ``reattach``, ``request_stop``,
    ``kill``; finally ``await close()``. All methods are called on the loop's thread. The executor
    emits `TrialMessage` / `TrialRejected` while a trial runs and exactly one `TrialExited` per
    started or re-attached trial, after its last message. After a `TrialExited` whose reason
    starts with `NODE_LOST`, the manager may ``start`` the same spec again (a retry): the new
    attempt's channel must start empty. ``end_orphans`` is the one call made without ``open``.

    Args:
        experiment_dir: The experiment directory (for sockets, scratch files).
        emit: Receives the events, on the loop's thread.
        channel: ``"file"``, ``"tcp"`` or ``"unix"``: the transport trials use.
        options: Executor-specific options.
    """

    def __init__(
        self,
        *,
        experiment_dir: Path,
        emit: Callable[[ExecutorEvent], None],
        channel: str = "file",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.experiment_dir = Path(experiment_dir)
        self._emit_cb = emit
        self.channel = "tcp" if channel == "socket" else channel
        if self.channel not in ("file", "tcp", "unix"):
            raise ConfigError(
                f"unknown trial channel {channel!r}: use 'file', 'tcp' or 'unix' "
                "(the socket transports)"
            )
        self.options = dict(options or {})

    def _emit(self, event: ExecutorEvent) -> None:
        try:
            self._emit_cb(event)
        except Exception:
            logger.exception("the executor's emit callback failed on %r", event)

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepares the executor (servers, connections). Default: nothing."""

    # devices: an executor that hands out this machine's GPUs owns the pool (the local one);
    # others place trials themselves (Ray: resourcesPerTrial) and keep these defaults

    def use_devices(self, make_pool: Callable[[], Any], per_trial: int | None) -> None:
        """``trialGpuNumber`` is set: the executor makes the experiment's device pool
        (``make_pool()``, which detects the GPUs), leases ``per_trial`` devices to each trial and
        sets the trial's ``CUDA_VISIBLE_DEVICES``. Default: refused, with the reason."""
        del make_pool, per_trial
        raise ConfigError(
            f"trialGpuNumber schedules the GPUs of this machine; this executor "
            f"({type(self).__name__}) places trials itself: leave trialGpuNumber out and ask for "
            "GPUs in trainingService (for ray: resourcesPerTrial: {gpu: N})"
        )

    def reserve(self, trial_id: str) -> tuple[int, ...] | None:
        """Devices for a trial about to start: a tuple (empty without a pool), or None when
        none are free now (the manager asks again after the next event). Kept until `release`.
        """
        del trial_id
        return ()

    def release(self, trial_id: str) -> None:  # noqa: B027 - optional hook
        """Returns a trial's devices (it ended, or it was never started); idempotent."""

    def claim(self, trial_id: str, devices: Sequence[int]) -> None:  # noqa: B027 - optional
        """On resume: a re-attached trial keeps the devices it was started with."""

    def device_usage(self, pids_by_trial: Mapping[str, list[int]]) -> dict[str, dict[str, Any]]:
        """Per-trial GPU usage now (called from a worker thread); {} without devices."""
        del pids_by_trial
        return {}

    def prepare(self, spec: LaunchSpec) -> None:
        """Lays out a trial before `start`: its directory on the manager's side, with
        ``params.json`` (the parameter binding: on disk before the trial runs). The manager calls
        it once per trial; a remote executor ships what is there (Ray copies the directory's small
        files to the node). An executor that keeps no files (the simulator) overrides it."""
        trial_dir = Path(spec.trial_dir)
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "params.json").write_text(json.dumps(spec.params), encoding="utf-8")

    @abc.abstractmethod
    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        """Starts a trial; returns a JSON-able handle that `reattach` accepts later."""

    @abc.abstractmethod
    async def reattach(self, spec: LaunchSpec, handle: Mapping[str, Any], offset: int) -> bool:
        """Takes over a trial started by a previous manager, reading its channel from ``offset``.

        Returns:
            False when the trial is gone; nothing is emitted for it then, and no `TrialExited`
            follows: the manager then asks `leftovers` for what it wrote after ``offset``.
        """

    def leftovers(self, spec: LaunchSpec, offset: int) -> list[tuple[Message, int]]:
        """What a trial that could not be re-attached wrote after ``offset`` while no manager
        listened, as ``(message, offset after it)`` in order; bad lines are left out. Default:
        its ``metrics.jsonl`` in the trial directory (socket trials journal there too)."""
        from hyperloom.channel import ChannelError, FileTail

        path = Path(spec.trial_dir) / METRICS_FILE
        if not path.exists():
            return []
        tail = FileTail(path, offset)
        try:
            items = tail.read_with_offsets()
        finally:
            tail.close()
        return [(item, end) for item, end in items if not isinstance(item, ChannelError)]

    @abc.abstractmethod
    async def request_stop(self, trial_id: str) -> None:
        """Asks a trial to stop by itself (``should_stop()`` turns True). Never kills."""

    @abc.abstractmethod
    async def kill(self, trial_id: str, *, grace: float) -> None:
        """Ends a trial: SIGTERM to its group, ``grace`` seconds, SIGKILL, a sweep for strays."""

    @abc.abstractmethod
    async def close(self, *, grace: float) -> None:
        """Kills every trial still running and releases everything."""

    async def end_orphans(
        self, experiment_id: str, handles: Mapping[str, Mapping[str, Any]], *, grace: float
    ) -> int:
        """Ends the trials a dead manager left running where this executor runs them.

        ``hyperloom stop`` calls it on a new, unopened executor built from the experiment's
        config, with the experiment's lock held and no manager alive, before it records the
        experiment as stopped. ``handles`` maps the trials the store still marks RUNNING to the
        handles `start` returned; an executor should also end trials of ``experiment_id`` it
        finds that are not listed. Default: nothing (local process groups are swept by the
        command itself).

        Returns:
            How many trials (or their runners) were ended.

        Raises:
            HyperloomError: Where the trials run cannot be reached; the message names where and
                what to do.
        """
        del experiment_id, handles, grace
        return 0


def __getattr__(name: str) -> Any:
    if name == "LocalExecutor":
        from hyperloom._executor_local import LocalExecutor

        return LocalExecutor
    raise AttributeError(f"module 'hyperloom.executor' has no attribute {name!r}")
