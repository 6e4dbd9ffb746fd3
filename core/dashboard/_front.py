"""Pareto-front and hypervolume arithmetic for the dashboard, on losses (smaller is better).

Uses :mod:`hyperloom.pareto` when it is installed and falls back to the small exact routines
here otherwise: a lexicographic sweep for the front (a later point in lexicographic order can
never dominate an earlier one, so each point is checked only against the front so far) and
the exact hypervolume in 2 objectives (one sort) and 3 (slices along the last objective).
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Front", "Front2", "front_mask", "hypervolume", "reference_point"]

Array = NDArray[np.float64]


def _pareto_module() -> Any:
    try:
        from hyperloom import pareto  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return pareto if hasattr(pareto, "pareto_mask") and hasattr(pareto, "hypervolume") else None


def front_mask(losses: Array) -> NDArray[np.bool_]:
    """Which rows of ``losses`` (n x m) no other row dominates. Equal rows are all kept."""
    pts = np.asarray(losses, dtype=float)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    mod = _pareto_module()
    if mod is not None:
        return np.asarray(mod.pareto_mask(pts), dtype=bool)
    order = np.lexsort(pts.T[::-1])
    mask = np.zeros(n, dtype=bool)
    front: list[Array] = []
    stack = np.empty((0, pts.shape[1]))
    for i in order:
        p = pts[i]
        if len(front):
            le = np.all(stack <= p, axis=1)
            lt = np.any(stack < p, axis=1)
            if np.any(le & lt):
                continue
        mask[i] = True
        front.append(p)
        stack = np.asarray(front)
    return mask


def _hv2(pts: Array, ref: Array) -> float:
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    total = 0.0
    best_y = float(ref[1])
    for x, y in pts:
        if y < best_y:
            total += (ref[0] - x) * (best_y - y)
            best_y = float(y)
    return float(total)


def _hv3(pts: Array, ref: Array) -> float:
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.argsort(pts[:, 2], kind="stable")]
    total = 0.0
    for k in range(len(pts)):
        upper = pts[k + 1, 2] if k + 1 < len(pts) else ref[2]
        depth = float(upper - pts[k, 2])
        if depth > 0:
            total += depth * _hv2(pts[: k + 1, :2], ref[:2])
    return float(total)


def hypervolume(losses: Array, ref: Array) -> float | None:
    """The volume dominated by ``losses`` (n x m) and bounded by ``ref``; None for m > 3 when
    :mod:`hyperloom.pareto` is not there to compute it."""
    pts = np.asarray(losses, dtype=float)
    r = np.asarray(ref, dtype=float)
    if pts.size == 0:
        return 0.0
    mod = _pareto_module()
    if mod is not None:
        return float(mod.hypervolume(pts, r))
    m = pts.shape[1]
    if m == 1:
        return float(max(0.0, r[0] - pts[:, 0].min()))
    if m == 2:
        return _hv2(pts, r)
    if m == 3:
        return _hv3(pts, r)
    return None


def reference_point(losses: Array) -> Array:
    """The derived reference point: each objective's worst loss plus 10% of its range (1e-9 or
    10% of its magnitude when every value is the same)."""
    pts = np.asarray(losses, dtype=float)
    mod = _pareto_module()
    if mod is not None and hasattr(mod, "reference_point"):
        return np.asarray(mod.reference_point(pts), dtype=float)
    worst = pts.max(axis=0)
    span = worst - pts.min(axis=0)
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1e-9))
    return np.asarray(worst + 0.1 * span, dtype=float)


class Front:
    """A Pareto front kept up to date as points arrive (in the order trials were numbered)."""

    def __init__(self, m: int) -> None:
        self.points = np.empty((0, m))

    def array(self) -> Array:
        """The front's points (k x m)."""
        return self.points

    def add(self, p: Array) -> bool:
        """Adds ``p``; returns whether the front changed (False when ``p`` is dominated or equal
        to a point already on it)."""
        f = self.points
        if len(f) and np.any(np.all(f <= p, axis=1)):
            return False
        keep = ~(np.all(p <= f, axis=1) & np.any(p < f, axis=1)) if len(f) else np.zeros(0, bool)
        self.points = np.vstack([f[keep], p[None, :]])
        return True


class Front2:
    """A two-objective front kept sorted by the first loss (so the second decreases): adding a
    point costs a binary search and the removal of the points it dominates."""

    def __init__(self) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []

    def array(self) -> Array:
        """The front's points (k x 2)."""
        return np.column_stack([self.xs, self.ys]) if self.xs else np.empty((0, 2))

    def add(self, p: Array) -> bool:
        """Adds ``p``; returns whether the front changed."""
        x, y = float(p[0]), float(p[1])
        r = bisect.bisect_right(self.xs, x)
        # the last point with x' <= x has the smallest y among those: it dominates p (or
        # equals it) when y' <= y
        if r and self.ys[r - 1] <= y:
            return False
        i = bisect.bisect_left(self.xs, x)
        j = i
        while j < len(self.xs) and self.ys[j] >= y:
            j += 1
        self.xs[i:j] = [x]
        self.ys[i:j] = [y]
        return True
