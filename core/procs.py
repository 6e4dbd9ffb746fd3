"""Process-tree termination: SIGTERM the group, a grace period, SIGKILL, then a psutil sweep.

A trial runs as the leader of its own session and process group (``start_new_session=True``), so
one ``killpg`` reaches the script and everything it forked that stayed in the group (data-loader
workers, shells). Processes that left the group (``setsid``, daemons) are found two ways: the
descendants recorded while the trial ran (`snapshot_descendants`, matched by create time so a
reused pid is never hit) and, at kill time, a scan for processes whose environment carries the
trial's ``HYPERLOOM_TRIAL_ID`` and ``HYPERLOOM_EXPERIMENT_ID``.

`terminate_tree` blocks (use it from a worker thread or a script); `aterminate_tree` is the same
for an asyncio loop and never sleeps on the loop's thread.

On Linux a manager can also make itself a *child subreaper* (`set_child_subreaper`): a process
whose parent dies is then re-parented to the manager instead of to init, so a daemon that
double-forked out of its trial (``setsid``, a cleared environment, a new session) still turns up
as the manager's child (`adopted_children`), where nothing can hide it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = [
    "STRAYS_FILE",
    "ProcRef",
    "adopted_children",
    "aterminate_tree",
    "end_recorded",
    "end_refs",
    "find_marked",
    "group_members",
    "is_child_subreaper",
    "marker_of",
    "proc_ref",
    "read_strays",
    "reap",
    "reap_orphan_zombies",
    "record_stray",
    "set_child_subreaper",
    "snapshot_descendants",
    "terminate_tree",
]

logger = logging.getLogger(__name__)

_POLL = 0.02
_KILL_WAIT = 2.0  # how long to wait for SIGKILLed processes to vanish
STRAYS_FILE = ".strays.jsonl"
"""In an experiment directory: the orphans its manager adopted (`record_stray`), so that a
manager killed -9 leaves them findable by the next one or by ``hyperloom stop``."""
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


@dataclass(frozen=True)
class ProcRef:
    """A process identified by pid *and* create time, so that a reused pid never matches."""

    pid: int
    create_time: float

    def process(self) -> psutil.Process | None:
        """The live, non-zombie process this refers to, or None."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (psutil.Error, OSError):
            return None


def proc_ref(pid: int) -> ProcRef | None:
    """A `ProcRef` for a live pid, or None when it is gone."""
    try:
        return ProcRef(pid, psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def snapshot_descendants(pid: int, create_time: float | None = None) -> set[ProcRef]:
    """The live descendants of ``pid`` (recursive), to remember for a later sweep.

    Args:
        pid: The root process.
        create_time: When given, the root must have this create time (else: empty set), so a
            reused pid never contributes someone else's children.
    """
    try:
        root = psutil.Process(pid)
        if create_time is not None and abs(root.create_time() - create_time) > 0.01:
            return set()
        children = root.children(recursive=True)
    except (psutil.Error, OSError):
        return set()
    refs = set()
    for child in children:
        with contextlib.suppress(psutil.Error, OSError):
            refs.add(ProcRef(child.pid, child.create_time()))
    return refs


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError):
        return False


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getpgid(pid) != pgid:
                continue
        except OSError:
            continue
        if _alive(pid):
            members.append(pid)
    if not members and not os.path.isdir("/proc"):  # no procfs: fall back on psutil
        for proc in psutil.process_iter():
            with contextlib.suppress(OSError, psutil.Error):
                if os.getpgid(proc.pid) == pgid and _alive(proc.pid):
                    members.append(proc.pid)
    return members


def find_marked(marker: Mapping[str, str]) -> set[ProcRef]:
    """Processes (of this user) whose environment holds every ``marker`` item.

    The calling process and its ancestors are never returned, so a manager that itself runs
    inside a trial does not find itself.
    """
    if not marker:
        return set()
    me = os.getpid()
    exclude = {me}
    with contextlib.suppress(psutil.Error, OSError):
        exclude.update(p.pid for p in psutil.Process(me).parents())
    found = set()
    for proc in psutil.process_iter():
        if proc.pid in exclude:
            continue
        try:
            env = proc.environ()
            if all(env.get(k) == v for k, v in marker.items()):
                found.add(ProcRef(proc.pid, proc.create_time()))
        except (psutil.Error, OSError):
            continue
    return found


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_refs(refs: Iterable[ProcRef], sig: int) -> None:
    for ref in refs:
        proc = ref.process()
        if proc is not None:
            with contextlib.suppress(psutil.Error, OSError):
                proc.send_signal(sig)


def _live(pgid: int, refs: Iterable[ProcRef]) -> bool:
    if group_members(pgid):
        return True
    return any(ref.process() is not None for ref in refs)


def _plan(pgid: int, pids: Iterable[ProcRef | int]) -> set[ProcRef]:
    refs: set[ProcRef] = set()
    for item in pids:
        ref = proc_ref(item) if isinstance(item, int) else item
        if ref is not None:
            refs.add(ref)
    # what the members of the group, and the recorded processes (daemons), have forked since
    # the last snapshot, too
    for ref in list(refs):
        refs |= snapshot_descendants(ref.pid, ref.create_time)
    for pid in group_members(pgid):
        refs |= snapshot_descendants(pid)
    return refs


def _sweep(pgid: int, refs: set[ProcRef], marker: Mapping[str, str] | None) -> set[ProcRef]:
    strays = {r for r in refs if r.process() is not None}
    if marker:
        strays |= find_marked(marker)
    for ref in list(strays):
        strays |= snapshot_descendants(ref.pid, ref.create_time)
    for pid in group_members(pgid):
        strays |= snapshot_descendants(pid)
    _signal_group(pgid, signal.SIGKILL)
    _signal_refs(strays, signal.SIGKILL)
    return strays


def terminate_tree(
    pgid: int,
    *,
    pids: Iterable[ProcRef | int] = (),
    grace: float = 5.0,
    marker: Mapping[str, str] | None = None,
) -> bool:
    """Terminates a process group and its strays; blocks up to about ``grace + 2`` seconds.

    SIGTERM goes to the group and to the recorded ``pids`` that still live; after ``grace``
    seconds (or as soon as all are gone) SIGKILL goes to the group, and a sweep SIGKILLs every
    recorded process, every descendant of the group, and every process carrying ``marker`` in its
    environment.

    Args:
        pgid: The process group (the trial's pid, as it leads its own session).
        pids: Other processes of the trial: `ProcRef` (safe against pid reuse) or plain pids
            (looked up now).
        grace: Seconds between SIGTERM and SIGKILL.
        marker: Environment items that mark the trial's processes (e.g. its trial and
            experiment ids); None skips that scan.

    Returns:
        True when nothing of the tree is left alive.
    """
    refs = _plan(pgid, pids)
    _signal_group(pgid, signal.SIGTERM)
    _signal_refs(refs, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _live(pgid, refs):
        time.sleep(_POLL)
    refs |= _sweep(pgid, refs, marker)
    deadline = time.monotonic() + _KILL_WAIT
    while _live(pgid, refs):
        if time.monotonic() > deadline:
            logger.warning("process group %d still has live processes after SIGKILL", pgid)
            return False
        time.sleep(_POLL)
    return True


async def aterminate_tree(
    pgid: int,
    *,
    pids: Iterable[ProcRef | int] = (),
    grace: float = 5.0,
    marker: Mapping[str, str] | None = None,
) -> bool:
    """`terminate_tree` for an asyncio loop: waits with ``asyncio.sleep``, scans in a thread."""
    refs = await asyncio.to_thread(_plan, pgid, list(pids))
    _signal_group(pgid, signal.SIGTERM)
    _signal_refs(refs, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline and await asyncio.to_thread(_live, pgid, refs):
        await asyncio.sleep(_POLL)
    refs |= await asyncio.to_thread(_sweep, pgid, refs, marker)
    deadline = loop.time() + _KILL_WAIT
    while await asyncio.to_thread(_live, pgid, refs):
        if loop.time() > deadline:
            logger.warning("process group %d still has live processes after SIGKILL", pgid)
            return False
        await asyncio.sleep(_POLL)
    return True


# child subreaper -------------------------------------------------------------------------------


def _prctl() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    fn = getattr(libc, "prctl", None)
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return fn


def is_child_subreaper() -> bool:
    """Whether this process is a child subreaper (Linux; False elsewhere)."""
    prctl = _prctl()
    if prctl is None:
        return False
    flag = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return False
    return bool(flag.value)


def set_child_subreaper(on: bool = True) -> bool:
    """Makes this process a child subreaper, or stops it being one (``prctl`` on Linux).

    While it is one, every orphaned descendant (a process whose parent exited, whatever its
    session, group or environment) is re-parented to this process rather than to init. The
    setting is process-wide and is not inherited by children.

    Returns:
        True when the setting is now ``on``; False where the system has no such thing.
    """
    prctl = _prctl()
    if prctl is None:
        return False
    if prctl(_PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        logger.debug("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d", ctypes.get_errno())
        return False
    return True


def adopted_children(exclude: Iterable[int] = (), *, since: float = 0.0) -> list[ProcRef]:
    """Live children of this process that it did not start as trials: orphans it adopted.

    Only children in another session than this process's are counted (every trial starts its
    own session, so all its descendants are elsewhere; a helper this process started in its own
    session is not an orphan), and only those created at or after ``since`` (epoch seconds).

    Args:
        exclude: Pids never counted (the trial leaders this process started).
        since: Ignore children older than this.
    """
    skip = set(exclude)
    own_sid = os.getsid(0)
    out = []
    try:
        children = psutil.Process().children()
    except (psutil.Error, OSError):
        return []
    for child in children:
        if child.pid in skip:
            continue
        try:
            if os.getsid(child.pid) == own_sid:
                continue
            created = child.create_time()
            if created + 0.01 < since or child.status() == psutil.STATUS_ZOMBIE:
                continue
            out.append(ProcRef(child.pid, created))
        except (psutil.Error, OSError):
            continue
    return out


def reap_orphan_zombies(exclude: Iterable[int] = ()) -> int:
    """Reaps exited children of this process that are in another session and not in
    ``exclude``: orphans re-parented here that died (a subreaper must collect them, or they stay
    zombies for its lifetime). Children in this process's own session are left to their owner.
    """
    skip = set(exclude)
    own_sid = os.getsid(0)
    dead = []
    with contextlib.suppress(psutil.Error, OSError):
        for child in psutil.Process().children():
            if child.pid in skip:
                continue
            with contextlib.suppress(psutil.Error, OSError):
                if child.status() == psutil.STATUS_ZOMBIE and os.getsid(child.pid) != own_sid:
                    dead.append(child.pid)
    return reap(dead)


def marker_of(ref: ProcRef, keys: Iterable[str]) -> dict[str, str]:
    """The values of ``keys`` in a process's environment (those it has), or {} when unreadable."""
    proc = ref.process()
    if proc is None:
        return {}
    try:
        env = proc.environ()
    except (psutil.Error, OSError):
        return {}
    return {k: env[k] for k in keys if k in env}


def reap(pids: Iterable[int]) -> int:
    """Collects the exit status of those ``pids`` that are exited children of this process
    (never blocks; other pids are ignored). Returns how many were reaped."""
    n = 0
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            n += done == pid
    return n


def end_refs(refs: Iterable[ProcRef], grace: float = 1.0) -> set[ProcRef]:
    """SIGTERM, up to ``grace`` seconds, then SIGKILL for each process; blocks.

    Each one's process group is signalled too when it leads one (a daemon that ``setsid``-ed
    takes its own workers with it). The dead ones that were this process's children are reaped.

    Returns:
        The processes that were still alive to be signalled.
    """
    live = {r for r in refs if r.process() is not None}
    if not live:
        return set()
    for ref in list(live):  # their own children, which would otherwise go to init
        live |= snapshot_descendants(ref.pid, ref.create_time)

    def signal_all(sig: int) -> None:
        for ref in live:
            proc = ref.process()
            if proc is None:
                continue
            with contextlib.suppress(OSError):
                if os.getpgid(ref.pid) == ref.pid:
                    os.killpg(ref.pid, sig)
            with contextlib.suppress(psutil.Error, OSError):
                proc.send_signal(sig)

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(r.process() is not None for r in live):
        time.sleep(_POLL)
    signal_all(signal.SIGKILL)
    deadline = time.monotonic() + _KILL_WAIT
    while any(r.process() is not None for r in live) and time.monotonic() < deadline:
        time.sleep(_POLL)
    reap(r.pid for r in live)
    return live


# strays on disk: what a killed manager had adopted, for the next one (or `stop`) to end ------


def record_stray(path: str | os.PathLike[str], trial_id: str, ref: ProcRef) -> None:
    """Appends an adopted orphan (pid, create time, the trial it may come from) to ``path``, one
    JSON line, so that a manager killed before it could end it leaves it findable."""
    line = json.dumps({"trial": trial_id, "pid": ref.pid, "ctime": ref.create_time}) + "\n"
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def read_strays(path: str | os.PathLike[str]) -> dict[str, set[ProcRef]]:
    """The orphans `record_stray` wrote to ``path``, by trial; unreadable lines are skipped."""
    out: dict[str, set[ProcRef]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        try:
            obj = json.loads(line)
            ref = ProcRef(int(obj["pid"]), float(obj["ctime"]))
            out.setdefault(str(obj["trial"]), set()).add(ref)
        except (ValueError, KeyError, TypeError):
            continue
    return out


def end_recorded(path: str | os.PathLike[str], grace: float = 1.0) -> int:
    """Ends every orphan recorded in ``path`` that still lives (same pid *and* create time) and
    its descendants, then removes the file. Returns how many were still alive."""
    refs = {r for group in read_strays(path).values() for r in group}
    killed = end_refs(refs, grace) if refs else set()
    with contextlib.suppress(OSError):
        os.unlink(path)
    return len(killed)
