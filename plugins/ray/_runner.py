"""The node side of the Ray executor: one `TrialRunner` actor per trial.

The runner lives on the node Ray placed it on (with the trial's resources). It writes the trial's
files into a node-local trial directory, starts the user's command there as a subprocess in its
own session, watches its exit, tails its ``metrics.jsonl`` locally and hands what it read to the
manager when the manager polls. It never talks to the store and never decides a status: it only
reports what happened on the node.

The class is a plain Python class; the executor turns it into an async actor with
``ray.remote(TrialRunner)``. Everything it returns is made of builtins, so the manager needs no
hyperloom class to decode it. This module imports no Ray at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hyperloom.channel import ChannelError, FileTail
from hyperloom.executor import _argv as _shared_argv
from hyperloom.procs import ProcRef, aterminate_tree, group_members, snapshot_descendants

__all__ = ["TrialRunner", "node_trial_root", "reap_group"]

METRICS_FILE = "metrics.jsonl"  # the file channel, protocol v1
STOP_FILE = "STOP"  # the cooperative stop marker
_TICK = 0.02  # seconds between local looks at the process and the metrics file
_SCAN = 1.0  # seconds between snapshots of the trial's descendants
_EXIT_GRACE = 1.0  # grace for what a trial leaves running in its group when it exits
_DROPPED_ENV = (
    "HYPERLOOM_TOKEN",
    "HYPERLOOM_CHANNEL",
    "PATH",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
)


def node_trial_root(root: str | None) -> Path:
    """Where trial directories live on a node: ``root`` or ``<tmp>/hyperloom-ray``."""
    return Path(root) if root else Path(tempfile.gettempdir()) / "hyperloom-ray"


def reap_group(pgid: int, pid: int, create_time: float, grace: float) -> bool:
    """Ends a trial whose runner died, on the runner's node (run as a Ray task pinned there).

    Only acts when ``pid`` still is the process that was started (same create time), so a reused
    pid is never hit. Returns True when something was ended.
    """
    from hyperloom.procs import terminate_tree

    if ProcRef(pid, create_time).process() is None and not group_members(pgid):
        return False
    terminate_tree(pgid, pids=[ProcRef(pid, create_time)], grace=grace)
    return True


def _fresh_dir(base: Path) -> Path:
    """``base``, or ``base.2``, ``base.3``, ... when an earlier attempt of the trial ran on this
    node: a restarted trial never reads, nor shares with a process left over, the files of the
    attempt that was lost."""
    base.parent.mkdir(parents=True, exist_ok=True)
    path, n = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}.{n}")


def _argv(command: str, cwd: str, path_env: str | None, shell: str) -> list[str]:
    """The command itself when that means exactly what the shell would do, else ``shell -c``:
    the local executor's rule (:func:`hyperloom.executor._argv`), so a command runs the same way
    on a Ray node as on the manager's machine."""
    return _shared_argv(command, Path(cwd), path_env, shell)


def _tail_bytes(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            return f.read()
    except OSError:
        return b""


def _encode(items: list[tuple[Any, int]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for item, offset in items:
        if isinstance(item, ChannelError):
            out.append(("reject", item.reason, offset))
        else:
            out.append(("message", item.type, item.value, item.step, item.metrics, item.t, offset))
    return out


class TrialRunner:
    """Runs one trial on a node; made into an async Ray actor by the executor.

    Call order (manager side): ``start`` once, then ``poll`` until it answers ``done``; any time
    ``request_stop`` and ``kill``; a re-attaching manager calls ``info`` first and polls from the
    offset it persisted. The actor is named after the trial (namespace per experiment) and
    detached, so it outlives a crashed manager.

    Args:
        trial_id: The trial's id.
        experiment_id: The experiment's id.
        root: The folder that holds trial directories on the node (default: the node's temp dir).
        orphan_timeout: Seconds the runner waits, after its trial ended, for a manager to collect
            the result before it exits by itself (frees the trial's resources).
    """

    def __init__(
        self,
        trial_id: str,
        experiment_id: str,
        root: str | None = None,
        orphan_timeout: float = 3600.0,
    ) -> None:
        self.trial_id = trial_id
        self.experiment_id = experiment_id
        self.trial_dir = node_trial_root(root) / experiment_id / trial_id
        self.orphan_timeout = orphan_timeout
        self.popen: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.create_time = 0.0
        self.exit_code: int | None = None
        self.launch_error: str | None = None
        self.killed = False
        self.known: set[ProcRef] = set()
        self.exited = asyncio.Event()
        self.tail: FileTail | None = None
        self.last_contact = time.monotonic()
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------------

    async def start(
        self,
        command: str,
        env: dict[str, str],
        files: dict[str, bytes],
        manager_dir: str,
        shell: str,
        cwd: str | None = None,
    ) -> dict[str, Any]:
        """Writes the trial's files, starts its command, and returns where it runs.

        ``manager_dir`` (the trial directory on the manager's machine) is replaced by the node's
        trial directory in the command and in every environment value. ``cwd`` None: Ray's copy
        of the working_dir (the actor's current directory).
        """
        self.last_contact = time.monotonic()
        if self.popen is not None or self.launch_error is not None:
            return self._info()
        self.trial_dir = _fresh_dir(self.trial_dir)
        for name, data in files.items():
            (self.trial_dir / Path(name).name).write_bytes(data)
        node_dir = str(self.trial_dir)
        command = command.replace(manager_dir, node_dir)
        full = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV[:2]}
        bindir = os.path.dirname(sys.executable)
        full["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])
        full.update({k: v.replace(manager_dir, node_dir) for k, v in env.items()})
        full["HYPERLOOM_TRIAL_DIR"] = node_dir
        full["HYPERLOOM_CHANNEL"] = "file"
        cwd = cwd or os.getcwd()
        argv = _argv(command, cwd, full.get("PATH"), shell)
        try:
            with (
                open(self.trial_dir / "stdout.log", "ab") as out,
                open(self.trial_dir / "stderr.log", "ab") as err,
            ):
                self.popen = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=full,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            self.launch_error = f"cannot start {command!r} in {cwd} on {socket.gethostname()}: {exc.strerror or exc}"
            self.exit_code = 127 if isinstance(exc, FileNotFoundError) else 126
            with contextlib.suppress(OSError), open(self.trial_dir / "stderr.log", "a") as f:
                f.write(f"hyperloom: {self.launch_error}\n")
            self.exited.set()
            return self._info()
        self.pid = self.popen.pid
        try:
            import psutil

            self.create_time = psutil.Process(self.pid).create_time()
        except Exception:
            self.create_time = time.time()
        self.tail = FileTail(self.trial_dir / METRICS_FILE)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self._info()

    async def info(self) -> dict[str, Any]:
        """Where and what the trial is: node, pid, create time, trial dir, exit state."""
        self.last_contact = time.monotonic()
        return self._info()

    def _info(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        return {
            "trial_id": self.trial_id,
            "pid": self.pid,
            "pgid": self.pid,
            "create_time": self.create_time,
            "host": socket.gethostname(),
            "node_id": ctx.get_node_id(),
            "node_trial_dir": str(self.trial_dir),
            "started": self.popen is not None,
            "exited": self.exited.is_set(),
            "launch_error": self.launch_error,
        }

    # ------------------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Reaps the trial, remembers its descendants, ends leftovers; exits when orphaned."""
        assert self.popen is not None
        next_scan = 0.0
        while self.popen.poll() is None:
            now = time.monotonic()
            if now >= next_scan:
                next_scan = now + _SCAN
                pid, ct = self.popen.pid, self.create_time
                with contextlib.suppress(Exception):
                    self.known |= await asyncio.to_thread(snapshot_descendants, pid, ct)
            await asyncio.sleep(_TICK)
        self.exit_code = self.popen.returncode
        pgid = self.popen.pid
        alive_known = any(r.process() is not None for r in self.known)
        members = [] if alive_known else await asyncio.to_thread(group_members, pgid)
        if alive_known or members:
            with contextlib.suppress(Exception):
                await aterminate_tree(
                    pgid, pids=self.known, grace=_EXIT_GRACE, marker=self._marker()
                )
        self.exited.set()
        while time.monotonic() - self.last_contact < self.orphan_timeout:
            await asyncio.sleep(min(5.0, self.orphan_timeout))
        os._exit(0)  # no manager came back for the result: give the resources back

    def _marker(self) -> dict[str, str]:
        return {"HYPERLOOM_TRIAL_ID": self.trial_id, "HYPERLOOM_EXPERIMENT_ID": self.experiment_id}

    async def poll(self, offset: int, max_bytes: int, wait: float, log_tail: int) -> dict[str, Any]:
        """What the trial wrote after ``offset``; waits up to ``wait`` seconds for something.

        Returns:
            ``{"items", "done", "exit_code", "stdout", "stderr"}``: ``items`` are
            ``("message", type, value, step, metrics, t, offset)`` or ``("reject", reason,
            offset)`` tuples. ``done`` is True once the trial exited and everything it wrote was
            returned; only then are the exit code and the last ``log_tail`` bytes of its
            stdout/stderr filled in.
        """
        self.last_contact = time.monotonic()
        if self.tail is None:
            if self.launch_error is not None or self.exited.is_set():
                return self._done([])
            await asyncio.sleep(min(wait, 0.1))
            return {"items": [], "done": False, "exit_code": None}
        if offset != self.tail.offset:
            self.tail.close()
            self.tail = FileTail(self.trial_dir / METRICS_FILE, offset)
        deadline = time.monotonic() + wait
        while True:
            if self.exited.is_set():
                items = await asyncio.to_thread(self.tail.read_with_offsets)
                return self._done(_encode(items), log_tail)
            items = self.tail.read_with_offsets(max_bytes)
            if items or time.monotonic() >= deadline:
                return {"items": _encode(items), "done": False, "exit_code": None}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), _TICK)

    def _done(self, items: list[tuple[Any, ...]], log_tail: int = 65536) -> dict[str, Any]:
        return {
            "items": items,
            "done": True,
            "exit_code": self.exit_code,
            "killed": self.killed,
            "launch_error": self.launch_error,
            "stdout": _tail_bytes(self.trial_dir / "stdout.log", log_tail),
            "stderr": _tail_bytes(self.trial_dir / "stderr.log", log_tail),
        }

    async def request_stop(self) -> None:
        """Creates ``STOP`` in the node's trial directory (``should_stop()`` turns True)."""
        self.last_contact = time.monotonic()
        with contextlib.suppress(OSError):
            fd = os.open(self.trial_dir / STOP_FILE, os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)

    async def kill(self, grace: float) -> int | None:
        """SIGTERM the trial's group, ``grace`` seconds, SIGKILL, a sweep; returns the exit code."""
        self.last_contact = time.monotonic()
        self.killed = True
        if self.popen is None:
            return self.exit_code
        if self.popen.poll() is None:
            await aterminate_tree(
                self.popen.pid, pids=self.known, grace=grace, marker=self._marker()
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), _EXIT_GRACE + 5.0)
        return self.exit_code

    async def signal(self, signum: int) -> None:
        """Sends one signal to the trial's process group (e.g. SIGUSR1 for a checkpoint)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.Signals(signum))
