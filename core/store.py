"""The experiment store: one SQLite database (WAL) per experiment, ``<exp_dir>/experiment.db``.

The manager is the only writer (:class:`Store`); everybody else reads through
:class:`StoreReader`, which opens the file read-only and works while the manager writes. Every
write is one short transaction, so a crash loses at most the write in flight. The tables and the
API are described in ``docs/internals.md`` ("Store").
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hyperloom._store_read import (
    BUSY_TIMEOUT_S,
    EXPERIMENT_STATUSES,
    SCHEMA,
    SCHEMA_VERSION,
    StoreReader,
    _Queries,
    check_schema,
    db_path,
    migrate,
)
from hyperloom._store_record import TrialRecord, dumps, floats_json, pack_floats, pack_ints
from hyperloom.errors import StoreError
from hyperloom.paths import private_file, tighten
from hyperloom.types import TrialStatus

__all__ = ["EXPERIMENT_STATUSES", "KEEP", "SCHEMA_VERSION", "Store", "StoreReader", "TrialRecord"]

logger = logging.getLogger(__name__)


def _connect_rw(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e):
            raise StoreError(
                f"{str(path)!r} is not a hyperloom experiment store ({e}); give the directory of "
                f"an experiment that hyperloom created"
            ) from e
        raise StoreError(
            f"cannot open the experiment store {str(path)!r} for writing ({e}); check that its "
            f"directory is writable"
        ) from e
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"cannot put the store {str(path)!r} in WAL mode (got {mode!r})")
    return conn


def _write_error(path: Path, e: sqlite3.Error) -> StoreError:
    """A StoreError for a failed write, with what to do."""
    text = str(e)
    low = text.lower()
    if "full" in low:
        hint = "the disk is full; free space, then `hyperloom resume` continues the experiment"
    elif "locked" in low or "busy" in low:
        hint = (
            "another process holds a write lock on it (an open sqlite3 shell?); close it, then "
            "`hyperloom resume` continues the experiment"
        )
    elif "readonly" in low or "read-only" in low:
        hint = "it became read-only; fix its permissions, then `hyperloom resume`"
    else:
        hint = "what was recorded before stays; `hyperloom resume` continues once it is fixed"
    return StoreError(f"cannot write the experiment store {str(path)!r}: {text}; {hint}")


def _check_writable(directory: Path) -> None:
    if not directory.is_dir():
        raise StoreError(f"the experiment directory {str(directory)!r} does not exist")
    # A real probe, not os.access: root passes access checks, and read-only mounts, immutable
    # directories or ACLs only show when a file is actually created.
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as e:
        raise StoreError(
            f"the experiment directory {str(directory)!r} is not writable ({e.strerror}); fix "
            f"its permissions or choose another experimentWorkingDirectory / HYPERLOOM_HOME"
        ) from None


class _Keep:
    """The type of :data:`KEEP`: ``finish_trial(value=KEEP)`` leaves the stored value as it is."""


KEEP = _Keep()


def _status_name(status: TrialStatus | str) -> str:
    name = status.name if isinstance(status, TrialStatus) else str(status)
    if name not in TrialStatus.__members__:
        raise StoreError(f"unknown trial status {status!r}")
    return name


def _finite(value: float, trial_id: str) -> None:
    if not math.isfinite(value):
        raise StoreError(f"trial {trial_id!r}: metric value {value!r} is not a finite number")


def _space_dict(space: Any) -> Any:
    return space.to_nni() if hasattr(space, "to_nni") else space


class Store(_Queries):
    """The writer of an experiment store. Only the manager holds one.

    Build it with :meth:`create` (a new experiment) or :meth:`open` (resume). Every reader method
    of :class:`StoreReader` is available too. Methods are thread-safe (one internal lock), but the
    store is meant to be written from the manager's loop only.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        """Use :meth:`create` or :meth:`open` instead."""
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._group = 1  # writes per commit (group_writes)
        self._grouped = 0  # writes pending in the open group

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        experiment_id: str,
        name: str | None,
        config: Mapping[str, Any],
        space: Any,
        t: float | None = None,
    ) -> Store:
        """Creates the store of a new experiment.

        Args:
            path: The experiment directory (it must exist and be writable) or the ``.db`` path.
            experiment_id: The experiment's id.
            name: Its display name (``experimentName``), or None.
            config: The resolved config as a JSON-able mapping (NNI v2 keys).
            space: The search space: a :class:`~hyperloom.space.SearchSpace` or its NNI dict.
            t: Creation time (epoch seconds); now by default.

        Raises:
            StoreError: The directory is missing or not writable, or a store already exists.
        """
        file = db_path(path)
        _check_writable(file.parent)
        if file.exists():
            raise StoreError(
                f"an experiment store already exists at {str(file)!r}; resume it instead, or "
                f"choose another directory"
            )
        try:
            config_json, space_json = dumps(dict(config)), dumps(_space_dict(space))
        except (TypeError, ValueError) as e:
            raise StoreError(f"cannot record the experiment's config or space as JSON: {e}") from e
        # Built under a temporary name and renamed into place once committed: a manager killed
        # at any instant leaves either no store or a whole one, never an empty file that resume
        # cannot read. The file is 0600 before SQLite opens it (its -wal/-shm take that mode).
        tmp = file.with_name(file.name + ".new")
        parts = [tmp.with_name(tmp.name + x) for x in ("", "-wal", "-shm")]
        for leftover in parts:  # of a create killed earlier
            with contextlib.suppress(OSError):
                leftover.unlink()
        try:
            private_file(tmp)
        except OSError as e:
            raise StoreError(
                f"cannot create the experiment store {str(file)!r}: {e.strerror}"
            ) from e
        conn = _connect_rw(tmp)
        now = time.time() if t is None else t
        try:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in filter(None, (s.strip() for s in SCHEMA.split(";"))):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('created_by', ?)",
                (str(SCHEMA_VERSION), "hyperloom"),
            )
            conn.execute(
                "INSERT INTO experiment (id, name, status, created, updated, config_json, "
                "space_json, next_sequence) VALUES (?, ?, 'CREATED', ?, ?, ?, ?, 1)",
                (experiment_id, name, now, now, config_json, space_json),
            )
            conn.execute("COMMIT")
            conn.close()  # the last connection: SQLite checkpoints and removes the -wal
            if file.exists():
                raise StoreError(
                    f"an experiment store already exists at {str(file)!r}; resume it instead, "
                    f"or choose another directory"
                )
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()
            for leftover in parts:
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
        conn = _connect_rw(file)
        logger.debug("created store %s for experiment %s", file, experiment_id)
        return cls(file, conn)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Opens an existing store for writing (resume).

        Raises:
            StoreError: No store there, the directory is not writable, the file is not a
                hyperloom store, or it was written by a newer hyperloom.
        """
        file = db_path(path)
        if not file.is_file():
            raise StoreError(f"no experiment store at {str(file)!r}: the file does not exist")
        _check_writable(file.parent)
        for part in (file, file.with_name(file.name + "-wal"), file.with_name(file.name + "-shm")):
            tighten(part, 0o600)  # stores made before 0600 was the rule
        conn = _connect_rw(file)
        try:
            migrate(conn, check_schema(conn, file))
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(f"cannot upgrade the experiment store {str(file)!r}: {e}") from e
        except BaseException:
            conn.close()
            raise
        return cls(file, conn)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def group_writes(self, every: int = 2000) -> None:
        """From now on, commit writes in groups of ``every`` (each write still all-or-nothing,
        as a savepoint): for a simulated run, which writes tens of thousands of rows a second
        and has no process to survive a crash. Readers see the writes at each group's commit;
        :meth:`flush` and :meth:`close` commit what is pending."""
        self._group = max(1, int(every))

    def flush(self) -> None:
        """Commits the writes pending in a group (see :meth:`group_writes`)."""
        with self._lock:
            if self._grouped:
                self._grouped = 0
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as e:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise _write_error(self.path, e) from e

    @contextlib.contextmanager
    def _grouped_tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if not self._grouped:
                    self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("SAVEPOINT w")
            except sqlite3.Error as e:
                raise _write_error(self.path, e) from e
            self._grouped += 1
            try:
                yield self._conn
            except BaseException as e:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK TO w")
                    self._conn.execute("RELEASE w")
                if isinstance(e, sqlite3.Error) and not isinstance(e, sqlite3.IntegrityError):
                    raise _write_error(self.path, e) from e
                raise
            try:
                self._conn.execute("RELEASE w")
            except sqlite3.Error as e:
                raise _write_error(self.path, e) from e
        if self._grouped >= self._group:
            self.flush()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A database error (disk full, a lock another process holds
        past the busy timeout, an I/O error) becomes a :class:`StoreError` that says what
        happened; the transaction is rolled back, so what was recorded before stays whole."""
        if self._group > 1:
            with self._grouped_tx() as c:
                yield c
            return
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise _write_error(self.path, e) from e
            try:
                yield self._conn
            except sqlite3.IntegrityError:  # the caller's error (a reused id), not a store fault
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _write_error(self.path, e) from e
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _write_error(self.path, e) from e

    def _update_trial(self, trial_id: str, sql: str, args: Sequence[Any]) -> None:
        with self._tx() as c:
            if c.execute(sql, (*args, trial_id)).rowcount != 1:
                raise StoreError(f"no trial {trial_id!r} in the store {str(self.path)!r}")

    # -- experiment ----------------------------------------------------------------------------

    def set_experiment_status(self, status: str, message: str | None = None) -> None:
        """Sets the experiment status (CREATED, RUNNING, DONE, STOPPED or FAILED) and message."""
        if status not in EXPERIMENT_STATUSES:
            raise StoreError(
                f"unknown experiment status {status!r}; use one of {', '.join(EXPERIMENT_STATUSES)}"
            )
        with self._tx() as c:
            c.execute(
                "UPDATE experiment SET status = ?, message = ?, updated = ?",
                (status, message, time.time()),
            )

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Replaces the stored config (a resume that gives the experiment more budget)."""
        with self._tx() as c:
            c.execute(
                "UPDATE experiment SET config_json = ?, updated = ?",
                (dumps(dict(config)), time.time()),
            )

    def set_manager_pid(self, pid: int | None) -> None:
        """Records the pid of the manager that drives the experiment (None when none does)."""
        with self._tx() as c:
            c.execute("UPDATE experiment SET manager_pid = ?, updated = ?", (pid, time.time()))

    def peek_sequence(self) -> int:
        """The sequence number :meth:`allocate_sequence` will give next (nothing is reserved)."""
        row = self._conn.execute("SELECT next_sequence FROM experiment").fetchone()
        return int(row[0])

    def allocate_sequence(self) -> int:
        """The next trial sequence number (from 1). Persisted at once; never reused."""
        with self._tx() as c:
            row = c.execute(
                "UPDATE experiment SET next_sequence = next_sequence + 1 "
                "RETURNING next_sequence - 1"
            ).fetchone()
        return int(row[0])

    # -- trials --------------------------------------------------------------------------------

    def add_trial(
        self,
        trial_id: str,
        sequence: int,
        params: Mapping[str, Any],
        *,
        t: float | None = None,
        parent: str | None = None,
        perturbation: Mapping[str, Any] | None = None,
    ) -> None:
        """Records a new trial as WAITING with the parameters it will run with (and, for a
        warm-started trial, the trial it starts from and what the tuner changed)."""
        try:
            with self._tx() as c:
                c.execute(
                    "INSERT INTO trials (trial_id, sequence, params_json, status, created, "
                    "parent, perturbation_json) VALUES (?, ?, ?, 'WAITING', ?, ?, ?)",
                    (
                        trial_id,
                        sequence,
                        dumps(dict(params)),
                        time.time() if t is None else t,
                        parent,
                        None if perturbation is None else dumps(dict(perturbation)),
                    ),
                )
        except sqlite3.IntegrityError as e:
            raise StoreError(
                f"cannot add trial {trial_id!r} (sequence {sequence}): id or sequence already used"
            ) from e

    def start_trial(
        self,
        trial_id: str,
        *,
        started: float,
        pid: int | None = None,
        pgid: int | None = None,
        handle: Mapping[str, Any] | None = None,
        devices: Sequence[int] = (),
    ) -> None:
        """Marks a trial RUNNING and records how to find its process again."""
        self._update_trial(
            trial_id,
            "UPDATE trials SET status = 'RUNNING', started = ?, pid = ?, pgid = ?, "
            "handle_json = ?, devices_json = ? WHERE trial_id = ?",
            (
                started,
                pid,
                pgid,
                None if handle is None else dumps(dict(handle)),
                dumps(list(devices)),
            ),
        )

    def add_metric(
        self,
        trial_id: str,
        step: int | None,
        value: float,
        metrics: Mapping[str, Any] | None = None,
        t: float | None = None,
        offset: int | None = None,
    ) -> int:
        """Records an intermediate report, and the channel offset after it, in one transaction.

        A report for a step already recorded replaces it, so re-reading a channel file from an
        older offset is harmless. ``step=None`` means the step after the last one.

        Returns:
            The step recorded.
        """
        _finite(value, trial_id)
        with self._tx() as c:
            if step is None:
                step = c.execute(
                    "SELECT coalesce(max(step) + 1, 0) FROM metrics WHERE trial_id = ?",
                    (trial_id,),
                ).fetchone()[0]
            c.execute(
                "INSERT OR REPLACE INTO metrics (trial_id, step, value, metrics_json, t) "
                "VALUES (?, ?, ?, ?, ?)",
                (trial_id, step, float(value), dumps(dict(metrics)) if metrics else None, t),
            )
            cur = c.execute(
                "UPDATE trials SET intermediate_blob = NULL, intermediate_json = NULL, "
                "steps_blob = NULL, channel_offset = coalesce(?, channel_offset) WHERE trial_id = ?",
                (offset, trial_id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no trial {trial_id!r} in the store {str(self.path)!r}")
        return int(step)

    def set_final(
        self,
        trial_id: str,
        value: float,
        metrics: Mapping[str, Any] | None = None,
        t: float | None = None,
        offset: int | None = None,
    ) -> None:
        """Records the final metric (and extra named metrics) of a trial, and the channel offset."""
        del t  # the final report's time is the trial's end, recorded by finish_trial
        _finite(value, trial_id)
        self._update_trial(
            trial_id,
            "UPDATE trials SET value = ?, metrics_json = ?, final_seen = 1, "
            "channel_offset = coalesce(?, channel_offset) WHERE trial_id = ?",
            (float(value), dumps(dict(metrics or {})), offset),
        )

    def steps(self, trial_id: str) -> list[int]:
        """The steps recorded for a trial, in order (a resumed manager's duplicate check)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT step FROM metrics WHERE trial_id = ? ORDER BY step", (trial_id,)
            ).fetchall()
        return [int(step) for (step,) in rows]

    def clear_metrics(self, trial_id: str) -> None:
        """Forgets what a trial reported (metric rows, final value, channel offset), in one
        transaction: its attempt was lost and it starts again from its first step."""
        with self._tx() as c:
            c.execute("DELETE FROM metrics WHERE trial_id = ?", (trial_id,))
            cur = c.execute(
                "UPDATE trials SET value = NULL, metrics_json = NULL, final_seen = 0, "
                "channel_offset = 0, intermediate_blob = NULL, intermediate_json = NULL, "
                "steps_blob = NULL WHERE trial_id = ?",
                (trial_id,),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no trial {trial_id!r} in the store {str(self.path)!r}")

    def truncate_metrics(self, trial_id: str, from_step: int) -> None:
        """Forgets a trial's reports at ``from_step`` and later (a resumed trial reports them
        again from its checkpoint)."""
        with self._tx() as c:
            c.execute(
                "DELETE FROM metrics WHERE trial_id = ? AND step >= ?", (trial_id, int(from_step))
            )
            c.execute(
                "UPDATE trials SET intermediate_blob = NULL, intermediate_json = NULL, "
                "steps_blob = NULL, value = NULL, final_seen = 0, channel_offset = 0 "
                "WHERE trial_id = ?",
                (trial_id,),
            )

    def set_checkpoint(self, trial_id: str, step: int, directory: str) -> None:
        """Records a trial's last committed checkpoint (the step it can continue from)."""
        self._update_trial(
            trial_id,
            "UPDATE trials SET checkpoint_json = ? WHERE trial_id = ?",
            (dumps({"step": int(step), "dir": str(directory)}),),
        )

    def set_status(self, trial_id: str, status: TrialStatus | str, reason: str | None = None) -> None:
        """Sets a trial's status without ending it (PAUSED, or RUNNING again on resume)."""
        self._update_trial(
            trial_id,
            "UPDATE trials SET status = ?, reason = ? WHERE trial_id = ?",
            (_status_name(status), reason),
        )

    def set_offset(self, trial_id: str, offset: int) -> None:
        """Records how far the trial's channel file has been read (bytes)."""
        self._update_trial(
            trial_id, "UPDATE trials SET channel_offset = ? WHERE trial_id = ?", (offset,)
        )

    def finish_trial(
        self,
        trial_id: str,
        status: TrialStatus | str,
        *,
        ended: float,
        exit_code: int | None = None,
        reason: str | None = None,
        value: float | _Keep | None = KEEP,
        values: Sequence[float] | None = None,
    ) -> None:
        """Records how a trial ended: its final status, end time, exit code and reason, and the
        value that counts as :func:`hyperloom.types.outcome` decided it (None clears a value the
        trial reported but that does not count, e.g. a failed trial's; ``KEEP`` leaves the column
        as the channel set it).

        It also caches the trial's intermediate values in a packed form, so that loading many
        ended trials (``trials --json``, resume) does not go through their metric rows.
        """
        with self._tx() as c:
            rows = c.execute(
                "SELECT step, value FROM metrics WHERE trial_id = ? ORDER BY step", (trial_id,)
            ).fetchall()
            inter = [v for _s, v in rows]
            steps = [s for s, _v in rows]
            cur = c.execute(
                "UPDATE trials SET status = ?, ended = ?, exit_code = ?, reason = ?, "
                "intermediate_blob = ?, intermediate_json = ?, steps_blob = ? WHERE trial_id = ?",
                (
                    _status_name(status),
                    ended,
                    exit_code,
                    reason,
                    pack_floats(inter),
                    floats_json(inter),
                    None if steps == list(range(len(steps))) else pack_ints(steps),
                    trial_id,
                ),
            )
            if not isinstance(value, _Keep):
                c.execute(
                    "UPDATE trials SET value = ?, values_json = ? WHERE trial_id = ?",
                    (
                        None if value is None else float(value),
                        dumps([float(v) for v in values]) if values and len(values) > 1 else None,
                        trial_id,
                    ),
                )
            if cur.rowcount != 1:
                raise StoreError(f"no trial {trial_id!r} in the store {str(self.path)!r}")

    def add_event(
        self,
        kind: str,
        trial_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
        t: float | None = None,
    ) -> int:
        """Appends an event (assessor verdict, stop request, rejected line, ...). Returns its id."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO events (t, kind, trial_id, payload_json) VALUES (?, ?, ?, ?)",
                (
                    time.time() if t is None else t,
                    kind,
                    trial_id,
                    None if payload is None else dumps(dict(payload)),
                ),
            )
        return int(cur.lastrowid or 0)

    def import_records(self, records: Iterable[TrialRecord], *, batch: int = 500) -> int:
        """Bulk-inserts ended trials (benchmarks, imports): a few large transactions.

        Intermediate values get steps 0, 1, ... and the trial's end time. Sequence numbers are
        taken from the records, and ``next_sequence`` moves past the largest.

        Returns:
            The number of trials inserted.
        """
        n = 0
        top = 0
        pending: list[TrialRecord] = []

        def flush() -> None:
            with self._tx() as c:
                c.executemany(
                    "INSERT INTO trials (trial_id, sequence, params_json, status, value, "
                    "metrics_json, created, started, ended, exit_code, reason, devices_json, "
                    "final_seen, intermediate_blob, intermediate_json, values_json, parent, "
                    "perturbation_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?)",
                    [
                        (
                            r.trial_id,
                            r.sequence,
                            dumps(r.params),
                            r.status.name,
                            r.value,
                            dumps(r.metrics),
                            r.started,
                            r.started,
                            r.ended,
                            r.exit_code,
                            r.reason,
                            dumps(list(r.devices)),
                            int(r.value is not None),
                            pack_floats(r.intermediate),
                            floats_json(r.intermediate),
                            dumps(list(r.values)) if r.values and len(r.values) > 1 else None,
                            r.parent,
                            None if r.perturbation is None else dumps(r.perturbation),
                        )
                        for r in pending
                    ],
                )
                c.executemany(
                    "INSERT INTO metrics (trial_id, step, value, t) VALUES (?, ?, ?, ?)",
                    [
                        (r.trial_id, i, float(v), r.ended)
                        for r in pending
                        for i, v in enumerate(r.intermediate)
                    ],
                )
                c.execute("UPDATE experiment SET next_sequence = max(next_sequence, ?)", (top + 1,))
            pending.clear()

        for rec in records:
            pending.append(rec)
            top = max(top, rec.sequence)
            n += 1
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        return n

    def close(self) -> None:
        """Checkpoints and closes the database. Safe to call twice."""
        try:
            self.flush()
        except StoreError as e:
            logger.error("%s", e)
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
