"""The rungs page's data for multi-fidelity schedulers (ASHA, Hyperband, BOHB, PBT's
generations): how deep each trial got, where it was paused, stopped or promoted
(``GET /api/experiments/{id}/rungs``).

A *promotion* is a pause followed by more reports: the trial was PAUSED at a rung and later
resumed (``Suggestion(resume=...)``), so it reported at a deeper step. Pauses are read from the
events table: the manager's ``paused`` events (with the last step reported), or, in a store that
has none for a trial, the assessor verdicts ``PAUSE`` with their step; resumes from ``resumed``
events, a later pause, or reports deeper than the pause.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from hyperloom.dashboard._queries import Session, _experiment, _num, mode_of

__all__ = ["MAX_TRIALS", "TRIAL_COLUMNS", "rungs_data"]

#: most trials listed one by one (the newest); the level counts cover every trial
MAX_TRIALS = 20000
#: most distinct levels shown one by one; beyond, deepest steps are grouped in bins
MAX_LEVELS = 40

_PAUSE_KINDS = ("pause", "trial_pause", "paused", "trial_paused")
_RESUME_KINDS = ("resume", "trial_resume", "resumed", "trial_resumed", "promote", "promotion")


def _events(s: Session) -> dict[str, dict[str, list[Any]]]:
    """trial id -> {"pauses": [(t, step)], "resumes": [(t, step)], "stops": [step]}.

    The verdict and the step are taken out of the payloads by SQLite (``json_extract``), and
    only the events that pause, resume or stop a trial come back to Python.
    """
    out: dict[str, dict[str, list[Any]]] = {}
    pause_kinds = ", ".join(f"'{k}'" for k in _PAUSE_KINDS)
    resume_kinds = ", ".join(f"'{k}'" for k in _RESUME_KINDS)
    rows = s.conn.execute(
        "SELECT trial_id, t, CASE WHEN kind IN (" + pause_kinds + ") THEN 1 "
        "WHEN verdict = 'PAUSE' THEN 4 "
        "WHEN kind IN (" + resume_kinds + ") OR verdict IN ('RESUME', 'PROMOTE') THEN 2 "
        "WHEN verdict = 'STOP' THEN 3 END AS what, step FROM ("
        "SELECT id, trial_id, t, kind, upper(json_extract(p, '$.verdict')) AS verdict, "
        "json_extract(p, '$.step') AS step FROM (SELECT id, trial_id, t, kind, "
        "CASE WHEN json_valid(payload_json) THEN payload_json END AS p FROM events "
        "WHERE trial_id IS NOT NULL)) WHERE what IS NOT NULL ORDER BY id"
    )
    asked: dict[str, list[Any]] = {}
    for tid, t, what, step in rows:
        ev = out.get(tid)
        if ev is None:
            ev = out[tid] = {"pauses": [], "resumes": [], "stops": []}
        st = int(step) if isinstance(step, int | float) and math.isfinite(step) else None
        if what == 1:
            ev["pauses"].append((t, st))
        elif what == 4:
            asked.setdefault(tid, []).append((t, st))
        elif what == 2:
            ev["resumes"].append((t, st))
        else:
            ev["stops"].append(st)
    # the manager records the verdict that asks for a pause and then the pause itself
    # ("paused"); a store with only the verdicts (older writers) counts those
    for tid, verdicts in asked.items():
        if not out[tid]["pauses"]:
            out[tid]["pauses"] = verdicts
    return out


#: the columns of each row of ``trials`` in the response
TRIAL_COLUMNS = (
    "trial_id",
    "sequence",
    "status",
    "value",
    "deepest",
    "reports",
    "paused_at",
    "promotions",
)
_NO_EVENTS: dict[str, list[Any]] = {"pauses": [], "resumes": [], "stops": []}


def _promotions(ev: dict[str, list[Any]], hi: int | None) -> int:
    """How many of a trial's pauses were followed by a resume (an event between this pause and
    the next, a later pause, or reports deeper than the pause)."""
    pauses = ev["pauses"]
    n = 0
    for i, (t, st) in enumerate(pauses):
        if i + 1 < len(pauses) or (st is not None and hi is not None and hi > st):
            n += 1
            continue
        if any(rt is not None and t is not None and rt >= t for rt, _ in ev["resumes"]):
            n += 1
    return n


def rungs_data(s: Session) -> dict[str, Any]:
    """Per trial the steps reached, pauses and promotions; per level the counts.

    Returns:
        ``trial_columns`` and ``trials``: one row per trial, ``[trial_id, sequence, status,
        value, deepest, reports, paused_at (steps), promotions (pauses followed by a resume)]``;
        ``levels``: ``{step, reached (trials whose deepest step is at least this level), ended
        (trials whose deepest step is this level, by status), paused, promoted}`` for each
        distinct deepest step (or bin of them); ``summary``: counts.
    """
    exp = _experiment(s)
    mode = mode_of(exp["config"])
    events = _events(s)
    trials: list[list[Any]] = []
    for tid, seq, status, value, hi, n in s.conn.execute(
        "SELECT t.trial_id, t.sequence, t.status, t.value, m.hi, coalesce(m.n, 0) FROM trials t "
        "LEFT JOIN (SELECT trial_id, max(step) AS hi, count(*) AS n FROM metrics "
        "GROUP BY trial_id) m ON m.trial_id = t.trial_id ORDER BY t.sequence"
    ):
        ev = events.get(tid, _NO_EVENTS)
        promotions = _promotions(ev, hi) if ev["pauses"] else 0
        paused_at = [st for _t, st in ev["pauses"]]
        trials.append([tid, seq, status, _num(value), hi, n, paused_at, promotions])
    levels = _levels(trials)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t[2]] = counts.get(t[2], 0) + 1
    return {
        "mode": mode,
        "total": len(trials),
        "summary": {
            "trials": len(trials),
            "paused_now": counts.get("PAUSED", 0),
            "early_stopped": counts.get("EARLY_STOPPED", 0),
            "promoted_trials": sum(1 for t in trials if t[7]),
            "promotions": sum(t[7] for t in trials),
            "pauses": sum(len(t[6]) for t in trials),
            "deepest": max((t[4] for t in trials if t[4] is not None), default=None),
        },
        "levels": levels,
        "trial_columns": list(TRIAL_COLUMNS),
        "trials": trials[-MAX_TRIALS:],
        "truncated": len(trials) > MAX_TRIALS,
    }


def _levels(trials: list[list[Any]]) -> list[dict[str, Any]]:
    """Counts per level: every distinct deepest step (pause steps too), or bins of them."""
    steps = sorted(
        {t[4] for t in trials if t[4] is not None}
        | {st for t in trials for st in t[6] if st is not None}
    )
    if not steps:
        return []
    if len(steps) > MAX_LEVELS:
        lo, hi = steps[0], steps[-1]
        width = max(1, -(-(hi - lo + 1) // MAX_LEVELS))
        edges = list(range(lo, hi + 1, width))
    else:
        edges = steps

    def bucket(step: int) -> int:
        return bisect.bisect_right(edges, step) - 1

    rows: list[dict[str, Any]] = [
        {"step": e, "reached": 0, "ended": {}, "paused": 0, "promoted": 0} for e in edges
    ]
    ends = [0] * len(edges)
    for t in trials:
        if t[4] is not None:
            b = bucket(t[4])
            ends[b] += 1
            ended = rows[b]["ended"]
            ended[t[2]] = ended.get(t[2], 0) + 1
        for i, st in enumerate(t[6]):
            if st is None:
                continue
            r = rows[bucket(st)]
            r["paused"] += 1
            if i < t[7]:
                r["promoted"] += 1
    reached = 0
    for b in range(len(rows) - 1, -1, -1):  # reached a level = ended at it or deeper
        reached += ends[b]
        rows[b]["reached"] = reached
    if len(steps) > MAX_LEVELS:
        for i, r in enumerate(rows):
            r["to"] = (edges[i + 1] - 1) if i + 1 < len(edges) else steps[-1]
    return rows
