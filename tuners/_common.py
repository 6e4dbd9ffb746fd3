"""Building blocks shared by the built-in tuners (private).

* :class:`Encoder` turns parameter dicts into rows of internal numbers (NaN for inactive
  parameters) and back, using only the numeric interface of :class:`hyperloom.space.Parameter`,
  so that plugin parameter types work too.
* :class:`History` keeps observed rows and losses in growing numpy arrays, and the rows of pending
  trials (suggested, not yet observed).
* :class:`Seen` remembers every point suggested or observed, to avoid duplicates and to detect
  that a finite space is exhausted.
* :func:`step_rng` derives the random generator of one ``suggest()`` call from the seed and the
  number of observed and pending trials, so that a tuner rebuilt by replaying ``observe()``
  continues exactly as the original (resume), whatever happened between.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from hyperloom.space import Parameter, PathT, SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import Objective, TrialResult

__all__ = ["BaseTuner", "Encoder", "History", "Seen", "param_key", "seed_entropy", "step_rng"]

log = logging.getLogger(__name__)


def param_key(params: dict[str, Any]) -> str:
    """A canonical string for a parameter dict (used to detect duplicates)."""
    return json.dumps(params, sort_keys=True, default=str)


def step_rng(
    seed_entropy: int, n_observed: int, n_pending: int, salt: int = 0
) -> np.random.Generator:
    """The generator for one suggestion, a pure function of the tuner's state."""
    return np.random.default_rng([seed_entropy, n_observed, n_pending, salt])


def seed_entropy(seed: int | None) -> int:
    """A non-negative integer for :func:`step_rng` (fresh entropy when ``seed`` is None)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy) % (1 << 63)  # type: ignore[arg-type]
    return int(seed) % (1 << 63)


class Encoder:
    """Maps parameter dicts to internal rows and back.

    Attributes:
        params: The space's parameters, parents before children.
        n_dims: One dimension per parameter.
        is_cat: Whether each dimension is categorical.
        n_choices: Options per categorical dimension (0 for numeric).
        low, high: Bounds in internal space (``±inf`` for unbounded types).
        prior_mu, prior_sigma: The prior of each numeric dimension in internal space: the middle
            and the width of bounded ranges; ``mu``/``sigma`` of unbounded (normal) types.
        parent: The index of the controlling choice per dimension (-1 when unconditional), and
            ``parent_opt`` the option under which the dimension is active.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.params: tuple[Parameter, ...] = tuple(space.parameters)
        self.paths: list[PathT] = [p.path for p in self.params]
        index = {p.path: i for i, p in enumerate(self.params)}
        n = len(self.params)
        self.n_dims = n
        self.is_cat = np.array([p.is_categorical for p in self.params], dtype=bool)
        self.n_choices = np.array(
            [p.n_choices if p.is_categorical else 0 for p in self.params], dtype=np.int64
        )
        self.low = np.array([float(p.low) for p in self.params], dtype=float)
        self.high = np.array([float(p.high) for p in self.params], dtype=float)
        self.bounded = np.isfinite(self.low) & np.isfinite(self.high)
        mu = np.zeros(n)
        sigma = np.ones(n)
        for i, p in enumerate(self.params):
            if self.bounded[i]:
                mu[i] = 0.5 * (self.low[i] + self.high[i])
                sigma[i] = max(self.high[i] - self.low[i], 1e-12)
            else:
                mu[i] = float(getattr(p, "mu", 0.0))
                sigma[i] = float(getattr(p, "sigma", 1.0))
        self.prior_mu = mu
        self.prior_sigma = sigma
        self.parent = np.full(n, -1, dtype=np.int64)
        self.parent_opt = np.full(n, -1, dtype=np.int64)
        for i, p in enumerate(self.params):
            if p.condition is not None:
                ppath, opt = p.condition
                self.parent[i] = index[ppath]
                self.parent_opt[i] = opt
        self.conditional = bool((self.parent >= 0).any())

    # dict <-> row ------------------------------------------------------------------------------
    def encode(self, params: dict[str, Any]) -> np.ndarray:
        """The internal row of ``params`` (NaN where a parameter is inactive)."""
        flat = self.space.flatten(params)
        row = np.full(self.n_dims, np.nan)
        for i, p in enumerate(self.params):
            if p.path in flat:
                row[i] = p.to_internal(flat[p.path])
        return row

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """The params dict of an internal row; every value is rounded and clipped into the space."""
        flat: dict[PathT, Any] = {}
        for i, p in enumerate(self.params):
            if self.space.is_active(p, flat):
                x = row[i]
                if not math.isfinite(x):
                    x = float(self.prior_mu[i])
                flat[p.path] = p.from_internal(float(x))
        return self.space.assemble(flat)

    def activity(self, rows: np.ndarray) -> np.ndarray:
        """Which entries of ``rows`` (n, d) are active given their parents' values."""
        active = np.ones(rows.shape, dtype=bool)
        for i in range(self.n_dims):
            par = int(self.parent[i])
            if par >= 0:
                pv = rows[:, par]
                ok = active[:, par] & np.isfinite(pv)
                ok &= np.rint(np.where(ok, pv, -1.0)) == self.parent_opt[i]
                active[:, i] = ok
        return active

    def snap(self, rows: np.ndarray) -> np.ndarray:
        """Rounds rows onto valid values (in place semantics, returns a new array): categorical
        indices and numbers go through ``from_internal``/``to_internal``; inactive entries become
        NaN."""
        out = rows.copy()
        cat = self.is_cat
        if cat.any():
            out[:, cat] = np.clip(np.rint(out[:, cat]), 0, self.n_choices[cat] - 1)
        for i, p in enumerate(self.params):
            if cat[i]:
                continue
            col = out[:, i]
            for j in range(col.shape[0]):
                if math.isfinite(col[j]):
                    col[j] = p.to_internal(p.from_internal(float(col[j])))
        active = self.activity(out)
        out[~active] = np.nan
        return out

    def complete(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Makes rows valid: entries that are active but missing (a parent choice changed) are
        drawn from the parameter's own distribution, inactive ones become NaN, and values are
        snapped onto the space."""
        out = rows.copy()
        m = out.shape[0]
        active = np.ones(out.shape, dtype=bool)
        for i, p in enumerate(self.params):
            par = int(self.parent[i])
            if par >= 0:
                pv = out[:, par]
                ok = active[:, par] & np.isfinite(pv)
                ok &= np.rint(np.where(ok, pv, -1.0)) == self.parent_opt[i]
                active[:, i] = ok
            for j in range(m):
                if active[j, i] and not math.isfinite(out[j, i]):
                    out[j, i] = p.to_internal(p.sample(rng))
            if self.is_cat[i]:
                col = out[:, i]
                fin = np.isfinite(col)
                col[fin] = np.clip(np.rint(col[fin]), 0, self.n_choices[i] - 1)
        out[~active] = np.nan
        return self.snap(out)

class History:
    """Observed rows and losses in growing arrays, plus pending rows by trial id."""

    def __init__(self, n_dims: int) -> None:
        self._x = np.empty((64, n_dims))
        self._y = np.empty(64)
        self.n = 0
        self.pending: dict[str, np.ndarray] = {}

    def add(self, row: np.ndarray, loss: float) -> None:
        if self.n == self._y.shape[0]:
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self.n] = row
        self._y[self.n] = loss
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def pending_rows(self, n_dims: int) -> np.ndarray:
        if not self.pending:
            return np.empty((0, n_dims))
        return np.array(list(self.pending.values()), dtype=float).reshape(-1, n_dims)


class Seen:
    """Every point suggested or observed, and whether a finite space has run out."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.size = space.size()
        self.keys: set[str] = set()
        self._points: list[dict[str, Any]] | None = None  # every point, once a fallback needs it

    @property
    def finite(self) -> bool:
        return math.isfinite(self.size)

    @property
    def exhausted(self) -> bool:
        return self.finite and len(self.keys) >= self.size

    def __contains__(self, params: dict[str, Any]) -> bool:
        return param_key(params) in self.keys

    def add(self, params: dict[str, Any]) -> None:
        self.keys.add(param_key(params))

    def fallback(self, rng: np.random.Generator) -> dict[str, Any] | None:
        """An unseen point: random draws first, then (finite spaces) the first unseen grid point.
        None when the space is exhausted."""
        if self.exhausted:
            return None
        for _ in range(64):
            p = self.space.sample(rng)
            if p not in self:
                return p
        if not self.finite:
            return self.space.sample(rng)
        if self.size <= _INDEXED_MAX:
            # a random unseen point: a random index into every point, then the next unseen one
            # (a pure function of what was seen and the draw, so a replay suggests the same;
            # near exhaustion it does not scan the space again for every suggestion)
            if self._points is None:
                self._points = list(_all_points(self.space))
            n = len(self._points)
            start = int(rng.integers(n))
            for i in range(n):
                q = self._points[(start + i) % n]
                if q not in self:
                    return copy.deepcopy(q)  # the caller may change it; the list stays whole
            return None
        for p in _all_points(self.space):
            if p not in self:
                return p
        return None


_INDEXED_MAX = 200_000  # finite spaces up to this many points are listed for random picks


def _all_points(space: SearchSpace) -> Iterator[dict[str, Any]]:
    from hyperloom.tuners.grid import iter_grid

    return iter_grid(space, points_per_dim=1 << 30)


class BaseTuner(Tuner):
    """Bookkeeping shared by the built-in model-based tuners.

    Subclasses implement :meth:`_propose`, which returns candidate rows (best first) for one
    suggestion; this class picks the first one that was neither suggested nor observed, falls back
    to random unseen points, tracks pending trials and feeds :class:`History`. Failed trials are
    kept with an infinite loss.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        self.encoder = Encoder(space)
        self.history = History(self.encoder.n_dims)
        self.seen = Seen(space)
        self._entropy = seed_entropy(seed)

    def _rng(self, salt: int = 0) -> np.random.Generator:
        return step_rng(self._entropy, self.history.n, len(self.history.pending), salt)

    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        """Candidate rows for the next suggestion, best first (may be empty)."""
        raise NotImplementedError

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.seen.exhausted:
            return None
        rng = self._rng()
        params: dict[str, Any] | None = None
        for row in self._propose(rng):
            cand = self.encoder.decode(row)
            if cand not in self.seen:
                params = cand
                break
        if params is None:
            params = self.seen.fallback(rng)
            if params is None:
                return None
        self.seen.add(params)
        self.history.pending[trial_id] = self.encoder.encode(params)
        return params

    def observe(self, result: TrialResult) -> None:
        self.history.pending.pop(result.trial_id, None)
        try:
            row = self.encoder.encode(result.params)
        except (KeyError, TypeError, ValueError) as e:
            log.warning(
                "ignoring trial %s: its params do not fit the search space (%s)", result.trial_id, e
            )
            return
        self.seen.add(result.params)
        loss = self.loss(result.value)
        self.history.add(row, loss)
        self._observed(row, loss)

    def _observed(self, row: np.ndarray, loss: float) -> None:
        """Hook called after each observation (default: nothing)."""
