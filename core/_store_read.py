"""The read side of the experiment store: schema, connections and the queries.

Private: import :class:`hyperloom.store.StoreReader`, :class:`hyperloom.store.Store` and
:class:`hyperloom.store.TrialRecord` from :mod:`hyperloom.store`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hyperloom._store_record import TrialRecord, json_text, loads, record, result
from hyperloom.errors import StoreError
from hyperloom.paths import DB_NAME
from hyperloom.types import TrialResult, TrialStatus

__all__ = ["SCHEMA_VERSION", "StoreReader", "TrialRecord"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 10.0
EXPERIMENT_STATUSES = ("CREATED", "RUNNING", "DONE", "STOPPED", "FAILED")

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiment (
    id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, created REAL NOT NULL,
    updated REAL NOT NULL, config_json TEXT NOT NULL, space_json TEXT NOT NULL,
    next_sequence INTEGER NOT NULL, manager_pid INTEGER, message TEXT
);
CREATE TABLE trials (
    trial_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL UNIQUE, params_json TEXT NOT NULL,
    status TEXT NOT NULL, value REAL, metrics_json TEXT, created REAL, started REAL, ended REAL,
    exit_code INTEGER, reason TEXT, pid INTEGER, pgid INTEGER, handle_json TEXT,
    devices_json TEXT, channel_offset INTEGER NOT NULL DEFAULT 0,
    final_seen INTEGER NOT NULL DEFAULT 0, intermediate_blob BLOB,
    intermediate_json TEXT, values_json TEXT, parent TEXT, checkpoint_json TEXT,
    perturbation_json TEXT, steps_blob BLOB
);
CREATE INDEX trials_status ON trials (status);
CREATE TABLE metrics (
    trial_id TEXT NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL, metrics_json TEXT,
    t REAL, PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, t REAL NOT NULL, kind TEXT NOT NULL, trial_id TEXT,
    payload_json TEXT
);
CREATE INDEX events_trial ON events (trial_id);
CREATE TABLE state (name TEXT PRIMARY KEY, data_json TEXT NOT NULL, t REAL NOT NULL);
"""

# Trial columns in TrialRecord order. An ended trial's intermediate values are cached twice by
# finish_trial: packed little-endian float64 (intermediate_blob; 10,000 trials x 100 values load in
# well under a second) and as a JSON array (intermediate_json; spliced as is into `trials --json`,
# so a million floats are never printed again). For other trials the values are aggregated in SQL,
# printed with 17 significant digits so that every float survives the round trip exactly.
_TRIAL_COLUMNS = (
    "t.trial_id, t.sequence, t.status, t.params_json, t.value, t.metrics_json, t.started, "
    "t.ended, t.exit_code, t.reason, t.devices_json, t.pid, t.pgid, t.handle_json, "
    "t.channel_offset, t.final_seen"
)
# Schema v2's lineage and objective columns, selected after the intermediate values (a v1
# store opened read-only, which cannot be migrated, reads them as NULL).
# A trial recorded without values (v1, or one objective) has values [value].
V2_COLUMNS = ("values_json", "parent", "checkpoint_json", "perturbation_json")
_VALUE_AS_LIST = "CASE WHEN t.value IS NULL THEN NULL ELSE '[' || printf('%!.17g', t.value) || ']' END"
_V2_SQL = f"coalesce(t.values_json, {_VALUE_AS_LIST}), t.parent, t.checkpoint_json, t.perturbation_json"
_V1_SQL = f"{_VALUE_AS_LIST}, NULL, NULL, NULL"
# Schema v3: an ended trial's steps, packed like its values, when they are not 0, 1, 2, ... (a
# trial resumed from a checkpoint or warm-started, or one that reports sparse steps); NULL else.
_V3_SQL = f"{_V2_SQL}, t.steps_blob"
_AGGREGATE_SQL = (
    "(SELECT '[' || coalesce(group_concat(v, ','), '') || ']' FROM (SELECT printf('%!.17g', "
    "m.value) AS v FROM metrics m WHERE m.trial_id = t.trial_id ORDER BY m.step))"
)
_INTERMEDIATE_SQL = f"coalesce(t.intermediate_blob, {_AGGREGATE_SQL})"
_INTERMEDIATE_JSON_SQL = f"coalesce(t.intermediate_json, {_AGGREGATE_SQL})"
_ORDERS = {
    "sequence": "t.sequence",
    "value": "t.value IS NULL, t.value",
    "started": "t.started IS NULL, t.started",
    "ended": "t.ended IS NULL, t.ended",
}


def db_path(path: str | os.PathLike[str]) -> Path:
    """The database file for ``path``: an experiment directory or the ``.db`` file itself."""
    p = Path(path).expanduser()
    return p if p.suffix == ".db" else p / DB_NAME


def check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """Returns the schema version of an open store, or raises StoreError if it is not usable."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:  # "file is not a database", "no such table: meta"
        raise StoreError(
            f"{str(path)!r} is not a hyperloom experiment store ({e}); give the directory of an "
            f"experiment that hyperloom created"
        ) from e
    if row is None:
        raise StoreError(f"{str(path)!r} is not a hyperloom experiment store (no schema version)")
    version = int(row[0])
    if version < 1 or version > SCHEMA_VERSION:
        raise StoreError(
            f"{str(path)!r} was written by a newer hyperloom (store schema {version}; this version "
            f"reads up to {SCHEMA_VERSION}); upgrade hyperloom to open it"
        )
    return version


def migrate(conn: sqlite3.Connection, version: int) -> int:
    """Brings a writable store up to :data:`SCHEMA_VERSION` in one transaction (v2 adds the
    objective and lineage columns, v3 ``steps_blob``; nothing is rewritten). Returns the new
    version."""
    if version >= SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(trials)")}
        for col in V2_COLUMNS:
            if col not in have:
                conn.execute(f"ALTER TABLE trials ADD COLUMN {col} TEXT")
        if "steps_blob" not in have:
            conn.execute("ALTER TABLE trials ADD COLUMN steps_blob BLOB")
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    logger.info("store schema migrated from v%d to v%d", version, SCHEMA_VERSION)
    return SCHEMA_VERSION


def connect_ro(path: Path) -> sqlite3.Connection:
    """Opens ``path`` read-only (``mode=ro``): WAL snapshot reads that never block the writer."""
    if not path.is_file():
        raise StoreError(f"no experiment store at {str(path)!r}: the file does not exist")
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
        )
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        # No -wal/-shm and a directory we cannot write to (an archived experiment): no manager
        # can be writing there, so read the file as immutable.
        logger.debug("opening %s as immutable", path)
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open the experiment store {str(path)!r}: {e}") from e
    except sqlite3.DatabaseError as e:
        raise StoreError(
            f"{str(path)!r} is not a hyperloom experiment store ({e}); give the directory of an "
            f"experiment that hyperloom created"
        ) from e
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    check_schema(conn, path)
    return conn


def _statuses(status: TrialStatus | str | Iterable[TrialStatus | str] | None) -> list[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, TrialStatus | str) else list(status)
    names = []
    for s in items:
        name = s.name if isinstance(s, TrialStatus) else str(s).upper()
        if name not in TrialStatus.__members__:
            raise StoreError(
                f"unknown trial status {s!r}; use one of {', '.join(TrialStatus.__members__)}"
            )
        names.append(name)
    return names


class _Queries:
    """The read queries, shared by :class:`StoreReader` and the writer :class:`Store`."""

    path: Path
    _conn: sqlite3.Connection
    _version: int = SCHEMA_VERSION

    @property
    def _v2(self) -> str:
        if self._version >= 3:
            return _V3_SQL
        return (_V2_SQL if self._version >= 2 else _V1_SQL) + ", NULL"

    def experiment(self) -> dict[str, Any]:
        """The experiment row: ``id, name, status, created, updated, config, space,
        next_sequence, manager_pid, message`` (``config`` and ``space`` parsed from JSON)."""
        row = self._conn.execute(
            "SELECT id, name, status, created, updated, config_json, space_json, next_sequence, "
            "manager_pid, message FROM experiment"
        ).fetchone()
        if row is None:
            raise StoreError(f"the store {str(self.path)!r} holds no experiment row")
        return {
            "id": row[0],
            "name": row[1],
            "status": row[2],
            "created": row[3],
            "updated": row[4],
            "config": json.loads(row[5]),
            "space": json.loads(row[6]),
            "next_sequence": row[7],
            "manager_pid": row[8],
            "message": row[9],
        }

    def _rows(
        self,
        extra: str,
        status: TrialStatus | str | Iterable[TrialStatus | str] | None,
        limit: int | None,
        offset: int,
        order: str,
    ) -> Iterator[tuple[Any, ...]]:
        key = order.lstrip("-")
        if key not in _ORDERS:
            raise StoreError(
                f"unknown trial order {order!r}; use one of {', '.join(_ORDERS)} (prefix - to reverse)"
            )
        by = _ORDERS[key]
        if order.startswith("-"):
            by = ", ".join(
                f"{c} DESC" if "IS NULL" not in c else c for c in (x.strip() for x in by.split(","))
            )
        sql = f"SELECT {_TRIAL_COLUMNS}, {extra}, {self._v2} FROM trials t"
        args: list[Any] = []
        names = _statuses(status)
        if names is not None:
            sql += f" WHERE t.status IN ({','.join('?' * len(names))})"
            args += names
        sql += f" ORDER BY {by}, t.sequence LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        cur = self._conn.execute(sql, args)
        try:
            while rows := cur.fetchmany(256):
                yield from rows
        finally:
            cur.close()

    def iter_trials(
        self,
        status: TrialStatus | str | Iterable[TrialStatus | str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order: str = "sequence",
        with_intermediate: bool = True,
    ) -> Iterator[TrialRecord]:
        """Like :meth:`trials`, but yields records one by one (low memory for large stores)."""
        extra = _INTERMEDIATE_SQL if with_intermediate else "NULL"
        for row in self._rows(extra, status, limit, offset, order):
            yield record(row)

    def iter_results(
        self,
        status: TrialStatus | str | Iterable[TrialStatus | str] | None = None,
        order: str = "sequence",
    ) -> Iterator[TrialResult]:
        """The trials as the `TrialResult` tuners observe (``record.to_result()``), with their
        intermediates, built straight from the rows: the fast path of a resume's replay."""
        for row in self._rows(_INTERMEDIATE_SQL, status, None, 0, order):
            yield result(row)

    def iter_trials_json(
        self,
        status: TrialStatus | str | Iterable[TrialStatus | str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order: str = "sequence",
        reasons: Mapping[str, str] | None = None,
    ) -> Iterator[str]:
        """The trials' :meth:`TrialRecord.to_json` objects as JSON text, one string per trial.

        Equal, once parsed, to ``json.dumps(record.to_json())``, but built from the stored JSON
        columns without parsing and re-printing them (``trials --json`` on large stores).

        Args:
            status: As for :meth:`trials`.
            limit: As for :meth:`trials`.
            offset: As for :meth:`trials`.
            order: As for :meth:`trials`.
            reasons: A reason to show for trials that were recorded without one.
        """
        for row in self._rows(_INTERMEDIATE_JSON_SQL, status, limit, offset, order):
            yield json_text(row, reasons)

    def trials(
        self,
        status: TrialStatus | str | Iterable[TrialStatus | str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order: str = "sequence",
        with_intermediate: bool = True,
    ) -> list[TrialRecord]:
        """Trials, in ``order``.

        Args:
            status: Only trials in this status (a TrialStatus, its name, or several).
            limit: At most this many trials (None: all).
            offset: Skip this many first.
            order: ``sequence``, ``value``, ``started`` or ``ended``; prefix ``-`` for descending.
                Trials without a value (or time) come last either way.
            with_intermediate: Load the intermediate values too (else ``intermediate`` is empty).

        Returns:
            The matching trials as :class:`TrialRecord` objects.
        """
        return list(self.iter_trials(status, limit, offset, order, with_intermediate))

    def trial(self, trial_id: str) -> TrialRecord | None:
        """One trial, or None when the store has no trial with that id."""
        row = self._conn.execute(
            f"SELECT {_TRIAL_COLUMNS}, {_INTERMEDIATE_SQL}, {self._v2} FROM trials t "
            "WHERE t.trial_id = ?",
            (trial_id,),
        ).fetchone()
        return None if row is None else record(row)

    def checkpoint_steps(self) -> dict[str, int]:
        """Each trial's last committed checkpoint step (only trials that have one)."""
        if self._version < 2:
            return {}
        out: dict[str, int] = {}
        for tid, text in self._conn.execute(
            "SELECT trial_id, checkpoint_json FROM trials WHERE checkpoint_json IS NOT NULL"
        ):
            step = (loads(text) or {}).get("step")
            if isinstance(step, int):
                out[tid] = step
        return out

    def count_by_status(self) -> dict[str, int]:
        """The number of trials in each TrialStatus (every name present, zeros included)."""
        counts = dict.fromkeys(TrialStatus.__members__, 0)
        for name, n in self._conn.execute("SELECT status, count(*) FROM trials GROUP BY status"):
            counts[name] = n
        return counts

    def intermediate(self, trial_id: str) -> list[tuple[int, float, float | None]]:
        """The intermediate reports of a trial as ``(step, value, t)``, in step order."""
        return self._conn.execute(
            "SELECT step, value, t FROM metrics WHERE trial_id = ? ORDER BY step", (trial_id,)
        ).fetchall()

    def metric_series(self, trial_id: str, name: str) -> list[tuple[int, float]]:
        """``(step, value)`` of one named metric over a trial's intermediate reports (the
        reports that carry it, in step order): the series of an objective other than the first,
        for an assessor that judges it."""
        path = "$." + json.dumps(name)
        return [
            (int(step), float(v))
            for step, v in self._conn.execute(
                "SELECT step, json_extract(metrics_json, ?) FROM metrics WHERE trial_id = ? "
                "ORDER BY step",
                (path, trial_id),
            )
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ]

    def events(
        self,
        trial_id: str | None = None,
        kind: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events with ``id > after_id``, oldest first, as ``{id, t, kind, trial_id, payload}``."""
        sql = "SELECT id, t, kind, trial_id, payload_json FROM events WHERE id > ?"
        args: list[Any] = [after_id]
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args.append(trial_id)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY id LIMIT ?"
        args.append(-1 if limit is None else limit)
        return [
            {"id": r[0], "t": r[1], "kind": r[2], "trial_id": r[3], "payload": loads(r[4])}
            for r in self._conn.execute(sql, args)
        ]

    def close(self) -> None:
        """Closes the connection. Safe to call twice."""
        self._conn.close()


class StoreReader(_Queries):
    """Read-only access to an experiment store, safe while a manager writes to it.

    It opens the database with ``mode=ro`` and reads WAL snapshots: each query sees a consistent
    state and never blocks the writer. Use it as a context manager or call :meth:`close`.

    Args:
        path: The experiment directory or its ``experiment.db``.

    Raises:
        StoreError: The file is missing, is not a hyperloom store, or has a newer schema.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = db_path(path)
        self._conn = connect_ro(self.path)
        self._version = check_schema(self._conn, self.path)

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
