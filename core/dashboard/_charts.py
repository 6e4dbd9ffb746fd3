"""The charts page's data: overlaid curves and the parameters and value of every trial."""

from __future__ import annotations

import json
from typing import Any

from hyperloom.dashboard._queries import Session, _better_sql, _experiment, _num, mode_of
from hyperloom.dashboard._table import columns

__all__ = ["MAX_CURVES", "charts_json", "curves"]

#: most trials whose curves are overlaid on the charts page
MAX_CURVES = 200
#: most trials in the parallel-coordinates / metric-vs-parameter data
MAX_POINTS = 20000


def curves(s: Session, mode: str, limit: int) -> list[dict[str, Any]]:
    """Intermediate curves of the best ``limit`` trials, of up to ``limit`` running ones and of a
    few recent trials that ended without a value (failed, stopped early)."""
    limit = max(1, min(limit, MAX_CURVES))
    cols = "SELECT trial_id, sequence, status, value FROM trials"
    picked: dict[str, tuple[Any, ...]] = {}
    for sql, n in (
        (
            f"{cols} WHERE value IS NOT NULL AND status = 'SUCCEEDED' "
            f"ORDER BY value {_better_sql(mode)}, sequence LIMIT ?",
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
    return head[:-1] + ', "points": ' + str(points) + "}"
