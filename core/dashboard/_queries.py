"""Read-only queries behind the dashboard's JSON API.

Every function here is blocking and runs in a worker thread (``asyncio.to_thread``) so that the
manager's loop never waits on SQLite. Each request opens a :class:`Session` (a
:class:`hyperloom.store.StoreReader` plus a read-only ``sqlite3`` connection for the queries the
reader does not offer: paged/sorted/filtered trials, best-so-far series, many curves at once) and
closes it at once. Opening a SQLite file costs well under a millisecond, and a fresh connection in
WAL mode always sees the latest committed writes.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperloom.errors import StoreError

__all__ = [
    "TrialQuery",
    "charts_json",
    "columns",
    "curves",
    "experiment_summary",
    "mode_of",
    "overview",
    "session",
    "trial_detail",
    "trials_page",
]

logger = logging.getLogger(__name__)

TOP_TRIALS = 10
#: trials scanned to discover the parameter and metric columns (newest first)
COLUMN_SAMPLE = 500
#: most points of the "all values" scatter behind the best-so-far line
SCATTER_POINTS = 2000
#: most trials whose curves are overlaid on the charts page
MAX_CURVES = 200
#: most trials in the parallel-coordinates / metric-vs-parameter data
MAX_POINTS = 20000

_ORDERABLE = {
    "sequence": "sequence",
    "trial_id": "trial_id",
    "status": "status",
    "value": "value",
    "started": "started",
    "ended": "ended",
    "exit_code": "exit_code",
    "duration": "(COALESCE(ended, :now) - started)",
}
_FILTER_RE = re.compile(r"^([A-Za-z_#][\w.#/-]*)(>=|<=|!=|=|>|<)(.+)$")


@dataclass
class Session:
    """An open read-only view of one experiment store."""

    db: Path
    conn: sqlite3.Connection
    reader: Any  # hyperloom.store.StoreReader


def _connect(db: Path) -> sqlite3.Connection:
    uri = db.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=5.0)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        # an archived experiment in a read-only directory (no -wal/-shm can be made): nobody
        # writes there, so read it as immutable, as StoreReader does
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
    return conn


@contextmanager
def session(db: Path) -> Iterator[Session]:
    """Opens ``db`` read-only (a StoreReader and a raw connection) for one request.

    Raises:
        StoreError: The store cannot be opened or read.
    """
    from hyperloom.store import StoreReader

    reader = StoreReader(db)
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(db)
        yield Session(db, conn, reader)
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the experiment store {str(db)!r}: {e}") from None
    finally:
        if conn is not None:
            conn.close()
        reader.close()


# -------------------------------------------------------------------------------------------------
# helpers


def _loads(text: Any) -> Any:
    if text is None or text == "":
        return None
    if not isinstance(text, str | bytes):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def _num(v: Any) -> float | None:
    """A JSON-safe float (NaN and infinities become None)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _find_key(d: Any, keys: tuple[str, ...]) -> Any:
    """The first value under any of ``keys`` in a nested mapping (depth-first)."""
    if isinstance(d, dict):
        for k in keys:
            if k in d and d[k] is not None:
                return d[k]
        for v in d.values():
            found = _find_key(v, keys)
            if found is not None:
                return found
    return None


def mode_of(config: Any) -> str:
    """``"maximize"`` or ``"minimize"``, from the tuner's classArgs in a stored config."""
    tuner = config.get("tuner") if isinstance(config, dict) else None
    m = _find_key(tuner, ("mode", "optimize_mode", "optimizeMode"))
    if m is None:
        m = _find_key(config, ("optimize_mode", "optimizeMode"))
    return "minimize" if str(m).lower() in ("minimize", "min") else "maximize"


def _better_sql(mode: str) -> str:
    return "DESC" if mode == "maximize" else "ASC"


def _experiment(s: Session) -> dict[str, Any]:
    raw = dict(s.reader.experiment())
    config = raw.get("config")
    if config is None:
        config = _loads(raw.get("config_json"))
    space = raw.get("space")
    if space is None:
        space = _loads(raw.get("space_json"))
    return {
        "id": raw.get("id"),
        "name": raw.get("name") or "",
        "status": raw.get("status"),
        "created": _num(raw.get("created")),
        "updated": _num(raw.get("updated")),
        "message": raw.get("message"),
        "manager_pid": raw.get("manager_pid"),
        "config": config if isinstance(config, dict) else {},
        "space": space if space is not None else {},
    }


def _counts(s: Session) -> dict[str, int]:
    return {str(k): int(v) for k, v in s.reader.count_by_status().items()}


def _budget(exp: dict[str, Any], total: int, now: float) -> dict[str, Any]:
    cfg = exp["config"]
    max_trials = cfg.get("maxTrialNumber", cfg.get("max_trial_number"))
    max_dur = _num(cfg.get("maxExperimentDuration", cfg.get("max_experiment_duration")))
    created = exp["created"]
    end = now if exp["status"] in ("RUNNING", "CREATED") else (exp["updated"] or now)
    elapsed = max(0.0, end - created) if created is not None else None
    return {
        "trials": total,
        "max_trials": max_trials if isinstance(max_trials, int) else None,
        "elapsed": elapsed,
        "max_duration": max_dur,
    }


def experiment_summary(s: Session, with_best: bool = True) -> dict[str, Any]:
    """The experiments-list row: identity, status, counts, best value, budget.

    ``with_best=False`` skips the best value (``best`` is None), which costs a scan of the trials.
    """
    exp = _experiment(s)
    counts = _counts(s)
    mode = mode_of(exp["config"])
    best = None
    if with_best:
        best = s.conn.execute(
            f"SELECT trial_id, value FROM trials WHERE value IS NOT NULL "
            f"ORDER BY value {_better_sql(mode)} LIMIT 1"
        ).fetchone()
    total = sum(counts.values())
    return {
        "id": exp["id"],
        "name": exp["name"],
        "status": exp["status"],
        "created": exp["created"],
        "updated": exp["updated"],
        "mode": mode,
        "counts": counts,
        "total": total,
        "best": {"trial_id": best[0], "value": _num(best[1])} if best else None,
        "budget": _budget(exp, total, time.time()),
    }


# -------------------------------------------------------------------------------------------------
# overview


def _row_params(text: Any) -> dict[str, Any]:
    p = _loads(text)
    return p if isinstance(p, dict) else {}


def overview(s: Session) -> dict[str, Any]:
    """Everything the overview page shows, in one response."""
    now = time.time()
    exp = _experiment(s)
    counts = _counts(s)
    mode = mode_of(exp["config"])
    total = sum(counts.values())
    # one scan of the trials table serves every series and the top list
    rows = [
        (seq, tid, v if v is None or math.isfinite(v) else None, started, ended)
        for seq, tid, v, started, ended in s.conn.execute(
            "SELECT sequence, trial_id, value, started, ended FROM trials ORDER BY sequence"
        )
    ]
    sign = 1.0 if mode == "maximize" else -1.0
    valued = [r for r in rows if r[2] is not None]
    by_seq = [[seq, v, tid] for seq, tid, v, _a, _b in valued]
    best_seq = _improvements(((seq, v, tid) for seq, tid, v, _a, _b in valued), sign)
    if best_seq:
        best_seq.append([by_seq[-1][0], best_seq[-1][1], best_seq[-1][2]])
    # best so far against time: trials in the order they ended
    starts = [r[3] for r in rows if r[3] is not None]
    start = min([x for x in (exp["created"], now) if x is not None] + starts)
    ended = sorted((r for r in valued if r[4] is not None), key=lambda r: r[4])
    best_time = _improvements(((round(e - start, 3), v, tid) for _s, tid, v, _a, e in ended), sign)
    if best_time:
        best_time.append([round(ended[-1][4] - start, 3), best_time[-1][1], best_time[-1][2]])
    stride = max(1, math.ceil(len(by_seq) / SCATTER_POINTS))
    top_ids = [r[1] for r in sorted(valued, key=lambda r: (-sign * r[2], r[0]))[:TOP_TRIALS]]
    marks = ", ".join("?" * len(top_ids))
    top = sorted(
        s.conn.execute(
            "SELECT trial_id, sequence, status, value, params_json, started, ended FROM trials "
            f"WHERE trial_id IN ({marks})",
            top_ids,
        ).fetchall(),
        key=lambda r: top_ids.index(r[0]),
    )
    return {
        "experiment": exp,
        "mode": mode,
        "counts": counts,
        "total": total,
        "budget": _budget(exp, total, now),
        "best_by_sequence": best_seq,
        "best_by_time": best_time,
        "values": by_seq[::stride],
        "top": [
            {
                "trial_id": r[0],
                "sequence": r[1],
                "status": r[2],
                "value": _num(r[3]),
                "params": _row_params(r[4]),
                "duration": _duration(r[5], r[6], now),
            }
            for r in top
        ],
    }


def _improvements(points: Iterable[tuple[Any, float, str]], sign: float) -> list[list[Any]]:
    """The points ``(x, value, trial_id)`` where the best value so far improves."""
    out: list[list[Any]] = []
    best = -math.inf
    for x, v, tid in points:
        if sign * v > best:
            best = sign * v
            out.append([x, v, tid])
    return out


def _duration(started: Any, ended: Any, now: float) -> float | None:
    a = _num(started)
    if a is None:
        return None
    b = _num(ended)
    return round((b if b is not None else now) - a, 3)


# -------------------------------------------------------------------------------------------------
# trials table


def columns(s: Session) -> dict[str, list[str]]:
    """Parameter and metric names, from the search space and the newest trials."""
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    space = _loads(
        (s.conn.execute("SELECT space_json FROM experiment LIMIT 1").fetchone() or [None])[0]
    )
    if isinstance(space, dict):
        params.update(dict.fromkeys(str(k) for k in space))
    sample = f"(SELECT params_json, metrics_json FROM trials ORDER BY sequence DESC LIMIT {COLUMN_SAMPLE})"
    for (k,) in s.conn.execute(
        f"SELECT DISTINCT j.key FROM {sample} t, json_each(t.params_json) j "
        "WHERE json_valid(t.params_json)"
    ):
        params.setdefault(str(k))
    for (k,) in s.conn.execute(
        f"SELECT DISTINCT j.key FROM {sample} t, json_each(t.metrics_json) j "
        "WHERE json_valid(t.metrics_json) AND json_type(t.metrics_json) = 'object'"
    ):
        metrics.setdefault(str(k))
    return {"params": list(params), "metrics": sorted(metrics)}


def _json_path(name: str) -> str:
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class TrialQuery:
    """A page request for the trials table."""

    sort: str = "sequence"
    desc: bool = False
    offset: int = 0
    limit: int = 50
    statuses: tuple[str, ...] = ()
    q: str = ""


def _sort_expr(sort: str, cols: dict[str, list[str]], args: dict[str, Any]) -> str:
    if sort in _ORDERABLE:
        return _ORDERABLE[sort]
    kind, _, name = sort.partition(":")
    if kind == "param" and name:
        args["sort_path"] = _json_path(name)
        return "json_extract(params_json, :sort_path)"
    if kind == "metric" and name:
        args["sort_path"] = _json_path(name)
        return "json_extract(metrics_json, :sort_path)"
    from hyperloom.errors import UsageError

    raise UsageError(
        f"unknown sort key {sort!r}: use one of {sorted(_ORDERABLE)}, 'param:NAME' or 'metric:NAME'"
    )


def _where(query: TrialQuery, cols: dict[str, list[str]], args: dict[str, Any]) -> str:
    """SQL conditions for the status filter and the search box.

    The search box takes space-separated terms. ``NAME OP NUMBER`` (``lr<0.01``, ``value>=0.9``,
    ``duration>60``, ``#>100``; OP one of ``< <= > >= = !=``) filters on a column; any other term
    matches trial ids, statuses and parameter values as text. All terms must hold.
    """
    conds: list[str] = []
    if query.statuses:
        names = []
        for i, st in enumerate(query.statuses):
            args[f"st{i}"] = st.upper()
            names.append(f":st{i}")
        conds.append(f"status IN ({', '.join(names)})")
    for i, term in enumerate(query.q.split()[:20]):
        m = _FILTER_RE.match(term)
        if m:
            key, op, raw = m.groups()
            try:
                args[f"v{i}"] = float(raw)
                rhs = f":v{i}"
            except ValueError:
                args[f"v{i}"] = raw
                rhs = f":v{i}"
            if key in ("value", "duration", "sequence", "exit_code", "#"):
                lhs = _ORDERABLE["sequence" if key == "#" else key]
            elif key in cols["params"] or key.startswith("param."):
                args[f"p{i}"] = _json_path(key.removeprefix("param."))
                lhs = f"json_extract(params_json, :p{i})"
            elif key in cols["metrics"] or key.startswith("metric."):
                args[f"p{i}"] = _json_path(key.removeprefix("metric."))
                lhs = f"json_extract(metrics_json, :p{i})"
            elif key == "status":
                args[f"v{i}"] = raw.upper()
                lhs = "status"
            else:
                lhs = None
            if lhs is not None:
                conds.append(f"{lhs} {op} {rhs}")
                continue
        args[f"t{i}"] = (
            "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conds.append(
            f"(trial_id LIKE :t{i} ESCAPE '\\' OR status LIKE :t{i} ESCAPE '\\' "
            f"OR params_json LIKE :t{i} ESCAPE '\\')"
        )
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def trials_page(s: Session, query: TrialQuery) -> dict[str, Any]:
    """One page of the trials table: ``{total, offset, limit, columns, trials}``.

    Sorting, filtering and paging run in SQL (``ORDER BY ... LIMIT ... OFFSET``), so a page costs
    about the same at 10,000 trials as at 100.
    """
    now = time.time()
    cols = columns(s)
    args: dict[str, Any] = {"now": now}
    where = _where(query, cols, args)
    order = _sort_expr(query.sort, cols, args)
    direction = "DESC" if query.desc else "ASC"
    total = s.conn.execute(f"SELECT COUNT(*) FROM trials{where}", args).fetchone()[0]
    args["limit"] = max(1, min(query.limit, 500))
    args["offset"] = max(0, query.offset)
    rows = s.conn.execute(
        "SELECT trial_id, sequence, status, value, params_json, metrics_json, started, ended, "
        f"exit_code, reason FROM trials{where} "
        f"ORDER BY ({order}) IS NULL, {order} {direction}, sequence {direction} "
        "LIMIT :limit OFFSET :offset",
        args,
    ).fetchall()
    return {
        "total": total,
        "offset": args["offset"],
        "limit": args["limit"],
        "sort": query.sort,
        "desc": query.desc,
        "columns": cols,
        "trials": [
            {
                "trial_id": r[0],
                "sequence": r[1],
                "status": r[2],
                "value": _num(r[3]),
                "params": _row_params(r[4]),
                "metrics": _clean_metrics(_loads(r[5])),
                "started": _num(r[6]),
                "ended": _num(r[7]),
                "duration": _duration(r[6], r[7], now),
                "exit_code": r[8],
                "reason": r[9],
            }
            for r in rows
        ],
    }


def _clean_metrics(m: Any) -> dict[str, Any]:
    if not isinstance(m, dict):
        return {}
    return {str(k): (_num(v) if isinstance(v, int | float) else v) for k, v in m.items()}


# -------------------------------------------------------------------------------------------------
# trial detail


def trial_detail(s: Session, trial_id: str) -> dict[str, Any] | None:
    """A trial's record, intermediate curve and events; ``None`` when it does not exist."""
    rec = s.reader.trial(trial_id)
    if rec is None:
        return None
    now = time.time()
    status = getattr(rec.status, "name", rec.status)
    curve = [
        [int(step) if step is not None else i, _num(v), _num(t)]
        for i, (step, v, t) in enumerate(s.reader.intermediate(trial_id))
    ]
    events = [
        {"id": r[0], "t": _num(r[1]), "kind": r[2], "payload": _loads(r[3])}
        for r in s.conn.execute(
            "SELECT id, t, kind, payload_json FROM events WHERE trial_id = ? ORDER BY id LIMIT 200",
            (trial_id,),
        )
    ]
    return {
        "trial_id": rec.trial_id,
        "sequence": rec.sequence,
        "status": str(status),
        "params": rec.params,
        "value": _num(rec.value),
        "metrics": _clean_metrics(rec.metrics),
        "started": _num(rec.started),
        "ended": _num(rec.ended),
        "duration": _duration(rec.started, rec.ended, now),
        "exit_code": rec.exit_code,
        "reason": rec.reason,
        "devices": list(rec.devices) if rec.devices is not None else None,
        "pid": rec.pid,
        "intermediate": curve,
        "events": events,
        "stop_cause": _stop_cause(str(status), rec.reason, events),
    }


def _stop_cause(status: str, reason: Any, events: list[dict[str, Any]]) -> str | None:
    """A sentence on why the trial ended early, or ``None`` when it did not."""
    verdicts = [
        e
        for e in events
        if e["kind"] == "assessor"
        and isinstance(e["payload"], dict)
        and str(e["payload"].get("verdict", "")).upper() == "STOP"
    ]
    if status == "EARLY_STOPPED" or verdicts:
        if verdicts:
            p = verdicts[-1]["payload"]
            step = p.get("step")
            why = p.get("reason") or reason or "its curve looked worse than the others"
            at = f" at step {step}" if step is not None else ""
            return f"Stopped by the assessor{at}: {why}"
        return f"Stopped early: {reason}" if reason else "Stopped early by the assessor"
    if status == "TIMEOUT":
        return f"Timed out: {reason}" if reason else "Ran past maxTrialDuration"
    if status == "CANCELED":
        return f"Canceled: {reason}" if reason else "Canceled by the user"
    if status == "FAILED":
        return f"Failed: {reason}" if reason else "The trial exited with an error"
    return None


# -------------------------------------------------------------------------------------------------
# charts


def curves(s: Session, mode: str, limit: int) -> list[dict[str, Any]]:
    """Intermediate curves of the best ``limit`` trials, of up to ``limit`` running ones and of a
    few recent trials that ended without a value (failed, stopped early)."""
    limit = max(1, min(limit, MAX_CURVES))
    cols = "SELECT trial_id, sequence, status, value FROM trials"
    picked: dict[str, tuple[Any, ...]] = {}
    for sql, n in (
        (
            f"{cols} WHERE value IS NOT NULL ORDER BY value {_better_sql(mode)}, sequence LIMIT ?",
            limit,
        ),
        (f"{cols} WHERE status = 'RUNNING' ORDER BY sequence DESC LIMIT ?", limit),
        (
            f"{cols} WHERE value IS NULL AND status != 'RUNNING' ORDER BY sequence DESC LIMIT ?",
            max(1, limit // 4),
        ),
    ):
        for row in s.conn.execute(sql, (n,)):
            picked.setdefault(row[0], row)
    out = []
    for tid, seq, status, value in sorted(picked.values(), key=lambda r: r[1]):
        pts = s.conn.execute(
            "SELECT step, value FROM metrics WHERE trial_id = ? ORDER BY step LIMIT 5000", (tid,)
        ).fetchall()
        if pts:
            out.append(
                {
                    "trial_id": tid,
                    "sequence": seq,
                    "status": status,
                    "value": _num(value),
                    "points": [
                        [st if st is not None else i, _num(v)] for i, (st, v) in enumerate(pts)
                    ],
                }
            )
    return out


def charts_json(s: Session, curve_limit: int) -> str:
    """Data for the charts page as JSON text: curves, and the parameters and value of every
    trial that has one (up to MAX_POINTS).

    The points, the bulk of the response, are built as JSON by SQLite itself (``json_object``),
    which is several times faster than parsing and re-encoding thousands of parameter objects.
    """
    exp = _experiment(s)
    mode = mode_of(exp["config"])
    (points,) = s.conn.execute(
        "SELECT coalesce(json_group_array(json_object('trial_id', trial_id, 'sequence', sequence, "
        "'status', status, 'value', value, 'params', json(params_json))), '[]') FROM ("
        "SELECT trial_id, sequence, status, value, params_json FROM trials "
        "WHERE value IS NOT NULL AND json_valid(params_json) ORDER BY sequence LIMIT ?)",
        (MAX_POINTS,),
    ).fetchone()
    head = json.dumps(
        {
            "mode": mode,
            "space": exp["space"],
            "columns": columns(s),
            "curves": curves(s, mode, curve_limit),
        },
        allow_nan=False,
    )
    return head[:-1] + ', "points": ' + points + "}"
