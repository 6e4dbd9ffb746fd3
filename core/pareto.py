"""Pareto fronts and hypervolume, on losses (every objective minimised).

Every function here takes ``points``: an ``(n, m)`` array-like of losses, one row per trial and
one column per objective, smaller is better. Turn reported values into losses with
:func:`as_losses` (a maximised objective is negated). A row with a missing or non-finite entry is
never on a front, ranks after every finite row and adds no hypervolume.

* :func:`pareto_mask` — which rows no other row dominates (``O(n log n)`` for two objectives).
* :func:`non_dominated_sort` — the front index of every row (0 for the Pareto front).
* :func:`crowding_distance` — NSGA-II's crowding distance within one set of rows.
* :func:`hypervolume` — the exact volume dominated by the rows and bounded by a reference point:
  a sort sweep for two objectives (``O(n log n)``), an incremental staircase sweep for three
  (``O(n log n)`` plus list edits; 1,000 points take a few milliseconds), and exact recursive
  slicing down to three objectives beyond that (meant for small sets).
* :func:`hypervolume_contributions` — what each row alone adds to the hypervolume.
* :func:`reference_point` — the derived reference point: the nadir plus 10% of the range.
* :func:`constrained_ranks` — fronts of the feasible rows first, then the infeasible rows by
  violation (Deb's constrained domination), optionally after a coarser tier.
* :func:`select_by_rank` — the best ``k`` rows by front, ties in the last front broken by
  hypervolume contribution (the split of multi-objective TPE).

Dominance is the usual one: ``a`` dominates ``b`` when ``a <= b`` in every objective and
``a < b`` in at least one. Identical rows do not dominate each other.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_losses",
    "constrained_ranks",
    "crowding_distance",
    "hypervolume",
    "hypervolume_contributions",
    "non_dominated_sort",
    "pareto_mask",
    "reference_point",
    "select_by_rank",
]

#: The margin of a derived reference point, as a fraction of each objective's range.
REFERENCE_MARGIN = 0.1

_MODES = {"maximize": -1.0, "max": -1.0, "minimize": 1.0, "min": 1.0}


def _points(points: Any) -> np.ndarray:
    a = np.asarray(points, dtype=float)
    if a.ndim == 1 and a.size == 0:
        return a.reshape(0, 0)
    if a.ndim != 2:
        raise ValueError(
            f"points must be a 2-D array (n points x m objectives), got shape {a.shape}"
        )
    return a


def as_losses(values: Sequence[Sequence[float | None] | None], modes: Sequence[Any]) -> np.ndarray:
    """Reported values turned into losses to minimise.

    Args:
        values: One entry per trial: its values, one per objective (a trial without values may be
            None; a missing or non-finite value becomes NaN).
        modes: One per objective: "maximize"/"minimize" (or "max"/"min"), or an object with a
            ``mode`` attribute such as :class:`hyperloom.types.Objective`.

    Returns:
        An ``(n, m)`` float array; maximised objectives are negated.
    """
    signs = []
    for mo in modes:
        name = str(getattr(mo, "mode", mo)).lower()
        if name not in _MODES:
            raise ValueError(f"an objective's mode must be 'maximize' or 'minimize', got {mo!r}")
        signs.append(_MODES[name])
    m = len(signs)
    out = np.full((len(values), m), np.nan)
    for i, row in enumerate(values):
        if row is None:
            continue
        for j in range(min(m, len(row))):
            v = row[j]
            try:
                f = float(v) if v is not None else math.nan
            except (TypeError, ValueError):
                f = math.nan
            if math.isfinite(f):
                out[i, j] = signs[j] * f
    return out


def _finite_rows(p: np.ndarray) -> np.ndarray:
    if p.shape[1] == 0:
        return np.zeros(p.shape[0], dtype=bool)
    return np.asarray(np.all(np.isfinite(p), axis=1), dtype=bool)


def _mask_unique_sorted(u: np.ndarray) -> np.ndarray:
    """Non-dominated mask of distinct rows (sorted lexicographically, first column first)."""
    n, m = u.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if m == 1:
        out = np.zeros(n, dtype=bool)
        out[0] = True
        return out
    if m == 2:
        y = u[:, 1]
        before = np.minimum.accumulate(np.concatenate([[np.inf], y[:-1]]))
        return np.asarray(y < before)
    if m == 3:
        return _mask3(u)
    # The row with the smallest sum is on the front; drop it and every row it dominates, and
    # repeat (one vectorised pass per front row). A large front finishes with blocked pairwise
    # checks among the rows left (a row dropped so far cannot dominate them, by transitivity).
    keep = np.zeros(n, dtype=bool)
    span = u.max(axis=0) - u.min(axis=0)
    score = (u / np.where(span > 0, span, 1.0)).sum(axis=1)
    left = np.arange(n)
    for _ in range(256):
        if not left.size:
            return keep
        i = left[int(np.argmin(score[left]))]
        keep[i] = True
        left = left[~np.all(u[left] >= u[i], axis=1)]
    rest = u[left]
    for s in range(0, left.size, 512):
        block = rest[s : s + 512]
        weak = rest[None, :, 0] <= block[:, None, 0]
        for j in range(1, m):
            weak &= rest[None, :, j] <= block[:, None, j]
        # distinct rows: weakly below and not the row itself means dominating
        weak[np.arange(block.shape[0]), np.arange(s, s + block.shape[0])] = False
        keep[left[s : s + 512]] = ~weak.any(axis=1)
    return keep


def _mask2(q: np.ndarray) -> np.ndarray:
    """Non-dominated mask of finite two-objective rows (duplicates allowed, all kept when on
    the front), in one lexicographic sort: ``np.unique(axis=0)`` costs several times more.

    After sorting by (x, y), every earlier row has a smaller x, or the same x and a y no larger.
    A row is dominated when an earlier row has a smaller y, or the same y at a smaller x (the
    first row reaching the running minimum has the smallest x among those)."""
    x, y = q[:, 0], q[:, 1]
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    n = len(order)
    run = np.minimum.accumulate(ys)
    first = np.ones(n, dtype=bool)
    first[1:] = ys[1:] < run[:-1]  # where the running minimum is set (first reached)
    where = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    dominated = np.zeros(n, dtype=bool)
    pm, xm = run[:-1], xs[where[:-1]]
    dominated[1:] = (pm < ys[1:]) | ((pm == ys[1:]) & (xm < xs[1:]))
    out = np.empty(n, dtype=bool)
    out[order] = ~dominated
    return out


def _mask3(u: np.ndarray) -> np.ndarray:
    """Three objectives, distinct rows sorted lexicographically: sweep in the first objective,
    keeping the staircase of the front so far in the other two (y increasing, z decreasing)."""
    keep = np.zeros(u.shape[0], dtype=bool)
    ys: list[float] = []
    zs: list[float] = []
    for i, (_, py, pz) in enumerate(u.tolist()):
        k = bisect_right(ys, py) - 1
        if k >= 0 and zs[k] <= pz:
            continue  # an earlier row is no worse in every objective
        keep[i] = True
        a = bisect_left(ys, py)
        b = a
        while b < len(ys) and zs[b] >= pz:
            b += 1
        ys[a:b] = [py]
        zs[a:b] = [pz]
    return keep


def pareto_mask(points: Any) -> np.ndarray:
    """Which rows are on the Pareto front (no other row dominates them).

    Args:
        points: ``(n, m)`` losses. Rows with a non-finite entry are never on the front.

    Returns:
        A boolean array of length ``n``. Duplicated front rows are all on the front.
    """
    p = _points(points)
    n = p.shape[0]
    out = np.zeros(n, dtype=bool)
    fin = np.flatnonzero(_finite_rows(p))
    if fin.size == 0:
        return out
    q = p[fin]
    if q.shape[0] <= 128:  # small: pairwise, cheaper than sorting
        le = np.all(q[:, None, :] <= q[None, :, :], axis=2)
        lt = np.any(q[:, None, :] < q[None, :, :], axis=2)
        out[fin] = ~np.any(le & lt, axis=0)
        return out
    if q.shape[1] == 2:
        out[fin] = _mask2(q)
        return out
    u, inverse = np.unique(q, axis=0, return_inverse=True)  # sorted lexicographically
    keep = _mask_unique_sorted(u)
    out[fin] = keep[np.asarray(inverse).reshape(-1)]
    return out


def non_dominated_sort(points: Any) -> np.ndarray:
    """The front of every row: 0 for the Pareto front, 1 for the front once it is removed, ...

    Rows with a non-finite entry get one rank past the last front.

    Args:
        points: ``(n, m)`` losses.

    Returns:
        An integer array of length ``n``.
    """
    p = _points(points)
    n = p.shape[0]
    ranks = np.zeros(n, dtype=np.int64)
    fin = np.flatnonzero(_finite_rows(p))
    if fin.size == 0:
        return ranks
    q = p[fin]
    sub = np.full(q.shape[0], -1, dtype=np.int64)
    if q.shape[0] <= 2000:
        le = np.all(q[:, None, :] <= q[None, :, :], axis=2)
        lt = np.any(q[:, None, :] < q[None, :, :], axis=2)
        dom = le & lt  # dom[i, j]: i dominates j
        count = dom.sum(axis=0)
        current = np.flatnonzero(count == 0)
        r = 0
        while current.size:
            sub[current] = r
            count = count - dom[current].sum(axis=0)
            count[sub >= 0] = -1
            current = np.flatnonzero(count == 0)
            r += 1
    else:
        left = np.arange(q.shape[0])
        r = 0
        while left.size:
            mask = pareto_mask(q[left])
            sub[left[mask]] = r
            left = left[~mask]
            r += 1
    ranks[fin] = sub
    others = np.setdiff1d(np.arange(n), fin)
    ranks[others] = int(sub.max()) + 1
    return ranks


def constrained_ranks(points: Any, violation: Any = None, tier: Any = None) -> np.ndarray:
    """Ranks under constrained domination (Deb et al. 2002), smaller is better.

    Rows are ordered by ``tier`` (a coarse class, e.g. 0 for finished trials and 1 for trials
    stopped early), then, within a tier, the feasible rows (``violation == 0``) by their
    non-dominated fronts; after every feasible row come the infeasible ones, one rank per distinct
    violation (smaller first), and last the rows with a non-finite entry. Ranks are consecutive
    integers from 0.

    Args:
        points: ``(n, m)`` losses.
        violation: ``(n,)`` non-negative constraint violations (None: all feasible).
        tier: ``(n,)`` integer classes (None: all 0).
    """
    p = _points(points)
    n = p.shape[0]
    viol = np.zeros(n) if violation is None else np.asarray(violation, dtype=float).reshape(n)
    tiers = np.zeros(n, dtype=np.int64) if tier is None else np.asarray(tier).reshape(n)
    fin = _finite_rows(p)
    ok = fin & (viol == 0)
    ranks = np.zeros(n, dtype=np.int64)
    nxt = 0
    for t in np.unique(tiers[ok]):
        idx = np.flatnonzero(ok & (tiers == t))
        r = non_dominated_sort(p[idx])
        ranks[idx] = nxt + r
        nxt += int(r.max()) + 1
    bad = np.flatnonzero(fin & (viol != 0))
    if bad.size:
        v = np.where(np.isnan(viol[bad]), np.inf, viol[bad])
        _, inv = np.unique(v, return_inverse=True)
        ranks[bad] = nxt + np.asarray(inv).reshape(-1)
        nxt += int(np.max(inv)) + 1
    ranks[~fin] = nxt
    return ranks


def crowding_distance(points: Any) -> np.ndarray:
    """NSGA-II's crowding distance of each row within the set (larger: more isolated).

    For each objective the rows are sorted; the two extreme rows get ``inf`` and the others the
    gap between their neighbours divided by the objective's range. The distances are summed over
    objectives. Sets of two rows or fewer are all ``inf``.

    Args:
        points: ``(n, m)`` finite losses (usually one front).
    """
    p = _points(points)
    n, m = p.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(p[:, j], kind="stable")
        col = p[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = np.inf
        dist[order[-1]] = np.inf
        if span > 0 and math.isfinite(span):
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


def reference_point(points: Any, margin: float = REFERENCE_MARGIN) -> np.ndarray:
    """The derived reference point: the nadir (worst finite loss per objective) plus ``margin``
    times the objective's range (``max - min`` over the finite rows). Where the range is zero the
    step is ``margin * max(|nadir|, 1)``, so every finite row lies strictly inside.

    Raises:
        ValueError: when no row is finite.
    """
    p = _points(points)
    fin = _finite_rows(p)
    if not fin.any():
        raise ValueError("no finite point to derive a reference point from")
    q = p[fin]
    nadir = q.max(axis=0)
    span = nadir - q.min(axis=0)
    step = np.where(span > 0, margin * span, margin * np.maximum(np.abs(nadir), 1.0))
    return np.asarray(nadir + step, dtype=float)


def _hv2(p: np.ndarray, ref: np.ndarray) -> float:
    order = np.lexsort((p[:, 1], p[:, 0]))
    x = p[order, 0]
    ymin = np.minimum.accumulate(p[order, 1])
    xn = np.append(x[1:], ref[0])
    return float(np.sum((xn - x) * (ref[1] - ymin)))


def _hv3(p: np.ndarray, ref: np.ndarray) -> float:
    """Sweep in the third objective, keeping the 2-D staircase of the points seen so far (x
    increasing, y decreasing) and its area up to date as each point is inserted."""
    order = np.argsort(p[:, 2], kind="stable")
    pts = p[order].tolist()
    rx, ry, rz = float(ref[0]), float(ref[1]), float(ref[2])
    xs: list[float] = []
    ys: list[float] = []
    area = 0.0
    vol = 0.0
    prev_z = float(pts[0][2])
    px: float
    py: float
    pz: float
    for px, py, pz in pts:
        if pz != prev_z:
            vol += area * (pz - prev_z)
            prev_z = pz
        k = bisect_left(xs, px)
        if k > 0 and ys[k - 1] <= py:
            continue  # dominated in (x, y) by the point before
        if k < len(xs) and xs[k] == px and ys[k] <= py:
            continue  # same x, no higher
        j = k
        nx = len(xs)
        while j < nx and ys[j] >= py:
            j += 1
        left = px
        h = (ys[k - 1] if k > 0 else ry) - py
        gain = 0.0
        for t in range(k, j):
            gain += (xs[t] - left) * h
            left = xs[t]
            h = ys[t] - py
        gain += ((xs[j] if j < nx else rx) - left) * h
        area += gain
        xs[k:j] = [px]
        ys[k:j] = [py]
    vol += area * (rz - prev_z)
    return vol


def _hv(p: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of finite rows that are all strictly below ``ref``."""
    n, m = p.shape
    if n == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - p[:, 0].min())
    if m == 2:
        return _hv2(p, ref)
    if m == 3:
        return _hv3(p, ref)
    p = p[pareto_mask(p)]
    order = np.argsort(p[:, -1], kind="stable")
    p = p[order]
    vol = 0.0
    n = p.shape[0]
    for i in range(n):
        z_next = p[i + 1, -1] if i + 1 < n else ref[-1]
        dz = float(z_next - p[i, -1])
        if dz > 0:
            head = p[: i + 1, :-1]
            vol += _hv(head[pareto_mask(head)], ref[:-1]) * dz
    return vol


def _inside(points: Any, ref: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = _points(points)
    r = np.asarray(ref, dtype=float).reshape(-1) if ref is not None else None
    m = p.shape[1] if p.size else (r.size if r is not None else 0)
    if r is None:
        if p.shape[0] == 0 or not _finite_rows(p).any():
            return p.reshape(-1, m), np.zeros(m), np.zeros(p.shape[0], dtype=bool)
        r = reference_point(p)
    if p.shape[0] and p.shape[1] != r.size:
        raise ValueError(f"the reference point has {r.size} objectives, the points {p.shape[1]}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"the reference point must be finite, got {r.tolist()}")
    ok = _finite_rows(p) & np.all(p < r, axis=1) if p.shape[0] else np.zeros(0, dtype=bool)
    return p, r, ok


def hypervolume(points: Any, ref: Any = None) -> float:
    """The exact hypervolume dominated by ``points`` and bounded by ``ref``.

    Args:
        points: ``(n, m)`` losses. Rows with a non-finite entry, and rows not strictly below the
            reference point in every objective, add nothing.
        ref: The reference point (``m`` losses); None derives it with :func:`reference_point`.

    Returns:
        The volume (0.0 for no usable row).
    """
    p, r, ok = _inside(points, ref)
    if not ok.any():
        return 0.0
    return _hv(p[ok], r)


def hypervolume_contributions(points: Any, ref: Any = None) -> np.ndarray:
    """What each row alone adds to the hypervolume: ``HV(all) - HV(all but this row)``.

    Dominated rows, duplicated rows and rows outside the reference point contribute 0. On one
    front of two objectives this is the neighbours' rectangle (``O(n log n)``); otherwise one
    hypervolume per front row.

    Args:
        points: ``(n, m)`` losses.
        ref: The reference point; None derives it with :func:`reference_point`.
    """
    p, r, ok = _inside(points, ref)
    out = np.zeros(p.shape[0])
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return out
    q = p[idx]
    front = np.flatnonzero(pareto_mask(q))
    f = q[front]
    if f.shape[1] == 2 and front.size == q.shape[0]:
        order = np.lexsort((f[:, 1], f[:, 0]))
        s = f[order]
        x_next = np.append(s[1:, 0], r[0])
        y_prev = np.concatenate([[r[1]], s[:-1, 1]])
        contrib = np.clip((x_next - s[:, 0]) * (y_prev - s[:, 1]), 0.0, None)
        c = np.zeros(f.shape[0])
        c[order] = contrib
    else:
        # dominated rows matter: removing a front row can uncover them
        total = _hv(q, r)
        c = np.zeros(f.shape[0])
        for i, row in enumerate(front):
            rest = np.delete(q, row, axis=0)
            c[i] = max(total - (_hv(rest, r) if rest.shape[0] else 0.0), 0.0)
    out[idx[front]] = c
    return out


def _greedy_subset(f: np.ndarray, need: int, ref: np.ndarray, index: np.ndarray) -> list[int]:
    """``need`` rows of the front ``f`` that keep the most hypervolume, greedily: with two
    objectives by dropping the least contributor until ``need`` are left (exact contributions are
    cheap), otherwise by adding the row that adds the most (``need`` hypervolume rounds)."""
    if f.shape[1] == 2:
        keep = np.arange(f.shape[0])
        while keep.size > need:
            keep = np.delete(keep, int(np.argmin(hypervolume_contributions(f[keep], ref))))
        return [int(i) for i in index[keep]]
    ok = np.all(f < ref, axis=1)
    picked: list[int] = []
    inside: list[int] = []  # the picked rows strictly inside the reference box
    base = 0.0
    left = list(range(f.shape[0]))
    while len(picked) < need:
        gains = [_hv(f[[*inside, j]], ref) - base if ok[j] else 0.0 for j in left]
        best = left.pop(int(np.argmax(gains)))
        picked.append(best)
        if ok[best]:
            inside.append(best)
            base = _hv(f[inside], ref)
    return [int(index[i]) for i in sorted(picked)]


def select_by_rank(points: Any, k: int, ref: Any = None, ranks: Any = None) -> np.ndarray:
    """The indices of the ``k`` best rows: whole fronts in order, then, from the front that does
    not fit, the rows that keep the most hypervolume (greedily: with two objectives the least
    contributor is dropped, contributions recomputed, until it fits; with more, the row adding
    the most hypervolume is added until there are ``k``). Rows with a non-finite entry come last.

    Args:
        points: ``(n, m)`` losses.
        k: How many rows to select (clipped to ``[0, n]``).
        ref: Reference point for the tie-break; None derives it from the finite rows.
        ranks: The rank of each row (e.g. from :func:`constrained_ranks`); None uses
            :func:`non_dominated_sort`. The hypervolume tie-break applies to a group of finite
            rows that are mutually non-dominated; any other group keeps its first rows.

    Returns:
        Sorted row indices.
    """
    p = _points(points)
    n = p.shape[0]
    k = max(0, min(int(k), n))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = non_dominated_sort(p) if ranks is None else np.asarray(ranks).reshape(n)
    chosen: list[int] = []
    fin = _finite_rows(p)
    if ref is None and fin.any():
        ref = reference_point(p)
    for r in range(int(ranks.max()) + 1):
        members = np.flatnonzero(ranks == r)
        if len(chosen) + members.size <= k:
            chosen.extend(members.tolist())
            if len(chosen) == k:
                break
            continue
        need = k - len(chosen)
        if fin[members].all() and ref is not None and pareto_mask(p[members]).all():
            chosen.extend(_greedy_subset(p[members], need, np.asarray(ref, dtype=float), members))
        else:
            chosen.extend(members[:need].tolist())
        break
    return np.sort(np.asarray(chosen, dtype=np.int64))
