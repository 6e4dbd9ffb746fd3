"""`LocalExecutor`: trials as local subprocesses. Import it from `hyperloom.executor`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from hyperloom._channel_socket import SocketServer, token_digest
from hyperloom.channel import ChannelError, FileTail, Message
from hyperloom.executor import (
    METRICS_FILE,
    STOP_FILE,
    Executor,
    ExecutorEvent,
    LaunchSpec,
    TrialExited,
    TrialMessage,
    TrialRejected,
    _argv,
)
from hyperloom.paths import tighten
from hyperloom.procs import (
    STRAYS_FILE,
    ProcRef,
    adopted_children,
    aterminate_tree,
    end_recorded,
    end_refs,
    find_marked,
    group_members,
    is_child_subreaper,
    marker_of,
    read_strays,
    reap,
    reap_orphan_zombies,
    record_stray,
    set_child_subreaper,
    snapshot_descendants,
)

__all__ = ["LocalExecutor"]

logger = logging.getLogger(__name__)

_BYTES_PER_TICK = 1 << 20  # per trial per poll; the read at exit takes everything


_Key = tuple[str, int | None, float, float]


class _Twice:
    """Drops the second copy of a message that came both by socket and by file.

    A socket trial journals each line to ``metrics.jsonl`` before sending it, so each message
    arrives twice. A copy is recognised by its type, step, value and the trial's timestamp, which
    the two copies share byte for byte and two real reports never do. A key is forgotten once
    both copies came, so the table holds only messages in flight on one path.
    """

    def __init__(self) -> None:
        self._first: dict[_Key, str] = {}
        self.dropped = 0

    def fresh(self, msg: Message, source: str) -> bool:
        key: _Key = (msg.type, msg.step, msg.value, msg.t)
        seen = self._first.get(key)
        if seen is None:
            self._first[key] = source
            return True
        if seen != source:
            del self._first[key]
        self.dropped += 1
        return False


@dataclass(eq=False)
class _Trial:
    spec: LaunchSpec
    pid: int
    pgid: int
    create_time: float
    tail: FileTail
    popen: subprocess.Popen[bytes] | None = None  # None: re-attached, not our child
    pidfd: int | None = None
    digest: str | None = None  # token_digest of the socket token (the token is never kept)
    known: set[ProcRef] = field(default_factory=set)
    twice: _Twice | None = None  # socket trials: each message also comes through the file
    finishing: bool = False
    killed: bool = False
    kill_grace: float = float("inf")  # the grace of the last kill (0: escalated)
    next_check: float = 0.0
    stage: str = ""  # where `_finish` is, for the log when a kill's wait runs out
    done: asyncio.Event = field(default_factory=asyncio.Event)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _handle_digest(handle: Mapping[str, Any]) -> str | None:
    """The token digest a stored handle carries (handles from before digests held the token)."""
    digest = handle.get("token_sha256")
    if isinstance(digest, str) and digest:
        return digest
    legacy = handle.get("token")
    return token_digest(legacy) if isinstance(legacy, str) and legacy else None


def _stderr_tail(path: Path, limit: int = 4096) -> str:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


class LocalExecutor(Executor):
    """Runs each trial as a local subprocess in its own session (process group).

    stdin is ``/dev/null``; stdout and stderr go to ``stdout.log`` / ``stderr.log`` in the trial
    directory; the environment is the manager's plus ``spec.env``. Exits are watched with a pidfd
    per running trial (no thread per child); one timer tails every running trial's
    ``metrics.jsonl``. With a socket channel, one `SocketServer` serves all trials and the
    metrics file is tailed as well (trials fall back to it when the socket breaks).

    Options:
        poll_interval: Seconds between reads of the metrics files (default 0.03).
        scan_interval: Seconds between psutil snapshots of each trial's descendants, remembered
            for the stray sweep (default 1.0).
        exit_grace: Grace for what a trial leaves behind in its group when it exits (default 1.0).
        drain_timeout: Seconds to wait for a socket connection to close after its trial exited
            (default 1.0).
        shell: The shell for commands that need one (default ``/bin/sh``).
    """

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
        self._poll = float(opts.get("poll_interval", 0.03))
        self._scan = float(opts.get("scan_interval", 1.0))
        self._exit_grace = float(opts.get("exit_grace", 1.0))
        self._drain = float(opts.get("drain_timeout", 1.0))
        self._shell = str(opts.get("shell", "/bin/sh"))
        self._trials: dict[str, _Trial] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._server: SocketServer | None = None
        self._host = os.uname().nodename
        self._subreaper = False  # this executor made the process a child subreaper
        self._adopting = False  # orphans of trials are re-parented to this process
        self._opened_at = 0.0
        # orphans re-parented to this process -> the trials that may have left them; an orphan
        # is ended once none of them still runs
        self._orphans: dict[ProcRef, set[str]] = {}
        self._strays = self.experiment_dir / STRAYS_FILE
        self._recorded: dict[str, set[ProcRef]] = {}  # adopted by a previous manager, by trial
        self.orphans_ended = 0
        """How many re-parented processes of ended trials this executor has killed."""
        self._pool: Any = None  # the DevicePool (trialGpuNumber set), see use_devices
        self._per_trial: int | None = None

    # devices ---------------------------------------------------------------------------------

    def use_devices(self, make_pool: Callable[[], Any], per_trial: int | None) -> None:
        """This machine's GPUs: each trial gets ``per_trial`` of them (0: none, and
        ``CUDA_VISIBLE_DEVICES`` hides them all)."""
        self._pool, self._per_trial = make_pool(), per_trial

    def reserve(self, trial_id: str) -> tuple[int, ...] | None:
        """Leases the trial its devices if they are free now (never blocks); its existing
        lease when it holds one (a lost trial started again)."""
        if self._pool is None:
            return ()
        held = self._pool.lease(trial_id)
        if held is not None:
            return tuple(held)
        got = self._pool.try_acquire(trial_id, self._per_trial)
        return None if got is None else tuple(got)

    def release(self, trial_id: str) -> None:
        if self._pool is not None:
            self._pool.release(trial_id)

    def claim(self, trial_id: str, devices: Sequence[int]) -> None:
        if self._pool is not None and devices:
            self._pool.claim(trial_id, tuple(devices))

    def device_usage(self, pids_by_trial: Mapping[str, list[int]]) -> dict[str, dict[str, Any]]:
        if self._pool is None:
            return {}
        return dict(self._pool.sample_usage(dict(pids_by_trial)))

    # life cycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Makes the experiment directory private (0700), starts the socket server (socket
        channels) and the polling timer."""
        tighten(self.experiment_dir, 0o700)  # trials' files, the socket, the store live there
        if not self._opened_at:
            self._opened_at = time.time()
            self._recorded = read_strays(self._strays)  # a killed manager's adoptees
            if is_child_subreaper():
                self._adopting = True
            elif self.options.get("subreaper", True) and set_child_subreaper(True):
                self._subreaper = self._adopting = True
        if self.channel != "file" and self._server is None:
            self._server = SocketServer()  # it logs the connections it drops
            sock = self.experiment_dir / "channel.sock" if self.channel == "unix" else None
            await self._server.start("unix" if self.channel == "unix" else "tcp", sock)
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def close(self, *, grace: float = 5.0) -> None:
        """Kills every trial still running (group, strays) and stops the timer and server."""
        await asyncio.gather(*(self.kill(tid, grace=grace) for tid in list(self._trials)))
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._server is not None:
            await self._server.close()
            self._server = None
        # an escalated close (grace 0: a second Ctrl-C) does not wait for orphans either
        await self._end_orphans(everything=True, grace=min(grace, self._exit_grace))
        await self._end_recorded()
        if self._subreaper:
            set_child_subreaper(False)
            self._subreaper = False

    # starting ------------------------------------------------------------------------------

    def _env(self, spec: LaunchSpec, token: str | None) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("HYPERLOOM_TOKEN", "HYPERLOOM_CHANNEL"):
            env.pop(key, None)  # never leak an enclosing experiment's channel
        env["HYPERLOOM_TRIAL_ID"] = spec.trial_id
        env["HYPERLOOM_EXPERIMENT_ID"] = spec.experiment_id
        env["HYPERLOOM_TRIAL_DIR"] = str(spec.trial_dir)
        env.update(spec.env)
        if self._pool is not None:  # the devices it leased (reserve), or none at all
            env.update(self._pool.env_for(self._pool.lease(spec.trial_id) or (), self._per_trial))
        if self._server is not None and token is not None:
            env["HYPERLOOM_CHANNEL"] = self._server.address
            env["HYPERLOOM_TOKEN"] = token
        else:
            env["HYPERLOOM_CHANNEL"] = "file"
        return env

    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        """Starts the trial's command; returns ``{pid, pgid, create_time, host, token_sha256}``.

        The socket token goes only into the trial's environment; the handle (which the manager
        stores) carries its SHA-256, which is all a re-attaching manager needs to check it.
        """
        if self._pump is None:
            await self.open()
        if spec.trial_id in self._trials:
            raise ValueError(f"trial {spec.trial_id} is already running")
        if self._recorded:  # re-attaching is over: what no re-attached trial owns goes
            await self._end_recorded()
        trial_dir = Path(spec.trial_dir)
        trial_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (trial_dir / STOP_FILE).unlink()
        token = None
        if self._server is not None:
            token = spec.env.get("HYPERLOOM_TOKEN") or secrets.token_hex(16)
        env = self._env(spec, token)
        try:
            argv = _argv(spec.command, Path(spec.cwd), env.get("PATH"), self._shell)
            with (
                open(trial_dir / "stdout.log", "ab") as out,
                open(trial_dir / "stderr.log", "ab") as err,
            ):
                popen = subprocess.Popen(
                    argv,
                    cwd=spec.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command or env
            return self._launch_failed(spec, exc)
        pid = popen.pid
        try:
            create_time = psutil.Process(pid).create_time()
        except (psutil.Error, OSError):
            create_time = time.time()
        trial = _Trial(
            spec=spec,
            pid=pid,
            pgid=pid,
            create_time=create_time,
            tail=FileTail(trial_dir / METRICS_FILE),
            popen=popen,
            digest=None if token is None else token_digest(token),
        )
        self._trials[spec.trial_id] = trial
        if trial.digest is not None:
            trial.twice = _Twice()
            self._register_socket(trial, trial.digest)
        self._watch(trial)
        logger.debug("trial %s started: pid %d, argv %r", spec.trial_id, pid, argv[:3])
        handle: dict[str, Any] = {
            "pid": pid,
            "pgid": pid,
            "create_time": create_time,
            "host": self._host,
            "token_sha256": trial.digest,
        }
        if self._pool is not None:
            handle["devices"] = list(self._pool.lease(spec.trial_id) or ())
        return handle

    def _launch_failed(self, spec: LaunchSpec, exc: OSError | ValueError) -> dict[str, Any]:
        """Records a trial that could not be started as exited (127: not found, else 126)."""
        code = 127 if isinstance(exc, OSError) and exc.errno == errno.ENOENT else 126
        where = f" in {spec.cwd}" if spec.cwd else ""
        if not Path(spec.cwd).is_dir():
            reason = f"cannot start the trial: working directory {spec.cwd} does not exist"
        elif isinstance(exc, ValueError) and "null" in str(exc):
            reason = (
                f"cannot start {spec.command!r}: the command or its environment holds a NUL "
                "byte, which no program can receive"
            )
        else:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            reason = f"cannot start {spec.command!r}{where}: {why}"
        with contextlib.suppress(OSError), open(Path(spec.trial_dir) / "stderr.log", "a") as f:
            f.write(f"hyperloom: {reason}\n")
        logger.warning("trial %s: %s", spec.trial_id, reason)
        asyncio.get_running_loop().call_soon(self._emit, TrialExited(spec.trial_id, code, reason))
        return {"pid": None, "pgid": None, "create_time": None, "host": self._host}

    def _register_socket(self, trial: _Trial, digest: str) -> None:
        assert self._server is not None
        tid = trial.spec.trial_id

        def on_message(msg: Message) -> None:
            if trial.twice is None or trial.twice.fresh(msg, "socket"):
                self._emit(TrialMessage(tid, msg, trial.tail.offset))

        def on_error(err: ChannelError) -> None:
            self._emit(TrialRejected(tid, err.reason))

        self._server.register(tid, None, on_message, on_error, digest=digest)

    def _watch(self, trial: _Trial) -> None:
        """Wakes `_on_exit` when the child exits: a pidfd on the loop, else the timer polls."""
        try:
            trial.pidfd = os.pidfd_open(trial.pid)
        except (AttributeError, OSError):
            return
        asyncio.get_running_loop().add_reader(trial.pidfd, self._on_exit, trial)

    # running -------------------------------------------------------------------------------

    def _on_exit(self, trial: _Trial) -> None:
        if trial.finishing:
            return
        code: int | None
        if trial.popen is not None:
            code = trial.popen.poll()
            if code is None:
                return
        else:
            if ProcRef(trial.pid, trial.create_time).process() is not None:
                return
            code = None
        trial.finishing = True
        self._unwatch(trial)
        task = asyncio.get_running_loop().create_task(self._finish(trial, code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unwatch(self, trial: _Trial) -> None:
        if trial.pidfd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(trial.pidfd)
            os.close(trial.pidfd)
            trial.pidfd = None

    def _read(self, trial: _Trial, max_bytes: int | None = None) -> None:
        tid = trial.spec.trial_id
        for item, offset in trial.tail.read_with_offsets(max_bytes):
            if isinstance(item, ChannelError):
                logger.info("trial %s: rejected channel line: %s", tid, item.reason)
                self._emit(TrialRejected(tid, item.reason))
            elif trial.twice is None or trial.twice.fresh(item, "file"):
                self._emit(TrialMessage(tid, item, offset))

    async def _run_pump(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = loop.time() + self._scan
        scanning: asyncio.Task[None] | None = None
        while True:
            await asyncio.sleep(self._poll)
            now = loop.time()
            for trial in list(self._trials.values()):
                if trial.finishing:
                    continue
                try:
                    self._read(trial, _BYTES_PER_TICK)
                    if trial.pidfd is None and now >= trial.next_check:
                        trial.next_check = now + (0.2 if trial.popen is None else 0.0)
                        self._on_exit(trial)
                except Exception:  # one bad trial must not stop the timer for all
                    logger.exception("polling trial %s failed", trial.spec.trial_id)
            if now >= next_scan and (scanning is None or scanning.done()):
                next_scan = now + self._scan
                scanning = loop.create_task(self._scan_descendants())

    async def _scan_descendants(self) -> None:
        running = [t for t in self._trials.values() if not t.finishing]
        if running:
            found = await asyncio.to_thread(
                lambda: [snapshot_descendants(t.pid, t.create_time) for t in running]
            )
            for trial, refs in zip(running, found, strict=True):
                trial.known |= refs
        if self._adopting:
            await self._adopt()

    # orphans ---------------------------------------------------------------------------------

    async def _adopt(self) -> None:
        """Records the orphans re-parented to this process since the last look, each with the
        trials that may have left it: the one its environment names, else the one whose
        descendant it was seen to be, else every trial now running (or just ended)."""
        leaders = [t.pid for t in self._trials.values()]
        known = set(self._orphans)
        keys = ("HYPERLOOM_TRIAL_ID", "HYPERLOOM_EXPERIMENT_ID")

        def look() -> list[tuple[ProcRef, dict[str, str]]]:
            dead = [r for r in known if r.process() is None]
            reap(r.pid for r in dead)
            reap_orphan_zombies(leaders)
            # psutil's create times come from the boot time in whole seconds: allow for that
            since = self._opened_at - 2.0
            found = [r for r in adopted_children(leaders, since=since) if r not in known]
            return [(r, marker_of(r, keys)) for r in found] + [(r, {"dead": ""}) for r in dead]

        for ref, mark in await asyncio.to_thread(look):
            if "dead" in mark:
                self._orphans.pop(ref, None)
                continue
            tid = mark.get("HYPERLOOM_TRIAL_ID", "")
            owner = self._trials.get(tid)
            if (
                owner is not None
                and mark.get("HYPERLOOM_EXPERIMENT_ID") == owner.spec.experiment_id
            ):
                suspects = {tid}
            else:
                suspects = {t.spec.trial_id for t in self._trials.values() if ref in t.known}
                suspects = suspects or set(self._trials)
            self._orphans[ref] = suspects
            for tid in sorted(suspects):
                await asyncio.to_thread(record_stray, self._strays, tid, ref)
            logger.debug("adopted orphan %d (from %s)", ref.pid, ", ".join(sorted(suspects)))

    async def _end_recorded(self) -> None:
        """Ends what a previous manager adopted and no re-attached trial owns; with no trial
        and no adoptee left, forgets the record."""
        refs = {r for group in self._recorded.values() for r in group}
        self._recorded = {}
        if refs:
            killed = await asyncio.to_thread(end_refs, refs, self._exit_grace)
            if killed:
                logger.info("ended %d process(es) a previous manager had adopted", len(killed))
        if not self._trials and not self._orphans:
            await asyncio.to_thread(end_recorded, self._strays)  # nothing left to find: clean

    async def _end_orphans(
        self, ended: _Trial | None = None, *, everything: bool = False, grace: float | None = None
    ) -> None:
        """Ends the adopted orphans no running trial can own (all of them with ``everything``),
        then their own children, which are re-parented in turn; without a subreaper, sweeps by
        the ended trial's environment marker instead. ``grace``: the SIGTERM-to-SIGKILL wait
        (default ``exit_grace``)."""
        wait = self._exit_grace if grace is None else grace
        if not self._adopting:
            if ended is not None:
                strays = await asyncio.to_thread(find_marked, self._marker(ended))
                if strays:
                    await asyncio.to_thread(end_refs, strays, wait)
            return
        tid = None if ended is None else ended.spec.trial_id
        for _ in range(8):  # each round ends one generation of a daemon's tree
            await self._adopt()
            victims = []
            for ref, suspects in self._orphans.items():
                if tid is not None:
                    suspects.discard(tid)
                if everything or not suspects:
                    victims.append(ref)
            if not victims:
                return
            logger.info(
                "ending %d process(es) that ended trials left behind (re-parented to the manager)",
                len(victims),
            )
            killed = await asyncio.to_thread(end_refs, victims, wait)
            self.orphans_ended += len(killed)
            for ref in victims:
                self._orphans.pop(ref, None)
            await asyncio.sleep(0.05)  # their children are re-parented to this process now

    async def _finish(self, trial: _Trial, code: int | None) -> None:
        tid = trial.spec.trial_id
        try:
            # what the trial left running in its group (or recorded outside it) goes too
            leftovers = False
            trial.stage = f"exited ({code}); looking for what it left running"
            if _group_exists(trial.pgid) or trial.known:  # one syscall in the common case
                leftovers = await asyncio.to_thread(
                    lambda: (
                        bool(group_members(trial.pgid))
                        or any(r.process() is not None for r in trial.known)
                    )
                )
            # a trial killed without grace (an escalated stop) leaves nothing to wait for either
            wait = min(self._exit_grace, trial.kill_grace)
            if leftovers:
                trial.stage = "exited; ending the processes it left in its group"
                logger.info("trial %s exited leaving processes behind; ending them", tid)
                await aterminate_tree(trial.pgid, pids=trial.known, grace=wait)
            trial.stage = "exited; ending the daemons it left"
            await self._end_orphans(trial, grace=wait)  # daemons that left the group
            trial.stage = "exited; draining its channel"
            if self._server is not None:
                await self._server.drain(tid, self._drain)
                self._server.unregister(tid)
            self._read(trial)
            trial.tail.close()
        finally:
            self._trials.pop(tid, None)
            reason = self._reason(trial, code)
            self._emit(TrialExited(tid, code, reason))
            trial.done.set()

    def _reason(self, trial: _Trial, code: int | None) -> str | None:
        if code is None:
            if trial.killed:
                return "killed by hyperloom (a re-attached trial: its exit code is unknown)"
            return "the process ended while no manager watched it; its exit code is unknown"
        if code == 0:
            return None
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = " (killed by hyperloom)" if trial.killed else ""
            return f"killed by {name}{how}"
        last = _stderr_tail(Path(trial.spec.trial_dir) / "stderr.log")
        return f"exit code {code}: {last}" if last else f"exit code {code}"

    # re-attach -------------------------------------------------------------------------------

    async def reattach(self, spec: LaunchSpec, handle: Mapping[str, Any], offset: int) -> bool:
        """Takes over a trial of a previous manager: same pid *and* create time, still alive."""
        if self._pump is None:
            await self.open()
        pid, create_time = handle.get("pid"), handle.get("create_time")
        alive = (
            isinstance(pid, int)
            and isinstance(create_time, int | float)
            and handle.get("host", self._host) == self._host
            and ProcRef(pid, float(create_time)).process() is not None
        )
        if not alive:
            return False
        assert isinstance(pid, int) and isinstance(create_time, int | float)
        pgid = handle.get("pgid")
        trial = _Trial(
            spec=spec,
            pid=pid,
            pgid=pgid if isinstance(pgid, int) else pid,
            create_time=float(create_time),
            tail=FileTail(Path(spec.trial_dir) / METRICS_FILE, offset),
            digest=_handle_digest(handle),
        )
        self._trials[spec.trial_id] = trial
        trial.known |= self._recorded.pop(spec.trial_id, set())  # its daemons, ended with it
        if self._server is not None and trial.digest:
            trial.twice = _Twice()
            self._register_socket(trial, trial.digest)
        self._read(trial)
        return True

    # stopping ------------------------------------------------------------------------------

    async def request_stop(self, trial_id: str) -> None:
        """Creates ``<trial_dir>/STOP`` and sends ``{"type":"stop"}`` on the trial's socket."""
        trial = self._trials.get(trial_id)
        if trial is None:
            return
        with contextlib.suppress(OSError):
            fd = os.open(Path(trial.spec.trial_dir) / STOP_FILE, os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
        if self._server is not None:
            self._server.send_stop(trial_id)

    def _marker(self, trial: _Trial) -> dict[str, str]:
        return {
            "HYPERLOOM_TRIAL_ID": trial.spec.trial_id,
            "HYPERLOOM_EXPERIMENT_ID": trial.spec.experiment_id,
        }

    async def kill(self, trial_id: str, *, grace: float = 5.0) -> None:
        """SIGTERM the group, wait ``grace``, SIGKILL, sweep; returns after `TrialExited`."""
        trial = self._trials.get(trial_id)
        if trial is None:
            return
        trial.killed = True
        trial.kill_grace = min(trial.kill_grace, grace)
        if not trial.finishing:
            await aterminate_tree(
                trial.pgid, pids=trial.known, grace=grace, marker=self._marker(trial)
            )
            if trial.popen is None or trial.pidfd is None:
                self._on_exit(trial)  # not our child, or no pidfd: look now
        # The pidfd wakes `_on_exit`; polling here as well makes a missed or early wake-up (an
        # exit that `Popen.poll` did not yet report) cost one slice, not the whole wait.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._exit_grace + self._drain + 5
        while not trial.done.is_set() and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trial.done.wait(), timeout=0.25)
            if not trial.finishing:
                self._on_exit(trial)
        if not trial.done.is_set():
            logger.warning(
                "trial %s: no exit seen after kill (%s); recording it as lost",
                trial_id,
                trial.stage or "the process did not end",
            )
            self._unwatch(trial)
            if not trial.finishing:
                trial.finishing = True
                await self._finish(trial, None)
