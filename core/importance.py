"""Hyperparameter importance: a functional ANOVA of a random forest fitted to the trials.

The method is fANOVA (Hutter, Hoos and Leyton-Brown, "An Efficient Approach for Assessing
Hyperparameter Importance", ICML 2014), written here with numpy only:

1. Every trial with a final value becomes a row. Each parameter is encoded on ``[0, 1]``:
   numbers linearly between their bounds (log types in log space, integers with half a step of
   room on each side, so every integer gets the same width), choices as their option index.
   A conditional parameter (under a nested choice) that was not active in a trial is encoded
   as "inactive" (below its range, or one more category for a choice).
2. A forest of regression trees (bootstrap samples, every parameter tried at each split,
   numeric splits at midpoints, categorical splits by ordering the categories by their mean,
   as CART does) predicts the value from the parameters. A conditional parameter is split on
   only in nodes where it is active in every row, so the "active or not" information stays
   with its parent choice.
3. A tree is constant on boxes, so its mean over the whole space and the mean over all the
   other parameters with one parameter held fixed (its *marginal*) are exact sums over leaves.
   The importance of a parameter is the variance of its marginal divided by the tree's total
   variance, averaged over the trees. The measure is uniform on each parameter's range (on
   log scale for log types; each option of a choice weighs the same). A conditional parameter
   is averaged over its own range wherever it is inactive, so it is credited only with what it
   changes where it is active.

Importances are fractions of the variance explained by one parameter alone; they need not sum
to one (the rest is interactions). ``oob_r2`` says how well the forest predicts trials it did
not see: when it is near zero, the values are noise to it and so are the importances.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Forest",
    "ImportanceResult",
    "ParamImportance",
    "encode",
    "experiment_importance",
    "fit",
    "fit_forest",
    "importance",
    "result_of",
    "trial_rows",
]

#: the encoded value of a numeric parameter that was inactive in a trial
_INACTIVE = -1.0
#: a categorical dimension's kind; numeric ones are "float", "log" or "int"
_CAT = "categorical"


@dataclass(frozen=True)
class ParamImportance:
    """One parameter's share of the variance.

    Attributes:
        name: The parameter's name (nested ones joined with ``/``).
        importance: The variance of its marginal over the forest's total variance (0 to 1),
            the mean over the trees.
        std: The standard deviation of that share over the trees.
        kind: ``float``, ``log``, ``int`` or ``categorical``.
        conditional: Whether it is active only under some option of a nested choice.
        n_active: In how many of the rows it was active.
    """

    name: str
    importance: float
    std: float
    kind: str
    conditional: bool
    n_active: int


@dataclass(frozen=True)
class ImportanceResult:
    """What :func:`importance` found, most important parameter first."""

    params: tuple[ParamImportance, ...]
    n_trials: int
    oob_r2: float | None
    method: str = "fanova"
    n_trees: int = 0

    def ranking(self) -> list[str]:
        """The parameters' names, most important first."""
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> float:
        for p in self.params:
            if p.name == name:
                return p.importance
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the dashboard's endpoint and ``hyperloom importance --json``)."""
        return {
            "method": self.method,
            "n_trials": self.n_trials,
            "n_trees": self.n_trees,
            "oob_r2": self.oob_r2,
            "params": [
                {
                    "name": p.name,
                    "importance": p.importance,
                    "std": p.std,
                    "kind": p.kind,
                    "conditional": p.conditional,
                    "n_active": p.n_active,
                }
                for p in self.params
            ],
        }


# -------------------------------------------------------------------------------------------------
# encoding


@dataclass
class _Dim:
    """How one parameter is encoded in ``[0, 1]`` (numeric) or as an option index."""

    name: str
    kind: str
    conditional: bool = False
    lo: float = 0.0  # numeric: the raw (log for log types) value at 0 ...
    hi: float = 1.0  # ... and at 1
    options: list[str] = field(default_factory=list)  # categorical: option keys, in order

    @property
    def n_cats(self) -> int:
        return len(self.options) + (1 if self.conditional else 0)

    def encode(self, v: Any) -> float:
        """The encoded value of ``v`` (``None``: inactive); NaN when it cannot be encoded."""
        if self.kind == _CAT:
            if v is None:
                return float(len(self.options)) if self.conditional else math.nan
            key = _key(v)
            try:
                return float(self.options.index(key))
            except ValueError:
                return math.nan
        if v is None:
            return _INACTIVE if self.conditional else math.nan
        if isinstance(v, bool) or not isinstance(v, int | float):
            return math.nan
        x = float(v)
        if self.kind == "log":
            if x <= 0:
                return math.nan
            x = math.log(x)
        if not math.isfinite(x):
            return math.nan
        span = self.hi - self.lo
        return min(1.0, max(0.0, (x - self.lo) / span)) if span > 0 else 0.5

    def decode(self, u: float) -> float:
        """The raw value at encoded ``u`` (numeric dimensions)."""
        x = self.lo + u * (self.hi - self.lo)
        return math.exp(x) if self.kind == "log" else x


def _key(v: Any) -> str:
    if isinstance(v, Mapping) and "_name" in v:
        v = v["_name"]
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def _dims_from_space(space: Any) -> list[_Dim]:
    """Dimensions for the parameters of a :class:`hyperloom.space.SearchSpace`."""
    from hyperloom.space import Choice, Normal, RandInt

    dims = []
    for p in space.parameters:
        cond = p.condition is not None
        name = _readable(space, p.path)
        if isinstance(p, Choice):
            dims.append(_Dim(name, _CAT, cond, options=[_key(o) for o in p.options]))
        elif isinstance(p, RandInt):
            dims.append(_Dim(name, "int", cond, p.low - 0.5, p.high + 0.5))
        elif isinstance(p, Normal):  # unbounded: the range is taken from the data
            dims.append(_Dim(name, "log" if p.is_log else "float", cond, math.nan, math.nan))
        else:
            kind = "log" if p.is_log else ("int" if p.is_int else "float")
            dims.append(_Dim(name, kind, cond, p.low, p.high))
    return dims


def _readable(space: Any, path: tuple[Any, ...]) -> str:
    """A nested parameter's name with option names for option indices
    (``optimizer/sgd/momentum`` rather than ``optimizer/0/momentum``)."""
    parts: list[str] = []
    for k, part in enumerate(path):
        if isinstance(part, int) and k:
            try:
                parts.append(_key(space[path[:k]].options[part]))
                continue
            except (KeyError, IndexError, AttributeError):
                pass
        parts.append(str(part))
    return "/".join(parts)


def _flat_from_space(space: Any, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{name: value}`` with every parameter of ``space`` (None where inactive), or None when
    ``params`` is not a point of the space."""
    try:
        flat = space.flatten(params)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return {_readable(space, p.path): flat.get(p.path) for p in space.parameters}


def _flat_plain(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v and k != "_name":
            if "_name" in v:
                out[name] = v["_name"]
            out.update(_flat_plain({kk: vv for kk, vv in v.items() if kk != "_name"}, name))
        else:
            out[name] = v
    return out


def _infer_dims(rows: list[dict[str, Any]]) -> list[_Dim]:
    """Dimensions guessed from the values seen (no search space known)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    dims = []
    for name in names:
        vals = [r.get(name) for r in rows]
        seen = [v for v in vals if v is not None]
        cond = len(seen) < len(vals)
        nums = [v for v in seen if isinstance(v, int | float) and not isinstance(v, bool)]
        if seen and len(nums) == len(seen) and len({float(v) for v in nums}) > 2:
            lo, hi = float(min(nums)), float(max(nums))
            if lo > 0 and hi / lo >= 1000:
                dims.append(_Dim(name, "log", cond, math.log(lo), math.log(hi)))
            elif all(isinstance(v, int) for v in nums):
                dims.append(_Dim(name, "int", cond, lo - 0.5, hi + 0.5))
            else:
                dims.append(_Dim(name, "float", cond, lo, hi))
        else:
            opts = sorted({_key(v) for v in seen})
            dims.append(_Dim(name, _CAT, cond, options=opts))
    return dims


def encode(
    rows: Sequence[Mapping[str, Any]], space: Any = None
) -> tuple[list[_Dim], np.ndarray, np.ndarray]:
    """Encodes trial parameters: ``(dims, X, keep)``, where ``keep`` marks the rows that could
    be encoded (a row outside the space is dropped). ``space`` is a SearchSpace, an NNI space
    dict, or None (inferred from the values)."""
    from hyperloom.space import SearchSpace

    if isinstance(space, Mapping):
        space = SearchSpace.from_nni(space) if space else None
    if space is not None and len(space.parameters):
        dims = _dims_from_space(space)
        flats = [_flat_from_space(space, r) for r in rows]
    else:
        flats = [_flat_plain(r) for r in rows]
        dims = _infer_dims([f for f in flats if f is not None])
    for d in dims:  # unbounded numeric ranges come from the data
        if d.kind != _CAT and not (math.isfinite(d.lo) and math.isfinite(d.hi)):
            xs = [
                float(f[d.name])
                for f in flats
                if f is not None and isinstance(f.get(d.name), int | float)
            ]
            xs = [math.log(x) for x in xs if x > 0] if d.kind == "log" else xs
            d.lo, d.hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    X = np.full((len(rows), len(dims)), np.nan)
    for i, f in enumerate(flats):
        if f is None:
            continue
        for j, d in enumerate(dims):
            X[i, j] = d.encode(f.get(d.name))
    keep = ~np.isnan(X).any(axis=1) if len(dims) else np.zeros(len(rows), bool)
    return dims, X, keep


# -------------------------------------------------------------------------------------------------
# the forest


@dataclass
class _Tree:
    """A fitted tree, as flat arrays. Node ``i`` is a leaf when ``feature[i] < 0``; else rows
    with ``x[feature] < threshold`` (numeric) or ``cats[i][x[feature]]`` (categorical) go
    ``left[i]``, the others ``right[i]``. Leaves are described as boxes: ``leaf_lo/leaf_hi``
    (numeric bounds per dimension) and ``leaf_cats`` (allowed categories per dimension)."""

    feature: list[int]
    threshold: list[float]
    cats: list[np.ndarray | None]
    left: list[int]
    right: list[int]
    value: list[float]
    leaf_value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    leaf_lo: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    leaf_hi: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    leaf_cats: list[list[np.ndarray | None]] = field(default_factory=list)
    cuts: list[np.ndarray] = field(default_factory=list)  # thresholds used, per dimension

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X))
        stack = [(0, np.arange(len(X)))]
        while stack:
            node, idx = stack.pop()
            f = self.feature[node]
            if f < 0 or not len(idx):
                out[idx] = self.value[node]
                continue
            cats = self.cats[node]
            x = X[idx, f]
            go_left = cats[x.astype(int)] if cats is not None else x < self.threshold[node]
            stack.append((self.left[node], idx[go_left]))
            stack.append((self.right[node], idx[~go_left]))
        return out


def _best_numeric(xs: np.ndarray, y: np.ndarray, min_leaf: int) -> tuple[float, int, float]:
    """(gain, feature column, threshold) of the best numeric split over the columns of xs."""
    n = len(y)
    order = np.argsort(xs, axis=0, kind="stable")
    xsort = np.take_along_axis(xs, order, axis=0)
    ysort = y[order]
    csum = np.cumsum(ysort, axis=0)[:-1]  # left sums for splits after row i
    total = float(y.sum())
    nl = np.arange(1, n)[:, None].astype(float)
    gain = csum**2 / nl + (total - csum) ** 2 / (n - nl)
    valid = xsort[1:] > xsort[:-1]
    valid[: min_leaf - 1] = False
    if min_leaf > 1:
        valid[n - min_leaf :] = False
    gain = np.where(valid, gain, -np.inf)
    flat = int(np.argmax(gain))
    i, j = divmod(flat, xs.shape[1])
    g = float(gain[i, j])
    return g, j, float((xsort[i, j] + xsort[i + 1, j]) / 2) if math.isfinite(g) else 0.0


class _CatSplitter:
    """Finds the best split over every categorical column at once: per column, the categories
    ordered by their mean value and cut at the best place (exact for squared error, as CART)."""

    def __init__(self, cols: list[int], n_cats: list[int]) -> None:
        self.cols = cols
        sizes = np.array([n_cats[j] for j in cols], int)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self.total = int(sizes.sum())
        self.owner = np.repeat(np.arange(len(cols)), sizes)  # the column of each slot

    def best(
        self, Xc: np.ndarray, y: np.ndarray, min_leaf: int, allowed: np.ndarray
    ) -> tuple[float, int, np.ndarray | None]:
        """(gain, column index into ``cols``, categories going left) for rows ``Xc``, among
        the ``allowed`` columns."""
        n = len(y)
        codes = (Xc.astype(int) + self.offsets[None, :]).ravel()
        counts = np.bincount(codes, minlength=self.total).astype(float)
        sums = np.bincount(codes, weights=np.repeat(y, len(self.cols)), minlength=self.total)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / counts, np.inf)  # absent categories go last
        order = np.lexsort((mean, self.owner))
        c_sorted, s_sorted = counts[order], sums[order]
        cc, cs = np.cumsum(c_sorted), np.cumsum(s_sorted)
        start = self.offsets[self.owner[order]]  # where each slot's column begins (sorted too)
        base_c = np.where(start > 0, cc[start - 1], 0.0)
        base_s = np.where(start > 0, cs[start - 1], 0.0)
        cl, sl = cc - base_c, cs - base_s
        total = float(y.sum())
        ok = (c_sorted > 0) & (cl >= min_leaf) & (n - cl >= min_leaf) & allowed[self.owner[order]]
        if not ok.any():
            return -math.inf, -1, None
        with np.errstate(invalid="ignore", divide="ignore"):
            gain = np.where(ok, sl**2 / cl + (total - sl) ** 2 / (n - cl), -np.inf)
        k = int(np.argmax(gain))
        col = int(self.owner[order[k]])
        lo = int(self.offsets[col])
        size = (int(self.offsets[col + 1]) if col + 1 < len(self.cols) else self.total) - lo
        left = np.zeros(size, bool)
        seg = order[(start == lo) & (np.arange(self.total) <= k)]
        left[seg - lo] = True
        absent = counts[lo : lo + size] == 0
        left[absent] = bool(cl[k] >= n - cl[k])  # unseen categories go with the larger side
        return float(gain[k]), col, left


def _grow(X: np.ndarray, y: np.ndarray, dims: list[_Dim], min_leaf: int, max_depth: int) -> _Tree:
    t = _Tree([], [], [], [], [], [])
    num = [j for j, d in enumerate(dims) if d.kind != _CAT]
    cat = [j for j, d in enumerate(dims) if d.kind == _CAT]
    splitter = _CatSplitter(cat, [d.n_cats for d in dims]) if cat else None
    cond_num = {j: dims[j].conditional for j in num}
    # the inactive category of conditional choices (-1: never, for the others)
    inactive_code = np.array([len(dims[j].options) if dims[j].conditional else -1 for j in cat])

    def new(value: float) -> int:
        t.feature.append(-1)
        t.threshold.append(0.0)
        t.left.append(-1)
        t.right.append(-1)
        t.cats.append(None)
        t.value.append(value)
        return len(t.value) - 1

    stack = [(new(float(y.mean())), np.arange(len(y)), 0)]
    while stack:
        node, idx, depth = stack.pop()
        yy = y[idx]
        n = len(idx)
        if n < 2 * min_leaf or depth >= max_depth or float(np.ptp(yy)) == 0.0:
            continue
        base = float(yy.sum()) ** 2 / n
        best: tuple[float, int, float, np.ndarray | None] = (
            base + 1e-12 * abs(base),
            -1,
            0.0,
            None,
        )
        # a conditional parameter is split on only where it is active in every row: the parent
        # choice says "active or not", and the child gets only what it adds when it is active
        cols = [j for j in num if not (cond_num[j] and bool((X[idx, j] < 0).any()))]
        if cols:
            g, j, thr = _best_numeric(X[np.ix_(idx, np.asarray(cols, int))], yy, min_leaf)
            if g > best[0]:
                best = (g, cols[j], thr, None)
        if splitter is not None:
            Xc = X[np.ix_(idx, np.asarray(cat, int))]
            allowed = ~((Xc == inactive_code[None, :]).any(axis=0))
            g, c, left = splitter.best(Xc, yy, min_leaf, allowed)
            if g > best[0]:
                best = (g, cat[c], 0.0, left)
        _, f, thr, cats = best
        if f < 0:
            continue
        x = X[idx, f]
        go = cats[x.astype(int)] if cats is not None else x < thr
        li, ri = idx[go], idx[~go]
        t.feature[node], t.threshold[node], t.cats[node] = f, thr, cats
        t.left[node] = new(float(y[li].mean()))
        t.right[node] = new(float(y[ri].mean()))
        stack.append((t.left[node], li, depth + 1))
        stack.append((t.right[node], ri, depth + 1))
    _boxes(t, dims)
    return t


def _boxes(t: _Tree, dims: list[_Dim]) -> None:
    """Fills the leaves' boxes and the cut points per dimension."""
    d = len(dims)
    values, los, his, catss = [], [], [], []
    cuts: list[list[float]] = [[] for _ in range(d)]
    lo0 = np.full(d, -np.inf)
    hi0 = np.full(d, np.inf)
    cats0: list[np.ndarray | None] = [
        np.ones(dm.n_cats, bool) if dm.kind == _CAT else None for dm in dims
    ]
    stack = [(0, lo0, hi0, cats0)]
    while stack:
        node, lo, hi, cats = stack.pop()
        f = t.feature[node]
        if f < 0:
            values.append(t.value[node])
            los.append(lo)
            his.append(hi)
            catss.append(cats)
            continue
        c = t.cats[node]
        if c is not None:
            cur = cats[f]
            assert cur is not None
            lc, rc = list(cats), list(cats)
            lc[f], rc[f] = cur & c, cur & ~c
            stack.append((t.left[node], lo, hi, lc))
            stack.append((t.right[node], lo, hi, rc))
        else:
            thr = t.threshold[node]
            cuts[f].append(thr)
            lhi, rlo = hi.copy(), lo.copy()
            lhi[f], rlo[f] = min(hi[f], thr), max(lo[f], thr)
            stack.append((t.left[node], lo, lhi, cats))
            stack.append((t.right[node], rlo, hi, cats))
    t.leaf_value = np.array(values)
    t.leaf_lo = np.array(los).reshape(len(values), d)
    t.leaf_hi = np.array(his).reshape(len(values), d)
    t.leaf_cats = catss
    t.cuts = [np.unique(np.asarray(c, float)) for c in cuts]


@dataclass
class Forest:
    """A fitted forest over encoded parameters, with the fANOVA marginals.

    Attributes:
        dims: The encoded dimensions (one per parameter).
        trees: The fitted trees.
        inactive_share: Per dimension, the share of rows in which it was inactive.
        oob_r2: Out-of-bag R² of the forest's predictions (None with too few rows).
    """

    dims: list[_Dim]
    trees: list[_Tree]
    inactive_share: np.ndarray
    n_active: np.ndarray
    oob_r2: float | None
    n_rows: int = 0

    def _atoms(self, t: _Tree, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Representative points and weights of the cells tree ``t`` cuts dimension ``j`` into.

        The inactive cell of a conditional parameter weighs nothing: trees never split a node
        on it unless it is active in every row there, so where it is inactive it is averaged
        over its own range, and its parent choice keeps the "active or not" share."""
        dm, p = self.dims[j], 0.0
        if dm.kind == _CAT:
            k = len(dm.options)
            reps = np.arange(dm.n_cats, dtype=float)
            w = np.full(dm.n_cats, (1.0 - p) / k)
            if dm.conditional:
                w[-1] = p
            return reps, w
        c = t.cuts[j]
        bounds = np.concatenate([[0.0], c[(c > 0) & (c < 1)], [1.0]])
        reps, w = (bounds[:-1] + bounds[1:]) / 2, np.diff(bounds) * (1.0 - p)
        if dm.conditional:
            reps, w = np.append(reps, _INACTIVE), np.append(w, p)
        return reps, w

    def _member(self, t: _Tree, j: int, pts: np.ndarray) -> np.ndarray:
        """(leaves, points): whether each leaf's box holds each point along dimension ``j``."""
        if self.dims[j].kind == _CAT:
            codes = pts.astype(int)
            return np.array([c[codes] for c in (lc[j] for lc in t.leaf_cats)])  # type: ignore[index]
        return (t.leaf_lo[:, j, None] <= pts[None, :]) & (pts[None, :] < t.leaf_hi[:, j, None])

    def _tree_parts(self, t: _Tree) -> tuple[np.ndarray, float, float, list[Any]]:
        """Per-leaf volume per dimension, the tree's mean and variance, and each dimension's
        cells (points, weights, membership)."""
        parts = []
        vol = np.empty((len(t.leaf_value), len(self.dims)))
        for j in range(len(self.dims)):
            reps, w = self._atoms(t, j)
            m = self._member(t, j, reps)
            vol[:, j] = m @ w
            parts.append((reps, w, m))
        weight = vol.prod(axis=1)
        mean = float(weight @ t.leaf_value)
        var = float(weight @ (t.leaf_value - mean) ** 2)
        return vol, mean, var, parts

    def main_effects(self) -> tuple[np.ndarray, np.ndarray]:
        """Each dimension's share of the variance: (mean over trees, std over trees)."""
        shares = []
        for t in self.trees:
            vol, mean, var, parts = self._tree_parts(t)
            if var <= 0:
                continue
            row = np.empty(len(self.dims))
            for j, (_reps, w, m) in enumerate(parts):
                others = np.prod(np.delete(vol, j, axis=1), axis=1)
                marg = m.T @ (t.leaf_value * others)
                row[j] = float(w @ (marg - mean) ** 2) / var
            shares.append(row)
        if not shares:
            z = np.zeros(len(self.dims))
            return z, z
        arr = np.array(shares)
        return arr.mean(axis=0), arr.std(axis=0)

    def grid(self, j: int, n: int = 40) -> np.ndarray:
        """Encoded points along dimension ``j`` to draw its marginal at (every option of a
        choice; ``n`` points across a numeric range)."""
        dm = self.dims[j]
        if dm.kind == _CAT:
            return np.arange(len(dm.options), dtype=float)
        if dm.kind == "int" and dm.hi - dm.lo <= n:
            k = round(dm.hi - dm.lo)
            return (np.arange(k) + 0.5) / k
        return (np.arange(n) + 0.5) / n

    def marginal(self, j: int, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The forest's mean value with dimension ``j`` at ``pts`` and every other parameter
        averaged out: (mean over trees, std over trees)."""
        out = []
        for t in self.trees:
            vol, _mean, _var, _parts = self._tree_parts(t)
            others = np.prod(np.delete(vol, j, axis=1), axis=1)
            out.append(self._member(t, j, pts).T @ (t.leaf_value * others))
        arr = np.array(out)
        return arr.mean(axis=0), arr.std(axis=0)

    def marginal2(self, i: int, j: int, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        """The mean value over the grid ``pi x pj`` of dimensions ``i`` and ``j`` with every
        other parameter averaged out, (len(pi), len(pj)), averaged over the trees."""
        acc = np.zeros((len(pi), len(pj)))
        for t in self.trees:
            vol, _mean, _var, _parts = self._tree_parts(t)
            others = np.prod(np.delete(vol, [i, j], axis=1), axis=1)
            mi, mj = self._member(t, i, pi), self._member(t, j, pj)
            acc += (mi * (t.leaf_value * others)[:, None]).T @ mj
        return acc / max(1, len(self.trees))


def fit_forest(
    dims: list[_Dim],
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_trees: int = 32,
    min_leaf: int = 3,
    max_depth: int = 16,
    seed: int = 0,
) -> Forest:
    """Fits the forest on encoded rows ``X`` (see :func:`encode`) and values ``y``."""
    rng = np.random.default_rng(seed)
    n = len(y)
    trees, oob_sum, oob_n = [], np.zeros(n), np.zeros(n)
    for _ in range(n_trees):
        boot = rng.integers(0, n, n)
        t = _grow(X[boot], y[boot], dims, min_leaf, max_depth)
        trees.append(t)
        out = np.ones(n, bool)
        out[boot] = False
        if out.any():
            oob_sum[out] += t.predict(X[out])
            oob_n[out] += 1
    seen = oob_n > 0
    r2 = None
    if seen.sum() >= 5 and float(np.var(y[seen])) > 0:
        pred = oob_sum[seen] / oob_n[seen]
        r2 = 1.0 - float(np.mean((y[seen] - pred) ** 2)) / float(np.var(y[seen]))
    inactive = np.zeros(len(dims))
    for j, d in enumerate(dims):
        if d.conditional and n:
            code = float(len(d.options)) if d.kind == _CAT else _INACTIVE
            inactive[j] = float(np.mean(X[:, j] == code))
    return Forest(dims, trees, inactive, n - np.round(inactive * n).astype(int), r2, n)


def importance(
    params: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    space: Any = None,
    *,
    n_trees: int = 32,
    min_leaf: int = 3,
    max_depth: int = 16,
    seed: int = 0,
    forest: Forest | None = None,
) -> ImportanceResult:
    """The fANOVA importance of each parameter for ``values`` (see the module's docstring).

    Args:
        params: Each trial's parameters, as the trial received them.
        values: Each trial's final value (non-finite ones are dropped).
        space: The search space (a SearchSpace or an NNI space dict); None to infer the
            parameters and their types from the values.
        n_trees: Trees in the forest.
        min_leaf: Fewest rows in a leaf.
        max_depth: Deepest a tree grows.
        seed: Seeds the bootstrap samples.
        forest: An already fitted forest (from :func:`fit_forest`) to use instead.

    Raises:
        ValueError: ``params`` and ``values`` differ in length.
    """
    if forest is None:
        forest = fit(
            params,
            values,
            space,
            n_trees=n_trees,
            min_leaf=min_leaf,
            max_depth=max_depth,
            seed=seed,
        )
    return result_of(forest)


def fit(
    params: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    space: Any = None,
    *,
    n_trees: int = 32,
    min_leaf: int = 3,
    max_depth: int = 16,
    seed: int = 0,
) -> Forest:
    """Encodes the trials and fits the forest (see :func:`importance` for the arguments).

    Raises:
        ValueError: ``params`` and ``values`` differ in length.
    """
    if len(params) != len(values):
        raise ValueError(f"{len(params)} parameter sets but {len(values)} values")
    y_all = np.array([float(v) if v is not None else math.nan for v in values], float)
    dims, X, keep = encode(params, space)
    keep &= np.isfinite(y_all)
    X, y = X[keep], y_all[keep]
    if len(y) < 2 or not dims:
        return Forest(dims, [], np.zeros(len(dims)), np.zeros(len(dims), int), None, len(y))
    return fit_forest(
        dims, X, y, n_trees=n_trees, min_leaf=min_leaf, max_depth=max_depth, seed=seed
    )


def result_of(forest: Forest) -> ImportanceResult:
    """The ImportanceResult of a fitted forest."""
    mean, std = forest.main_effects()
    rows = [
        ParamImportance(
            d.name,
            float(mean[j]),
            float(std[j]),
            d.kind,
            d.conditional,
            int(forest.n_active[j]) if len(forest.n_active) else 0,
        )
        for j, d in enumerate(forest.dims)
    ]
    rows.sort(key=lambda p: (-p.importance, p.name))
    return ImportanceResult(tuple(rows), forest.n_rows, forest.oob_r2, "fanova", len(forest.trees))


def trial_rows(view: Any, objective: int | str = 0) -> tuple[list[dict[str, Any]], list[float]]:
    """Parameters and values of the finished trials of an experiment (an ExperimentView or
    anything with ``trials(status)`` and ``objectives``); ``objective`` picks one of several
    objectives by index or name."""
    from hyperloom.types import BEST_STATUSES

    objs = [o.name for o in getattr(view, "objectives", ())]
    k = objs.index(objective) if isinstance(objective, str) else int(objective)
    params, values = [], []
    for t in view.trials(status=list(BEST_STATUSES)):
        vals = list(t.values) if getattr(t, "values", None) else None
        v = vals[k] if vals is not None and k < len(vals) else (t.value if k == 0 else None)
        if v is None or not math.isfinite(float(v)):
            continue
        params.append(t.params)
        values.append(float(v))
    return params, values


def experiment_importance(
    view: Any, *, objective: int | str = 0, max_trials: int = 2000, **kw: Any
) -> ImportanceResult:
    """The importance of an experiment's parameters (``open_experiment(id).importance()``).

    Uses the finished trials' final values (the ``objective``-th objective with several), the
    newest ``max_trials`` of them, and the experiment's search space.
    """
    params, values = trial_rows(view, objective)
    params, values = params[-max_trials:], values[-max_trials:]
    return importance(params, values, getattr(view, "space", None), **kw)
