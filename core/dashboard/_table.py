"""The trials table: sorting, filtering, search and paging, all in SQL (read-only)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from hyperloom.dashboard._queries import (
    Session,
    _clean_metrics,
    _duration,
    _loads,
    _num,
    _row_params,
)

__all__ = ["TrialQuery", "columns", "trials_page"]

#: trials scanned to discover the parameter and metric columns (newest first)
COLUMN_SAMPLE = 500

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
