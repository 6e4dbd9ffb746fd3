"""The importance page's data: fANOVA importance, per-parameter marginals (slice plots) and
the two-parameter marginal of a chosen pair (contour plot), from ``hyperloom.importance``.

The forest is fitted once per store version and objective and kept (a few per server): a
contour for another pair reuses it.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from hyperloom.dashboard._pareto import _json_path, has_column, objectives_of
from hyperloom.dashboard._queries import Session, _experiment, _loads
from hyperloom.importance import Forest, encode, fit_forest, result_of

__all__ = ["MAX_TRIALS", "importance_json"]

#: the newest this many finished trials are used
MAX_TRIALS = 1000
#: fewest finished trials before importance is computed
MIN_TRIALS = 8
N_TREES = 24
#: points along a numeric parameter in the slice marginals and the contour
GRID = 32

_forests: OrderedDict[tuple[str, str, int], tuple[Forest, list[Any], list[float]]] = OrderedDict()
_lock = threading.Lock()
_KEEP = 4


def _rows(s: Session, k: int, name: str) -> tuple[list[str], list[Any], list[float]]:
    """(trial ids, params, values) of the newest finished trials with a value for objective
    ``k``."""
    v2 = has_column(s, "values_json")
    if k == 0:
        col = "value"
    elif v2:
        col = "coalesce(json_extract(CASE WHEN json_valid(values_json) THEN values_json END, "
        col += f"'$[{k}]'), json_extract(metrics_json, ?))"
    else:
        col = "json_extract(metrics_json, ?)"
    args: list[Any] = [_json_path(name)] if k else []
    rows = s.conn.execute(
        f"SELECT trial_id, params_json, {col} FROM trials WHERE status = 'SUCCEEDED' "
        f"AND value IS NOT NULL ORDER BY sequence DESC LIMIT {MAX_TRIALS}",
        args,
    ).fetchall()
    ids, params, values = [], [], []
    for tid, ptext, v in reversed(rows):
        p = _loads(ptext)
        if not isinstance(p, dict) or not isinstance(v, int | float) or not math.isfinite(v):
            continue
        ids.append(tid)
        params.append(p)
        values.append(float(v))
    return ids, params, values


def _forest(
    s: Session, version: str, k: int, name: str, space: Any
) -> tuple[Forest, list[str], np.ndarray, np.ndarray]:
    """The fitted forest for objective ``k`` (cached per store version), with the trial ids, the
    encoded rows and values it was fitted on."""
    key = (str(s.db), version, k)
    with _lock:
        hit = _forests.get(key)
        if hit is not None:
            _forests.move_to_end(key)
    if hit is None:
        ids, params, values = _rows(s, k, name)
        dims, X, keep = encode(params, space)
        y = np.array(values)
        ids = [t for t, ok in zip(ids, keep, strict=True) if ok]
        X, y = X[keep], y[keep]
        n = len(y)
        min_leaf = max(3, n // 150)
        forest = fit_forest(dims, X, y, n_trees=N_TREES, min_leaf=min_leaf, seed=0)
        hit = (forest, [ids, X], list(y))
        with _lock:
            _forests[key] = hit
            while len(_forests) > _KEEP:
                _forests.popitem(last=False)
    forest, (ids, X), ys = hit
    return forest, ids, X, np.array(ys)


def _axis(forest: Forest, j: int, pts: np.ndarray) -> list[Any]:
    """The raw values (numbers) or labels (choices) at encoded points ``pts`` of dimension j."""
    d = forest.dims[j]
    if d.kind == "categorical":
        return [d.options[int(p)] for p in pts]
    vals = [d.decode(float(p)) for p in pts]
    if d.kind == "int":
        return [round(v) for v in vals]
    return [float(f"{v:.6g}") for v in vals]


def _raw(forest: Forest, j: int, x: float) -> Any:
    d = forest.dims[j]
    if d.kind == "categorical":
        return d.options[int(x)] if int(x) < len(d.options) else None
    if x < 0:
        return None  # inactive
    v = d.decode(x)
    return round(v) if d.kind == "int" else float(f"{v:.6g}")


def _clean(a: np.ndarray) -> list[float | None]:
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in a.tolist()]


def importance_json(
    s: Session, version: str, x: str | None, y: str | None, objective: int = 0
) -> str:
    """The importance page's data as JSON text (see docs/dashboard.md)."""
    from hyperloom.space import SearchSpace

    exp = _experiment(s)
    objs = objectives_of(exp["config"])
    k = max(0, min(objective, len(objs) - 1))
    try:
        space: Any = SearchSpace.from_nni(exp["space"]) if exp["space"] else None
    except Exception:  # a store's space that no longer parses: infer from the values
        space = None
    forest, ids, X, ys = _forest(s, version, k, objs[k]["name"], space)
    left_out = {
        str(st): int(n)
        for st, n in s.conn.execute(
            "SELECT status, count(*) FROM trials WHERE status NOT IN ('SUCCEEDED', 'RUNNING', "
            "'WAITING', 'PAUSED') GROUP BY status"
        )
    }
    out: dict[str, Any] = {
        "left_out": left_out,
        "objective": objs[k]["name"],
        "objectives": [o["name"] for o in objs],
        "mode": objs[k]["mode"],
        "min_trials": MIN_TRIALS,
        "max_trials": MAX_TRIALS,
    }
    if len(ys) < MIN_TRIALS or not forest.trees:
        out.update({"n_trials": len(ys), "params": [], "marginals": {}, "contour": None})
        out["points"] = []
        return json.dumps(out, allow_nan=False)
    res = result_of(forest)
    out.update(res.as_dict())
    names = [d.name for d in forest.dims]
    marginals = {}
    for j, d in enumerate(forest.dims):
        pts = forest.grid(j, GRID)
        mean, std = forest.marginal(j, pts)
        marginals[d.name] = {
            "kind": d.kind,
            "x": _axis(forest, j, pts),
            "mean": _clean(mean),
            "std": _clean(std),
        }
    out["marginals"] = marginals
    ranked = res.ranking()
    xi = names.index(x) if x in names else names.index(ranked[0])
    yname = (
        y if y in names and y != names[xi] else next((r for r in ranked if r != names[xi]), None)
    )
    out["contour"] = None
    if yname is not None:
        yj = names.index(yname)
        px, py = forest.grid(xi, GRID), forest.grid(yj, GRID)
        z = forest.marginal2(xi, yj, px, py)  # (len(px), len(py))
        out["contour"] = {
            "x": names[xi],
            "y": yname,
            "x_kind": forest.dims[xi].kind,
            "y_kind": forest.dims[yj].kind,
            "xs": _axis(forest, xi, px),
            "ys": _axis(forest, yj, py),
            "z": [_clean(row) for row in z.T],  # z[iy][ix]
        }
    out["names"] = names
    out["points"] = [
        [tid, float(f"{v:.6g}"), [_raw(forest, j, float(X[i, j])) for j in range(len(names))]]
        for i, (tid, v) in enumerate(zip(ids, ys.tolist(), strict=True))
    ]
    return json.dumps(out, allow_nan=False)
