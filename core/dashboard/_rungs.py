"""The rungs page's data for multi-fidelity schedulers (ASHA, Hyperband, BOHB, PBT's
generations): how deep each trial got, where it was paused, stopped or promoted
(``GET /api/experiments/{id}/rungs``).

A *promotion* is a pause followed by more reports: the trial was PAUSED at a rung and later
resumed (``Suggestion(resume=...)``), so it reported at a deeper step. Pauses are read from the
events table (an assessor or scheduler verdict ``PAUSE`` with its step, or a ``pause`` /
``trial_pause`` event) and from the trial's status; resumes from ``resume`` / ``trial_resume``
events, or from reports deeper than the pause.
"""

from __future__ import annotations

from typing import Any

from hyperloom.dashboard._queries import Session, _experiment, _loads, _num, mode_of

__all__ = ["MAX_TRIALS", "rungs_data"]

#: most trials listed one by one (the newest); the level counts cover every trial
MAX_TRIALS = 20000
#: most distinct levels shown one by one; beyond, deepest steps are grouped in bins
MAX_LEVELS = 40

_PAUSE_KINDS = ("pause", "trial_pause", "paused", "trial_paused")
_RESUME_KINDS = ("resume", "trial_resume", "resumed", "trial_resumed", "promote", "promotion")


def _verdict(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    return str(payload.get("verdict") or payload.get("decision") or "").upper()


def _step(payload: Any) -> int | None:
    if not isinstance(payload, dict):
        return None
    for key in ("step", "rung_step", "at_step", "from_step"):
        v = payload.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return int(v)
    return None


def _events(s: Session) -> dict[str, dict[str, list[Any]]]:
    """trial id -> {"pauses": [(t, step)], "resumes": [(t, step)], "stops": [step]}."""
    out: dict[str, dict[str, list[Any]]] = {}
    kinds = ("assessor", "tuner", "scheduler", *_PAUSE_KINDS, *_RESUME_KINDS)
    marks = ", ".join("?" * len(kinds))
    for tid, t, kind, ptext in s.conn.execute(
        f"SELECT trial_id, t, kind, payload_json FROM events WHERE trial_id IS NOT NULL "
        f"AND kind IN ({marks}) ORDER BY id",
        kinds,
    ):
        payload = _loads(ptext)
        ev = out.setdefault(tid, {"pauses": [], "resumes": [], "stops": []})
        verdict = _verdict(payload)
        if kind in _PAUSE_KINDS or verdict == "PAUSE":
            ev["pauses"].append((_num(t), _step(payload)))
        elif kind in _RESUME_KINDS or verdict in ("RESUME", "PROMOTE"):
            ev["resumes"].append((_num(t), _step(payload)))
        elif verdict == "STOP":
            ev["stops"].append(_step(payload))
    return out


def rungs_data(s: Session) -> dict[str, Any]:
    """Per trial the steps reached, pauses and promotions; per level the counts.

    Returns:
        ``trials``: ``{trial_id, sequence, status, value, deepest, reports, paused_at (steps),
        promotions (how many pauses were followed by a resume), resumed}``;
        ``levels``: ``{step, reached (trials whose deepest step is at least this level), ended
        (trials whose deepest step is this level, by status), paused, promoted}`` for each
        distinct deepest step (or bin of them); ``summary``: counts.
    """
    exp = _experiment(s)
    mode = mode_of(exp["config"])
    deep = {
        tid: (hi, n)
        for tid, hi, n in s.conn.execute(
            "SELECT trial_id, max(step), count(*) FROM metrics GROUP BY trial_id"
        )
    }
    events = _events(s)
    trials: list[dict[str, Any]] = []
    for tid, seq, status, value in s.conn.execute(
        "SELECT trial_id, sequence, status, value FROM trials ORDER BY sequence"
    ):
        hi, n = deep.get(tid, (None, 0))
        ev = events.get(tid, {"pauses": [], "resumes": [], "stops": []})
        paused_at = [st for _t, st in ev["pauses"]]
        # a pause is a promotion when the trial was resumed after it, or reported deeper
        promotions = 0
        pauses = ev["pauses"]
        for i, (t, st) in enumerate(pauses):
            nxt = pauses[i + 1][0] if i + 1 < len(pauses) else None
            resumed = any(
                rt is not None and t is not None and rt >= t and (nxt is None or rt <= nxt)
                for rt, _ in ev["resumes"]
            )
            deeper = st is not None and hi is not None and hi > st
            if resumed or deeper or i + 1 < len(pauses):
                promotions += 1
        trials.append(
            {
                "trial_id": tid,
                "sequence": seq,
                "status": status,
                "value": _num(value),
                "deepest": hi,
                "reports": n,
                "paused_at": paused_at,
                "promotions": promotions,
                "resumed": promotions > 0,
                "stopped_at": ev["stops"][-1] if ev["stops"] else None,
            }
        )
    levels = _levels(trials)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    return {
        "mode": mode,
        "total": len(trials),
        "summary": {
            "trials": len(trials),
            "paused_now": counts.get("PAUSED", 0),
            "early_stopped": counts.get("EARLY_STOPPED", 0),
            "promoted_trials": sum(1 for t in trials if t["promotions"]),
            "promotions": sum(t["promotions"] for t in trials),
            "pauses": sum(len(t["paused_at"]) for t in trials),
            "deepest": max(
                (t["deepest"] for t in trials if t["deepest"] is not None), default=None
            ),
        },
        "levels": levels,
        "trials": trials[-MAX_TRIALS:],
        "truncated": len(trials) > MAX_TRIALS,
    }


def _levels(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per level: every distinct deepest step (pause steps too), or bins of them."""
    steps = sorted(
        {t["deepest"] for t in trials if t["deepest"] is not None}
        | {st for t in trials for st in t["paused_at"] if st is not None}
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
        # the last edge at or below step
        lo_i, hi_i = 0, len(edges) - 1
        while lo_i < hi_i:
            mid = (lo_i + hi_i + 1) // 2
            if edges[mid] <= step:
                lo_i = mid
            else:
                hi_i = mid - 1
        return lo_i

    rows: list[dict[str, Any]] = [
        {"step": e, "reached": 0, "ended": {}, "paused": 0, "promoted": 0} for e in edges
    ]
    for t in trials:
        if t["deepest"] is not None:
            b = bucket(t["deepest"])
            ended = rows[b]["ended"]
            ended[t["status"]] = ended.get(t["status"], 0) + 1
            for r in rows[: b + 1]:
                r["reached"] += 1
        for i, st in enumerate(t["paused_at"]):
            if st is None:
                continue
            r = rows[bucket(st)]
            r["paused"] += 1
            if i < t["promotions"]:
                r["promoted"] += 1
    if len(steps) > MAX_LEVELS:
        for i, r in enumerate(rows):
            r["to"] = (edges[i + 1] - 1) if i + 1 < len(edges) else steps[-1]
    return rows
