"""The lineage page's data (PBT and any tuner that warm-starts trials from others):
``GET /api/experiments/{id}/lineage``.

A warm-started trial continues from its parent's checkpoint, so its first report is at the
checkpoint's step + 1. Its curve *across its ancestors* is therefore the parent's reports up to
that step (the grandparent's up to the parent's fork, and so on), then its own.
"""

from __future__ import annotations

import math
from typing import Any

from hyperloom.dashboard._pareto import has_column
from hyperloom.dashboard._queries import Session, _experiment, _loads, _num, mode_of

__all__ = ["MAX_MEMBERS", "MAX_NODES", "lineage_data", "stitched_curve"]

#: most trials in the family tree (the newest ones, by sequence)
MAX_NODES = 3000
#: most members whose stitched curves are sent (the best leaves, and running ones)
MAX_MEMBERS = 60
#: most points per stitched curve (evenly thinned beyond)
MAX_CURVE_POINTS = 2000


def _nodes(s: Session) -> list[dict[str, Any]]:
    v2 = has_column(s, "parent")
    extra = "parent, perturbation_json, checkpoint_json" if v2 else "NULL, NULL, NULL"
    rows = s.conn.execute(
        f"SELECT trial_id, sequence, status, value, params_json, {extra} FROM ("
        "SELECT * FROM trials ORDER BY sequence DESC LIMIT ?) ORDER BY sequence",
        (MAX_NODES,),
    ).fetchall()
    spans = {
        tid: (lo, hi, n)
        for tid, lo, hi, n in s.conn.execute(
            "SELECT trial_id, min(step), max(step), count(*) FROM metrics GROUP BY trial_id"
        )
    }
    ids = {r[0] for r in rows}
    out: list[dict[str, Any]] = []
    for tid, seq, status, value, ptext, parent, pert, ckpt in rows:
        lo, hi, n = spans.get(tid, (None, None, 0))
        params = _loads(ptext)
        ck = _loads(ckpt)
        out.append(
            {
                "trial_id": tid,
                "sequence": seq,
                "status": status,
                "value": _num(value),
                "params": params if isinstance(params, dict) else {},
                "parent": parent,
                "parent_shown": parent in ids if parent else False,
                "perturbation": _loads(pert),
                "checkpoint_step": ck.get("step") if isinstance(ck, dict) else None,
                "first_step": lo,
                "last_step": hi,
                "reports": n,
            }
        )
    by_id = {n["trial_id"]: n for n in out}
    warm = _warm_starts(s)
    for n in out:
        # the step it continued from: the checkpoint step of its warm start, else just before
        # its first report (or the parent's last committed checkpoint while it has reported
        # nothing yet)
        fork = None
        if n["parent"]:
            if n["trial_id"] in warm:
                fork = warm[n["trial_id"]]
            elif n["first_step"] is not None:
                fork = n["first_step"] - 1
            else:
                p = by_id.get(n["parent"])
                fork = p["checkpoint_step"] if p else None
        n["fork_step"] = fork
    for n in out:  # depth in the family tree (iterative: chains can be long)
        depth, cur, seen = 0, n, set()
        while cur["parent"] and cur["parent"] in by_id and cur["trial_id"] not in seen:
            seen.add(cur["trial_id"])
            cur = by_id[cur["parent"]]
            depth += 1
        n["generation"] = depth
    children: dict[str, int] = {}
    for n in out:
        if n["parent"]:
            children[n["parent"]] = children.get(n["parent"], 0) + 1
    for n in out:
        n["children"] = children.get(n["trial_id"], 0)
    return out


def _chain(parents: dict[str, tuple[Any, Any]], trial_id: str) -> list[tuple[str, Any]]:
    """``[(trial_id, up_to_step)]`` from the oldest ancestor to ``trial_id`` (None: all its
    reports)."""
    chain: list[tuple[str, int | None]] = [(trial_id, None)]
    seen = {trial_id}
    cur = trial_id
    while True:
        parent, fork = parents.get(cur, (None, None))
        if not parent or parent in seen:
            break
        chain.append((parent, fork))
        seen.add(parent)
        cur = parent
    return chain[::-1]


def _warm_starts(s: Session) -> dict[str, int]:
    """trial id -> the checkpoint step it was warm-started from (the manager's ``warm_start``
    events)."""
    out: dict[str, int] = {}
    for tid, step in s.conn.execute(
        "SELECT trial_id, json_extract(payload_json, '$.step') FROM events "
        "WHERE kind = 'warm_start' AND trial_id IS NOT NULL AND json_valid(payload_json) "
        "ORDER BY id"
    ):
        if isinstance(step, int | float) and not isinstance(step, bool) and math.isfinite(step):
            out[tid] = int(step)
    return out


def _parents(s: Session) -> dict[str, tuple[Any, Any]]:
    """trial id -> (parent, fork step) for every warm-started trial in the store: the step of
    its ``warm_start`` event, else the step before its first report, else its parent's last
    committed checkpoint."""
    if not has_column(s, "parent"):
        return {}
    warm = _warm_starts(s)
    out: dict[str, tuple[Any, Any]] = {}
    for tid, parent, first, ckpt in s.conn.execute(
        "SELECT t.trial_id, t.parent, (SELECT min(step) FROM metrics m WHERE m.trial_id = "
        "t.trial_id), p.checkpoint_json FROM trials t LEFT JOIN trials p ON p.trial_id = t.parent "
        "WHERE t.parent IS NOT NULL"
    ):
        fork: int | None
        if tid in warm:
            fork = warm[tid]
        elif first is not None:
            fork = int(first) - 1
        else:
            ck = _loads(ckpt)
            fork = ck.get("step") if isinstance(ck, dict) else None
        out[tid] = (parent, fork)
    return out


def stitched_curve(
    s: Session, trial_id: str, parents: dict[str, tuple[Any, Any]] | None = None
) -> dict[str, Any]:
    """A trial's curve across its ancestors: ``points`` as ``[step, value, trial_id]`` and
    ``segments`` as ``{trial_id, from, to}`` (steps), oldest ancestor first."""
    parents = _parents(s) if parents is None else parents
    chain = _chain(parents, trial_id)
    points: list[list[Any]] = []
    segments: list[dict[str, Any]] = []
    for i, (tid, _) in enumerate(chain):
        # this trial's reports go up to the step its child continued from
        upto = parents[chain[i + 1][0]][1] if i + 1 < len(chain) else None
        after = points[-1][0] if points else None
        rows = s.conn.execute(
            "SELECT step, value FROM metrics WHERE trial_id = ? AND (? IS NULL OR step <= ?) "
            "AND (? IS NULL OR step > ?) ORDER BY step",
            (tid, upto, upto, after, after),
        ).fetchall()
        if rows:
            segments.append({"trial_id": tid, "from": rows[0][0], "to": rows[-1][0]})
            points.extend([int(st), _num(v), tid] for st, v in rows)
    stride = max(1, math.ceil(len(points) / MAX_CURVE_POINTS))
    if stride > 1:
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    return {"trial_id": trial_id, "points": points, "segments": segments}


def lineage_data(s: Session, members: int = 20, trial: str | None = None) -> dict[str, Any]:
    """The family tree and the members' stitched curves.

    Args:
        members: How many of the best trials get a stitched curve (plus every running or
            paused one).
        trial: Also send this trial's stitched curve (the one selected on the page).
    """
    exp = _experiment(s)
    mode = mode_of(exp["config"])
    nodes = _nodes(s)
    parents = _parents(s)
    sign = -1.0 if mode == "maximize" else 1.0
    ranked = sorted(
        (n for n in nodes if n["value"] is not None),
        key=lambda n: (sign * n["value"], n["sequence"]),
    )
    picked = [n["trial_id"] for n in ranked[: max(1, min(members, MAX_MEMBERS))]]
    picked += [n["trial_id"] for n in nodes if n["status"] in ("RUNNING", "PAUSED")][:MAX_MEMBERS]
    if trial and trial not in picked:
        picked.append(trial)
    seen: set[str] = set()
    curves = []
    for tid in picked:
        if tid in seen:
            continue
        seen.add(tid)
        c = stitched_curve(s, tid, parents)
        if c["points"]:
            curves.append(c)
    return {
        "mode": mode,
        "total": int(s.conn.execute("SELECT count(*) FROM trials").fetchone()[0]),
        "nodes": nodes,
        "warm_started": sum(1 for n in nodes if n["parent"]),
        "curves": curves,
    }
