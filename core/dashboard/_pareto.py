"""The Pareto page's data: every trial's objective values, the front, constraint violations and
hypervolume over trials (``GET /api/experiments/{id}/pareto``)."""

from __future__ import annotations

import bisect
import json
import math
from typing import Any

import numpy as np
from hyperloom.dashboard import _front
from hyperloom.dashboard._queries import Session, _experiment, mode_of
from hyperloom.types import Constraint

__all__ = [
    "MAX_DOMINATED",
    "constraints_of",
    "has_column",
    "objectives_of",
    "pareto_data",
    "pareto_json",
]

#: most dominated (or infeasible) points sent; the front is always sent whole
MAX_DOMINATED = 6000
#: most points of the hypervolume-over-trials series (two objectives; three: fewer, each costs
#: a 3-D hypervolume)
HV_POINTS = 400
HV_POINTS_3D = 80
_BLOCK = 64
#: flags of a point
ON_FRONT, INFEASIBLE = 1, 2
_NUMERIC = {int, float, type(None)}


def objectives_of(config: Any) -> list[dict[str, str]]:
    """The experiment's objectives as ``[{name, mode}]`` (one, ``value``, when it names none)."""
    raw = config.get("objectives") if isinstance(config, dict) else None
    out: list[dict[str, str]] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, str):
                item = {"name": item}
            if isinstance(item, dict) and item.get("name"):
                mode = str(item.get("mode", "maximize")).lower()
                out.append(
                    {
                        "name": str(item["name"]),
                        "mode": "minimize" if mode in ("minimize", "min") else "maximize",
                    }
                )
    return out or [{"name": "value", "mode": mode_of(config)}]


def constraints_of(config: Any) -> list[Constraint]:
    """The experiment's constraints (those that cannot be read are skipped)."""
    raw = config.get("constraints") if isinstance(config, dict) else None
    out: list[Constraint] = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        try:
            out.append(Constraint(str(item.get("metric", "")), item.get("max"), item.get("min")))
        except (TypeError, ValueError):
            continue
    return out


def has_column(s: Session, name: str) -> bool:
    """Whether the store's trials table has ``name`` (schema v2 columns on a v1 store)."""
    return any(r[1] == name for r in s.conn.execute("PRAGMA table_info(trials)"))


def _json_path(key: str) -> str:
    """A JSON path naming the top-level ``key`` (quoted, so dots and spaces are fine)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _floats(col: list[Any]) -> Any:
    """A float array (NaN for missing, non-numeric or non-finite cells)."""
    if set(map(type, col)) <= _NUMERIC:
        # what SQLite's json_extract gives for JSON numbers (and booleans, as 0/1) and nulls:
        # numpy converts it in one call, None to NaN
        out = np.array(col, dtype=float)
    else:  # text or blobs somewhere: cell by cell
        out = np.array(
            [v if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in col],
            dtype=float,
        )
    out[~np.isfinite(out)] = np.nan
    return out


def _read(
    s: Session, names: list[str], constraints: list[Constraint]
) -> tuple[list[tuple[str, int, str]], Any, Any]:
    """``(trial_id, sequence, status)`` of each trial with a value, its values per objective
    (n x m, NaN where missing) and whether it is feasible.

    The values and the constrained metrics are taken out of the JSON columns by SQLite
    (``json_extract``), so no trial's metrics are parsed in Python. A trial's values are the
    stored ``values`` when it has them, else its value and the final metrics that the other
    objectives name.
    """
    v2 = has_column(s, "values_json")
    cols = []
    args: list[Any] = []
    for k, name in enumerate(names):
        fallback = "value" if k == 0 else "json_extract(m, ?)"
        if k:
            args.append(_json_path(name))
        cols.append(f"coalesce(json_extract(v, '$[{k}]'), {fallback})" if v2 else fallback)
    for c in constraints:
        cols.append("json_extract(m, ?)")
        args.append(_json_path(c.metric))
    vsql = "CASE WHEN json_valid(values_json) THEN values_json END" if v2 else "NULL"
    rows = s.conn.execute(
        f"SELECT trial_id, sequence, status, {', '.join(cols)} FROM (SELECT trial_id, sequence, "
        f"status, value, CASE WHEN json_valid(metrics_json) THEN metrics_json END AS m, "
        f"{vsql} AS v FROM trials WHERE value IS NOT NULL) ORDER BY sequence",
        args,
    ).fetchall()
    m = len(names)
    ids = [(r[0], r[1], r[2]) for r in rows]
    columns: list[Any] = (
        list(zip(*rows, strict=True)) if rows else [[] for _ in range(3 + m + len(constraints))]
    )
    values = (
        np.column_stack([_floats(list(columns[3 + k])) for k in range(m)])
        if rows
        else (np.empty((0, m)))
    )
    ok = np.ones(len(rows), dtype=bool)
    for j, c in enumerate(constraints):
        v = _floats(list(columns[3 + m + j]))
        with np.errstate(invalid="ignore"):
            inside = np.isfinite(v)
            if c.max is not None:
                inside &= v <= c.max
            if c.min is not None:
                inside &= v >= c.min
        ok &= inside
    return ids, values, ok


def pareto_data(s: Session) -> dict[str, Any]:
    """Everything the Pareto page draws.

    Returns:
        ``objectives``, ``constraints``, ``total`` (trials with every value), ``front_size``,
        ``infeasible`` (count), ``shown``, ``points`` (columns, one entry per point shown, in
        sequence order: ``trial_id``, ``sequence``, ``values`` (one list per
        objective) and ``flags`` (1 on the front, 2 infeasible); the whole front and at most
        MAX_DOMINATED others, evenly sampled), ``reference`` (the hypervolume reference point in
        the objectives' own units) and ``hypervolume`` (``[sequence, hv]`` after each trial
        where it was evaluated, or null above 3 objectives).
    """
    exp = _experiment(s)
    objectives = objectives_of(exp["config"])
    constraints = constraints_of(exp["config"])
    names = [o["name"] for o in objectives]
    signs = np.array([-1.0 if o["mode"] == "maximize" else 1.0 for o in objectives])
    ids, values, fits = _read(s, names, constraints)
    complete = np.all(np.isfinite(values), axis=1) if len(ids) else np.zeros(0, dtype=bool)
    keep = np.flatnonzero(complete)
    rows = [ids[i] for i in keep]
    values = values[keep]
    ok = fits[keep]
    n = len(rows)
    base: dict[str, Any] = {
        "objectives": objectives,
        "constraints": [
            {
                k: v
                for k, v in (("metric", c.metric), ("max", c.max), ("min", c.min))
                if v is not None
            }
            for c in constraints
        ],
        "total": n,
    }
    if not n:
        return {
            **base,
            "front_size": 0,
            "infeasible": 0,
            "shown": 0,
            "points": {
                "trial_id": [],
                "sequence": [],
                "values": [[] for _ in names],
                "flags": [],
            },
            "reference": None,
            "hypervolume": [],
        }
    losses = values * signs
    on_front = np.zeros(n, dtype=bool)
    if ok.any():
        idx = np.flatnonzero(ok)
        on_front[idx[_front.front_mask(losses[idx])]] = True
    others = np.flatnonzero(~on_front)
    if len(others) > MAX_DOMINATED:
        # even by sequence, but every infeasible trial first while they fit
        bad = others[~ok[others]]
        good = others[ok[others]]
        keep_bad = (
            bad
            if len(bad) <= MAX_DOMINATED // 2
            else bad[np.linspace(0, len(bad) - 1, MAX_DOMINATED // 2).astype(int)]
        )
        room = MAX_DOMINATED - len(keep_bad)
        keep_good = (
            good if len(good) <= room else good[np.linspace(0, len(good) - 1, room).astype(int)]
        )
        others = np.concatenate([keep_bad, keep_good])
    shown = np.sort(np.concatenate([np.flatnonzero(on_front), others]))
    flags = (on_front * ON_FRONT) | (~ok * INFEASIBLE)
    picked = [rows[i] for i in shown.tolist()]
    points = {
        "trial_id": [r[0] for r in picked],
        "sequence": [r[1] for r in picked],
        "values": values[shown].T.tolist(),
        "flags": flags[shown].tolist(),
    }
    ref = _front.reference_point(losses[ok]) if ok.any() else None
    return {
        **base,
        "front_size": int(on_front.sum()),
        "infeasible": int((~ok).sum()),
        "shown": len(shown),
        "points": points,
        "reference": None if ref is None else [float(x) for x in ref * signs],
        "hypervolume": _hv_series([r[1] for r in rows], losses, ok, ref),
    }


def _hv_series(seqs: list[int], losses: Any, ok: Any, ref: Any) -> list[list[float]] | None:
    """``[sequence, hypervolume]`` of the feasible front after each trial (at most HV_POINTS
    of them, evenly spaced, and the last), or None when it cannot be computed (more than 3
    objectives without :mod:`hyperloom.pareto`)."""
    if ref is None:
        return []
    m = losses.shape[1]
    if m > 3 and _front._pareto_module() is None:
        return None
    n = len(seqs)
    stride = max(1, math.ceil(n / (HV_POINTS if m == 2 else HV_POINTS_3D)))
    if m == 2:
        return _hv_series_2d(seqs, losses, ok, ref, stride)
    front = _front.Front(m)
    out: list[list[float]] = []
    hv = 0.0
    dirty = False
    for b in range(0, n, _BLOCK):
        # a point that the front at the start of its block dominates is dominated for good (the
        # front only gets better): one vectorised test screens most of the block
        stop = min(n, b + _BLOCK)
        cand = ok[b:stop].copy()
        f = front.array()
        if len(f) and cand.any():
            p = losses[b:stop]
            cand &= ~np.any(np.all(f[None, :, :] <= p[:, None, :], axis=2), axis=1)
        for i in range(b, stop):
            if cand[i - b] and front.add(losses[i]):
                dirty = True
            if i % stride == 0 or i == n - 1:
                if dirty:
                    got = _front.hypervolume(front.array(), ref)
                    if got is None:
                        return None
                    hv = got
                    dirty = False
                out.append([seqs[i], hv])
    return out


class _Staircase:
    """The two-objective front inside a reference point, sorted by the first loss (the second
    decreasing), with its hypervolume kept up to date as points are added: each addition costs a
    binary search plus a walk over the points it dominates, which leave."""

    def __init__(self, ref: Any) -> None:
        self.rx, self.ry = float(ref[0]), float(ref[1])
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.hv = 0.0

    def add(self, x: float, y: float) -> bool:
        """Adds the point; returns whether the hypervolume grew."""
        if not (x < self.rx and y < self.ry):
            return False  # adds nothing, and dominates nothing inside the reference point
        xs, ys = self.xs, self.ys
        r = bisect.bisect_right(xs, x)
        cap = ys[r - 1] if r else self.ry  # the front's height over [x, next x)
        if cap <= y:
            return False  # weakly dominated
        i = bisect.bisect_left(xs, x)
        # the area that (x, y) adds: under the old front's staircase, above y, right of x
        gain, cur, j = 0.0, x, i
        while j < len(xs) and ys[j] > y:
            gain += (xs[j] - cur) * (cap - y)
            cur, cap = xs[j], ys[j]
            j += 1
        end = xs[j] if j < len(xs) else self.rx
        gain += (end - cur) * (cap - y)
        if j < len(xs) and ys[j] == y:
            j += 1  # weakly dominated by the new point: leaves too
        xs[i:j] = [x]
        ys[i:j] = [y]
        self.hv += gain
        return gain > 0


def _hv_series_2d(
    seqs: list[int], losses: Any, ok: Any, ref: Any, stride: int
) -> list[list[float]]:
    """The two-objective hypervolume series, exact after every trial (incremental)."""
    stair = _Staircase(ref)
    out: list[list[float]] = []
    n = len(seqs)
    xs, ys, fine = losses[:, 0].tolist(), losses[:, 1].tolist(), ok.tolist()
    for i in range(n):
        if fine[i]:
            stair.add(xs[i], ys[i])
        if i % stride == 0 or i == n - 1:
            out.append([seqs[i], stair.hv])
    return out


def pareto_json(s: Session) -> str:
    """:func:`pareto_data` as JSON text."""
    return json.dumps(pareto_data(s), allow_nan=False, separators=(",", ":"))
