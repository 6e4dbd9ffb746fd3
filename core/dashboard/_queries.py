"""Read-only queries behind the dashboard's JSON API.

Every function here is blocking and runs in a worker thread (``asyncio.to_thread``) so that the
manager's loop never waits on SQLite. Each request opens a :class:`Session` (a
:class:`hyperloom.store.StoreReader` plus a read-only ``sqlite3`` connection for the queries the
reader does not offer: paged/sorted/filtered trials, best-so-far series, many curves at once) and
closes it at once. The trials table's queries live in ``_table``, the charts page's in ``_charts``. Opening a SQLite file costs well under a millisecond, and a fresh connection in
WAL mode always sees the latest committed writes.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperloom.errors import StoreError
from hyperloom.types import BEST_STATUSES, BUDGET_STATUSES

__all__ = ["Session", "experiment_summary", "mode_of", "overview", "session", "trial_detail"]

logger = logging.getLogger(__name__)

TOP_TRIALS = 10
#: most points of the "all values" scatter behind the best-so-far line
SCATTER_POINTS = 2000


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


_BEST_SQL = ", ".join(f"'{st.name}'" for st in sorted(BEST_STATUSES, key=lambda x: x.name))
# the one budget rule (BUDGET_STATUSES), plus what is running or paused now
_USING = {st.name for st in BUDGET_STATUSES} | {"RUNNING", "PAUSED"}


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


def _used(counts: dict[str, int]) -> int:
    """Trials that use budget: canceled ones gave theirs back (as the live progress line)."""
    return sum(n for name, n in counts.items() if name in _USING)


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
            f"AND status IN ({_BEST_SQL}) ORDER BY value {_better_sql(mode)} LIMIT 1"
        ).fetchone()
    total = sum(counts.values())
    return {
        "features": features(s, exp["config"], counts),
        "id": exp["id"],
        "name": exp["name"],
        "status": exp["status"],
        "created": exp["created"],
        "updated": exp["updated"],
        "mode": mode,
        "counts": counts,
        "total": total,
        "best": {"trial_id": best[0], "value": _num(best[1])} if best else None,
        "budget": _budget(exp, _used(counts), time.time()),
    }


# -------------------------------------------------------------------------------------------------
# overview


#: tuners whose trials climb rungs (pause, promote, stop early)
_SCHEDULERS = ("hyperband", "bohb", "asha", "sha", "successive", "pbt", "dehb")


def _algo_name(config: Any, key: str) -> str:
    algo = config.get(key) if isinstance(config, dict) else None
    if not isinstance(algo, dict):
        return ""
    return str(algo.get("name") or algo.get("className") or "").lower()


def features(s: Session, config: Any, counts: dict[str, int]) -> dict[str, Any]:
    """Which of the optional pages apply to this experiment (cheap: config, counts, and the
    lineage of the newest few hundred trials).

    ``objectives``: the objectives' names; ``pareto``: two or more of them; ``lineage``: a
    trial was warm-started from another (or the tuner is PBT); ``rungs``: trials paused or
    stopped early, an assessor, or a multi-fidelity scheduler as the tuner.
    """
    from hyperloom.dashboard._pareto import has_column, objectives_of

    objectives = objectives_of(config)
    tuner = _algo_name(config, "tuner")
    lineage = "pbt" in tuner
    if not lineage and has_column(s, "parent"):
        lineage = (
            s.conn.execute(
                "SELECT 1 FROM trials WHERE rowid > (SELECT coalesce(max(rowid), 0) - 500 "
                "FROM trials) AND parent IS NOT NULL LIMIT 1"
            ).fetchone()
            is not None
        )
    rungs = (
        any(k in tuner for k in _SCHEDULERS)
        or bool(_algo_name(config, "assessor"))
        or counts.get("PAUSED", 0) > 0
        or counts.get("EARLY_STOPPED", 0) > 0
    )
    return {
        "objectives": [o["name"] for o in objectives],
        "pareto": len(objectives) >= 2,
        "lineage": lineage,
        "rungs": rungs,
    }


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
    # only finished trials count as best (hyperloom.types.BEST_STATUSES): a trial stopped early
    # keeps the value it reached, for schedulers, but never ranks
    rows = [
        (seq, tid, v if v is None or math.isfinite(v) else None, started, ended)
        for seq, tid, v, started, ended in s.conn.execute(
            f"SELECT sequence, trial_id, CASE WHEN status IN ({_BEST_SQL}) THEN value END, "
            "started, ended FROM trials ORDER BY sequence"
        )
    ]
    sign = 1.0 if mode == "maximize" else -1.0
    valued: list[tuple[Any, str, float, Any, Any]] = [
        (seq, tid, float(v), a, e) for seq, tid, v, a, e in rows if v is not None
    ]
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
        "features": features(s, exp["config"], counts),
        "mode": mode,
        "counts": counts,
        "total": total,
        "budget": _budget(exp, _used(counts), now),
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
        "values": _values_list(getattr(rec, "values", None)),
        "objectives": _objective_names(s),
        "parent": getattr(rec, "parent", None),
        "perturbation": getattr(rec, "perturbation", None),
        "checkpoint": getattr(rec, "checkpoint", None),
        "events": events,
        "stop_cause": _stop_cause(str(status), rec.reason, events),
    }


def _objective_names(s: Session) -> list[str]:
    from hyperloom.dashboard._pareto import objectives_of

    return [o["name"] for o in objectives_of(_experiment(s)["config"])]


def _values_list(values: Any) -> list[float | None] | None:
    if values is None:
        return None
    return [_num(v) for v in values]


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
