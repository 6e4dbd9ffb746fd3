"""The Pareto page's data: every trial's objective values, the front, constraint violations and
hypervolume over trials (``GET /api/experiments/{id}/pareto``)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hyperloom.dashboard import _front
from hyperloom.dashboard._queries import Session, _experiment, _loads, mode_of
from hyperloom.types import Constraint, feasible

__all__ = ["MAX_DOMINATED", "constraints_of", "has_column", "objectives_of", "pareto_json"]

#: most dominated (or infeasible) points sent; the front is always sent whole
MAX_DOMINATED = 6000
#: most points of the hypervolume-over-trials series
HV_POINTS = 400
#: flags of a point
ON_FRONT, INFEASIBLE = 1, 2


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


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _values(value: Any, values_text: Any, metrics: dict[str, Any], names: list[str]) -> Any:
    """A trial's value per objective: the stored values, else the value and the final metrics
    named by the other objectives; None when one is missing."""
    vals = _loads(values_text) if values_text else None
    if not isinstance(vals, list) or len(vals) != len(names):
        vals = [value] + [metrics.get(n) for n in names[1:]]
    out = [_finite(v) for v in vals]
    return None if any(v is None for v in out) else out


def pareto_data(s: Session) -> dict[str, Any]:
    """Everything the Pareto page draws.

    Returns:
        ``objectives``, ``constraints``, ``total`` (trials with every value), ``front_size``,
        ``infeasible`` (count), ``shown``, ``points`` (``[trial_id, sequence, status, values,
        flags]``, flags: 1 on the front, 2 infeasible; the whole front and at most
        MAX_DOMINATED others, evenly sampled), ``reference`` (the hypervolume reference point in
        the objectives' own units) and ``hypervolume`` (``[sequence, hv]`` after each trial
        where it was evaluated, or null above 3 objectives).
    """
    exp = _experiment(s)
    objectives = objectives_of(exp["config"])
    constraints = constraints_of(exp["config"])
    names = [o["name"] for o in objectives]
    signs = np.array([-1.0 if o["mode"] == "maximize" else 1.0 for o in objectives])
    vcol = "values_json" if has_column(s, "values_json") else "NULL"
    rows = []
    for tid, seq, status, value, mtext, vtext in s.conn.execute(
        f"SELECT trial_id, sequence, status, value, metrics_json, {vcol} FROM trials "
        "WHERE value IS NOT NULL ORDER BY sequence"
    ):
        metrics = _loads(mtext)
        metrics = metrics if isinstance(metrics, dict) else {}
        vals = _values(value, vtext, metrics, names)
        if vals is None:
            continue
        fits = feasible(metrics, constraints) if constraints else True
        rows.append((tid, seq, status, vals, fits))
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
            "points": [],
            "reference": None,
            "hypervolume": [],
        }
    losses = np.array([r[3] for r in rows], dtype=float) * signs
    ok = np.array([r[4] for r in rows], dtype=bool)
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
    points = [
        [
            rows[i][0],
            rows[i][1],
            rows[i][2],
            rows[i][3],
            (ON_FRONT if on_front[i] else 0) | (0 if ok[i] else INFEASIBLE),
        ]
        for i in shown
    ]
    ref = _front.reference_point(losses[ok]) if ok.any() else None
    return {
        **base,
        "front_size": int(on_front.sum()),
        "infeasible": int((~ok).sum()),
        "shown": len(points),
        "points": points,
        "reference": None if ref is None else [float(x) for x in ref * signs],
        "hypervolume": _hv_series(rows, losses, ok, ref),
    }


def _hv_series(rows: list[Any], losses: Any, ok: Any, ref: Any) -> list[list[float]] | None:
    """``[sequence, hypervolume]`` of the feasible front after each trial (at most HV_POINTS
    evaluations, evenly spaced, plus every point where only a cheap 2-objective update is
    needed), or None when it cannot be computed (more than 3 objectives)."""
    if ref is None:
        return []
    m = losses.shape[1]
    if m > 3 and _front._pareto_module() is None:
        return None
    n = len(rows)
    stride = max(1, math.ceil(n / HV_POINTS))
    front = _front.Front(m)
    out: list[list[float]] = []
    hv = 0.0
    dirty = False
    for i in range(n):
        if ok[i] and front.add(losses[i]):
            dirty = True
        if i % stride == 0 or i == n - 1:
            if dirty:
                got = _front.hypervolume(front.points, ref)
                if got is None:
                    return None
                hv = got
                dirty = False
            out.append([rows[i][1], hv])
    return out


def pareto_json(s: Session) -> str:
    """:func:`pareto_data` as JSON text."""
    return json.dumps(pareto_data(s), allow_nan=False, separators=(",", ":"))
