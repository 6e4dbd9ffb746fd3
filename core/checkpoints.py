"""The manager-side checkpoint registry: committed snapshots, private restores, GC with a budget.

The contract with a trial: it writes into ``checkpoint_dir()`` and then calls
``report(value, step, checkpoint=True)``, meaning "everything needed to continue from this step is
in ``checkpoint_dir()``". On that report the manager calls :meth:`CheckpointManager.commit`,
which takes an immutable snapshot of the directory *at that moment*. Only committed snapshots
count: a donor without one is never exploited, and a resumed or warm-started trial is given a
private copy of one (:meth:`CheckpointManager.prepare_restore`), so it cannot corrupt the donor.

Layout under ``root``::

    <trial_id>/step-<N>/COMMITTED   JSON {"trial", "step", "bytes", "seq", "files"}, written last
    <trial_id>/step-<N>/data/       the snapshot (what restore_dir() holds after a restore)
    <trial_id>/.tmp-...             a snapshot being built (removed on the next start)

A snapshot is built in a temporary sibling directory, the marker is written last (fsynced with ``durable``),
and the directory is renamed into place: a partial snapshot is never visible, and a manager
killed mid-copy leaves only a temporary directory that the next :class:`CheckpointManager`
removes.

How files are copied: a reflink (``FICLONE``: copy-on-write, instant, on btrfs/XFS/bcachefs/…)
where the file system has it, else ``os.copy_file_range`` (an in-kernel copy), else a plain read
and write. Never hard links: a trial that rewrites its file in place (``open(path, "wb")``)
truncates the very inode a hard link shares, which would corrupt the snapshot (or, for a
restore, the donor). A reflink is safe: the first write to either side un-shares the blocks.

A trial may already be writing its next checkpoint while the manager copies the last one (the
report reaches the manager after the trial moved on). The copy must be of the state at the
report: a file modified after the report's time (``reported_at``), or a tree that changed,
gained or lost a file during the copy, means that state is gone, and the checkpoint is refused
(:class:`CheckpointError`, logged by the manager) rather than committed under the wrong step;
the trial's next ``checkpoint=True`` report commits again. A trial that writes its checkpoint
atomically (a temporary file, then ``os.replace``) and not more often than the copy takes is
always committed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperloom.errors import HyperloomError, UsageError

__all__ = ["CheckpointError", "CheckpointManager", "Snapshot", "copy_tree", "parse_size"]

log = logging.getLogger(__name__)

MARKER = "COMMITTED"
DATA = "data"
_STEP_RE = re.compile(r"^step-(\d+)$")
_TMP_PREFIX = ".tmp-"
_TMP_STEP_RE = re.compile(r"^\.tmp-step-(\d+)-[0-9a-f]+$")
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
#: File systems stamp mtimes from a coarse clock (a jiffy, up to 10 ms) that can run ahead of
#: time.time(): a file written just before the report must not look written after it.
_MTIME_SLACK_NS = 20_000_000


class CheckpointError(HyperloomError):
    """A checkpoint could not be committed or restored (the message says which and why)."""


@dataclass(frozen=True)
class Snapshot:
    """One committed snapshot.

    Attributes:
        trial_id: The trial that committed it.
        step: The step it was committed at.
        path: The snapshot's directory (``<root>/<trial_id>/step-<N>``).
        bytes: Its logical size (reflinked blocks are counted in full).
        seq: Commit order across the registry (higher is newer).
    """

    trial_id: str
    step: int
    path: Path
    bytes: int
    seq: int

    @property
    def data(self) -> Path:
        """The directory holding the snapshot's files."""
        return self.path / DATA


# sizes ------------------------------------------------------------------------------------------

_UNITS = {
    "": 1,
    "B": 1,
    "K": 10**3,
    "KB": 10**3,
    "M": 10**6,
    "MB": 10**6,
    "G": 10**9,
    "GB": 10**9,
    "T": 10**12,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def parse_size(value: str | int | float) -> int:
    """A byte count from ``5GB``, ``500 MB``, ``1.5GiB``, ``2048`` (the ``checkpointBudget`` key).

    Decimal units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) of 1024.

    Raises:
        UsageError: naming the value, when it is not a non-negative size.
    """
    if isinstance(value, bool):
        raise UsageError(f"checkpointBudget: expected a size such as '5GB', got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
        if m is None:
            raise UsageError(
                f"checkpointBudget: expected a size such as '5GB' or '500MiB', got {value!r}"
            )
        number, unit = float(m.group(1)), m.group(2).upper()
    if unit not in _UNITS:
        raise UsageError(
            f"checkpointBudget: unknown unit {unit!r} in {value!r} "
            "(use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB)"
        )
    if not number >= 0 or number == float("inf"):
        raise UsageError(f"checkpointBudget: the size must be finite and >= 0, got {value!r}")
    return int(number * _UNITS[unit])


# copying ----------------------------------------------------------------------------------------


def _copy_file(src: Path, dst: Path) -> None:
    """Copies one regular file: reflink, else copy_file_range, else read/write. Keeps the mode."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        done = False
        try:
            import fcntl

            fcntl.ioctl(fo.fileno(), _FICLONE, fi.fileno())
            done = True
        except (OSError, ImportError):
            pass
        if not done and hasattr(os, "copy_file_range"):
            try:
                while os.copy_file_range(fi.fileno(), fo.fileno(), 1 << 30) > 0:
                    pass
                done = True
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                fo.seek(0)
                fo.truncate()
                fi.seek(0)
        if not done:
            shutil.copyfileobj(fi, fo, 1 << 20)
    shutil.copymode(src, dst)


def _stat_key(p: Path) -> tuple[int, int]:
    st = p.stat()
    return (st.st_size, st.st_mtime_ns)


def _manifest(src: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of every regular file under ``src``."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, _dirs, filenames in os.walk(src, followlinks=False):
        for f in filenames:
            p = Path(dirpath) / f
            if not p.is_symlink():
                out[str(p.relative_to(src))] = _stat_key(p)
    return out


def copy_tree(
    src: Path, dst: Path, *, settle: bool = False, not_after_ns: int | None = None
) -> tuple[int, int]:
    """Copies the directory tree ``src`` into the new directory ``dst``: ``(bytes, files)``.

    Regular files are copied (see :func:`_copy_file`), directories recreated, symbolic links
    copied as links. With ``settle``, the copy must be of one state of ``src``: when a file
    changed, appeared or vanished while the tree was copied, :class:`CheckpointError` is raised.
    With ``not_after_ns``, a file modified after that time (``time.time_ns()`` clock) means the
    tree no longer holds the state of that moment: :class:`CheckpointError` too.
    """
    before = _manifest(src) if settle or not_after_ns is not None else {}
    if not_after_ns is not None:
        late = [k for k, (_, mtime) in before.items() if mtime > not_after_ns]
        if late:
            raise CheckpointError(
                f"{src / late[0]} was written after the checkpoint was reported: the trial "
                "already writes its next checkpoint"
            )
    dst.mkdir(parents=True, exist_ok=False)
    total = files = 0
    try:
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            rel = Path(dirpath).relative_to(src)
            here = dst / rel
            for d in dirnames:
                s = Path(dirpath) / d
                if s.is_symlink():
                    os.symlink(os.readlink(s), here / d)
                else:
                    (here / d).mkdir()
            for f in filenames:
                s, t = Path(dirpath) / f, here / f
                if s.is_symlink():
                    os.symlink(os.readlink(s), t)
                    continue
                _copy_file(s, t)
                total += t.stat().st_size
                files += 1
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    except FileNotFoundError as e:
        if not settle:
            raise
        raise CheckpointError(
            f"{e.filename} vanished while the checkpoint was copied: the trial already writes "
            "its next checkpoint"
        ) from None
    if settle and _manifest(src) != before:
        raise CheckpointError(
            f"{src} changed while it was copied: the trial already writes its next checkpoint"
        )
    return total, files


def _fsync_dir(p: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)


# the registry -----------------------------------------------------------------------------------


class CheckpointManager:
    """The committed checkpoints of an experiment's trials (thread-safe).

    Args:
        root: Where snapshots live (created if missing). Its state is rebuilt from the files:
            temporary directories of a killed copy are removed, committed snapshots are kept.
        budget_bytes: The disk budget for all snapshots (None: unlimited). :meth:`gc` deletes
            unneeded snapshots, oldest first, until the total fits; it never deletes a needed one.
        durable: fsync each marker and directory on commit, so a committed snapshot survives a
            power loss too. Not needed against a killed manager (a rename is atomic for every
            other process whatever happens to this one); off by default (an fsync costs
            milliseconds to tens of milliseconds per commit).
    """

    def __init__(
        self, root: Path | str, budget_bytes: int | None = None, *, durable: bool = False
    ) -> None:
        if budget_bytes is not None and budget_bytes < 0:
            raise UsageError(f"checkpoint budget must be >= 0 bytes, got {budget_bytes}")
        self.root = Path(root)
        self.budget_bytes = budget_bytes
        self.durable = durable
        self._lock = threading.RLock()
        self._snaps: dict[str, dict[int, Snapshot]] = {}
        self._pins: dict[Path, int] = {}
        self._seq = 0
        self.over_budget_logged = False
        self.root.mkdir(parents=True, exist_ok=True)
        self._rebuild()

    # state ---------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        for tdir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            trial = tdir.name
            for d in sorted(tdir.iterdir()):
                if d.name.startswith(_TMP_PREFIX):
                    m = _TMP_STEP_RE.match(d.name)
                    target = tdir / f"step-{m.group(1)}" if m else None
                    if target is not None and self._read_marker(d) and not target.exists():
                        # killed between the two renames of a replaced step: finish the rename
                        os.rename(d, target)
                    else:
                        log.info("checkpoints: removing the unfinished copy %s", d)
                        _rmtree(d)
                        continue
                    d = target
                m = _STEP_RE.match(d.name)
                if m is None or not d.is_dir():
                    continue
                meta = self._read_marker(d)
                if meta is None:
                    log.info("checkpoints: removing %s (no %s marker)", d, MARKER)
                    _rmtree(d)
                    continue
                step = int(m.group(1))
                snap = Snapshot(trial, step, d, int(meta.get("bytes", 0)), int(meta.get("seq", 0)))
                self._snaps.setdefault(trial, {})[step] = snap
                self._seq = max(self._seq, snap.seq)

    @staticmethod
    def _read_marker(d: Path) -> dict[str, Any] | None:
        try:
            meta = json.loads((d / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not (d / DATA).is_dir():
            return None
        return meta

    def snapshots(self, trial_id: str | None = None) -> list[Snapshot]:
        """The committed snapshots (of one trial, or all), oldest commit first."""
        with self._lock:
            groups = [self._snaps.get(trial_id, {})] if trial_id else list(self._snaps.values())
            return sorted((s for g in groups for s in g.values()), key=lambda s: s.seq)

    def total_bytes(self) -> int:
        """The logical size of every committed snapshot."""
        with self._lock:
            return sum(s.bytes for g in self._snaps.values() for s in g.values())

    def latest(self, trial_id: str) -> tuple[int, Path] | None:
        """``(step, data_dir)`` of the trial's latest committed snapshot, or None."""
        snap = self.latest_snapshot(trial_id)
        return None if snap is None else (snap.step, snap.data)

    def latest_snapshot(self, trial_id: str) -> Snapshot | None:
        """The trial's latest committed snapshot (its most recent commit), or None."""
        with self._lock:
            g = self._snaps.get(trial_id)
            if not g:
                return None
            return max(g.values(), key=lambda s: s.seq)

    # commit --------------------------------------------------------------------------------
    def commit(
        self, trial_id: str, step: int, src_dir: Path | str, *, reported_at: float | None = None
    ) -> Path:
        """Snapshots ``src_dir`` as the trial's checkpoint at ``step``; returns the data dir.

        The snapshot is immutable and independent of ``src_dir`` (see the module docstring for
        how files are copied). Committing a step at or below the trial's latest discards the
        snapshots above it (a retried trial starts a new timeline), so the latest is always the
        most recent commit. Older snapshots of the trial are deleted once the new one is in
        place: a trial only ever continues from its latest.

        Args:
            trial_id: The trial.
            step: The step the trial reported with ``checkpoint=True``.
            src_dir: Its checkpoint directory.
            reported_at: When the trial reported it (epoch seconds, the channel message's
                ``t``). A file modified after that belongs to the trial's next checkpoint, so
                this one can no longer be taken: it is refused rather than mislabeled.

        Raises:
            CheckpointError: ``src_dir`` is missing, holds files written after ``reported_at``,
                or changed during the copy (the trial is already writing its next checkpoint);
                nothing is committed then and the previous snapshot stays the latest (the next
                report with ``checkpoint=True`` commits again).
        """
        _check_id(trial_id)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise CheckpointError(f"trial {trial_id}: bad checkpoint step {step!r}")
        src = Path(src_dir)
        if not src.is_dir():
            raise CheckpointError(
                f"trial {trial_id} reported a checkpoint at step {step}, but its checkpoint "
                f"directory {src} does not exist"
            )
        tdir = self.root / trial_id
        tdir.mkdir(parents=True, exist_ok=True)
        tmp = tdir / f"{_TMP_PREFIX}step-{step}-{uuid.uuid4().hex[:8]}"
        try:
            late = None if reported_at is None else int(reported_at * 1e9) + _MTIME_SLACK_NS
            nbytes, nfiles = copy_tree(src, tmp / DATA, settle=True, not_after_ns=late)
        except BaseException:
            _rmtree(tmp)
            raise
        with self._lock:
            self._seq += 1
            seq = self._seq
        meta = {"trial": trial_id, "step": step, "bytes": nbytes, "files": nfiles, "seq": seq}
        with open(tmp / MARKER, "w", encoding="utf-8") as f:
            json.dump(meta, f)
            if self.durable:
                f.flush()
                os.fsync(f.fileno())
        final = tdir / f"step-{step}"
        with self._lock:
            if final.exists():  # the same step again (a retried trial): replace it
                old = tdir / f"{_TMP_PREFIX}old-{uuid.uuid4().hex[:8]}"
                os.rename(final, old)
                self._snaps.get(trial_id, {}).pop(step, None)
                os.rename(tmp, final)
                _rmtree(old)
            else:
                os.rename(tmp, final)
            if self.durable:
                _fsync_dir(tdir)
            snap = Snapshot(trial_id, step, final, nbytes, seq)
            g = self._snaps.setdefault(trial_id, {})
            g[step] = snap
            for other in [s for s in g.values() if s is not snap]:
                self._delete(other, f"superseded by step {step}")
        return snap.data

    # restore -------------------------------------------------------------------------------
    def prepare_restore(self, source_trial_id: str, dest_dir: Path | str) -> int | None:
        """A private copy of the source trial's latest committed snapshot, as ``dest_dir``.

        ``dest_dir`` must not exist or be empty; it is built next to itself and renamed into
        place, so it is complete or absent. Returns the snapshot's step, or None (nothing is
        written) when the source has no committed checkpoint: never exploit such a donor.
        Safe to call from a worker thread while other trials commit (the snapshot is pinned
        against :meth:`gc` during the copy).
        """
        dest = Path(dest_dir)
        with self._lock:
            snap = self.latest_snapshot(source_trial_id)
            if snap is None:
                return None
            self._pins[snap.path] = self._pins.get(snap.path, 0) + 1
        try:
            if dest.exists():
                if any(dest.iterdir()):
                    raise CheckpointError(f"restore directory {dest} is not empty")
                dest.rmdir()
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.parent / f"{_TMP_PREFIX}{dest.name}-{uuid.uuid4().hex[:8]}"
            try:
                copy_tree(snap.data, tmp)
                os.rename(tmp, dest)
            except BaseException:
                _rmtree(tmp)
                raise
        finally:
            with self._lock:
                n = self._pins.get(snap.path, 1) - 1
                if n:
                    self._pins[snap.path] = n
                else:
                    self._pins.pop(snap.path, None)
        return snap.step

    # garbage collection --------------------------------------------------------------------
    def gc(self, needed: Iterable[str]) -> list[Snapshot]:
        """Deletes what no trial can need, then enforces the budget. Returns what it deleted.

        A trial's older snapshots are never needed (deleted). A trial's latest is needed while
        its id is in ``needed`` (the scheduler's ``needed_checkpoints()`` plus every trial that
        is running or paused); it is never deleted. The latest snapshots of the other trials
        are kept for the user while the budget allows, and deleted oldest commit first when
        the total exceeds it. When only needed snapshots are left and the total still exceeds
        the budget, that is logged (once until it fits again).
        """
        keep = set(needed)
        deleted: list[Snapshot] = []
        with self._lock:
            for g in list(self._snaps.values()):
                latest = max(g.values(), key=lambda s: s.seq)
                for s in [s for s in g.values() if s is not latest]:
                    if self._delete(s, "older than the trial's latest"):
                        deleted.append(s)
            if self.budget_bytes is None:
                return deleted
            total = self.total_bytes()
            if total <= self.budget_bytes:
                self.over_budget_logged = False
                return deleted
            candidates = sorted(
                (s for g in self._snaps.values() for s in g.values() if s.trial_id not in keep),
                key=lambda s: s.seq,
            )
            for s in candidates:
                if total <= self.budget_bytes:
                    break
                if self._delete(s, "over the checkpoint budget"):
                    deleted.append(s)
                    total -= s.bytes
            if total > self.budget_bytes:
                if not self.over_budget_logged:
                    log.warning(
                        "checkpoints: %d bytes kept, over the %d-byte budget, because every "
                        "remaining snapshot may still be exploited or resumed",
                        total,
                        self.budget_bytes,
                    )
                self.over_budget_logged = True
            else:
                self.over_budget_logged = False
        return deleted

    def forget(self, trial_id: str) -> None:
        """Deletes every snapshot of a trial (for a trial that starts over from scratch)."""
        with self._lock:
            for s in list(self._snaps.get(trial_id, {}).values()):
                self._delete(s, "forgotten")

    def _delete(self, snap: Snapshot, why: str) -> bool:
        """Removes one snapshot unless a restore is copying it. Call with the lock held."""
        if self._pins.get(snap.path):
            return False
        g = self._snaps.get(snap.trial_id, {})
        if g.get(snap.step) is snap:
            del g[snap.step]
            if not g:
                self._snaps.pop(snap.trial_id, None)
        log.debug("checkpoints: deleting %s (%s)", snap.path, why)
        # rename first so a kill mid-delete leaves a temporary dir, never a half snapshot
        trash = snap.path.parent / f"{_TMP_PREFIX}del-{snap.path.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(snap.path, trash)
        except OSError:
            trash = snap.path
        _rmtree(trash)
        return True


def _check_id(trial_id: str) -> None:
    if not trial_id or "/" in trial_id or trial_id in (".", "..") or trial_id.startswith("."):
        raise CheckpointError(f"bad trial id for a checkpoint: {trial_id!r}")
