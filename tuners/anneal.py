"""Simulated annealing around the best points, in the manner of hyperopt's ``anneal``."""

from __future__ import annotations

import math

import numpy as np
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import rank_key
from hyperloom.tuners._common import BaseTuner
from hyperloom.types import TrialResult
from scipy.special import ndtr, ndtri

__all__ = ["AnnealTuner"]


def _positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PluginError(f"anneal: {name} must be a positive number, got {value!r}")
    return float(value)


class AnnealTuner(BaseTuner):
    """Samples around one of the best points so far, in a neighbourhood that shrinks over time.

    Each suggestion picks a base point among the ended trials ranked by
    :func:`~hyperloom.tuners._base.rank_key` (finished trials by value, then trials stopped early
    by the deepest step they reached and their value there; failed ones never): rank ``r`` is
    drawn from an exponential distribution with mean ``avg_best_idx``, so the best points are
    preferred without being the only ones. Every active numeric parameter is then drawn from a
    normal around the base value, truncated to the bounds, with a standard deviation of
    ``width / (1 + n * shrink_coef)`` of the parameter's range (``n``: finished trials).
    A categorical parameter keeps the base's option with probability ``1 - shrink`` and is
    redrawn uniformly otherwise. The first ``n_startup`` suggestions are random.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed.
        avg_best_idx: Mean rank of the base point (0 is the best).
        shrink_coef: How fast the neighbourhood shrinks with the number of finished trials.
        n_startup: Random suggestions before annealing starts.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        avg_best_idx: float = 2.0,
        shrink_coef: float = 0.1,
        n_startup: int = 5,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        self.avg_best_idx = _positive("avg_best_idx", avg_best_idx)
        self.shrink_coef = _positive("shrink_coef", shrink_coef)
        if (
            isinstance(n_startup, bool)
            or not isinstance(n_startup, int)
            or not 1 <= n_startup <= 1_000_000_000
        ):
            raise PluginError(
                f"anneal: n_startup must be an integer in [1, 1,000,000,000], got {n_startup!r}"
            )
        self.n_startup = n_startup
        self._keys: list[tuple[int, float, float]] = []  # rank_key of each history row

    def observe(self, result: TrialResult) -> None:
        n0 = self.history.n
        super().observe(result)
        if self.history.n > n0:
            self._keys.append(rank_key(result, float(self.history.y[-1])))

    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        enc = self.encoder
        h = self.history
        usable = [i for i, k in enumerate(self._keys) if k[0] < 2]
        if h.n < self.n_startup or not usable:
            return np.empty((0, enc.n_dims))
        order = np.array(sorted(usable, key=self._keys.__getitem__), dtype=np.int64)
        shrink = 1.0 / (1.0 + h.n * self.shrink_coef)
        m = 8
        ranks = np.minimum(
            np.floor(rng.exponential(self.avg_best_idx, size=m)).astype(np.int64), order.size - 1
        )
        base = h.x[order[ranks]]
        out = base.copy()
        for i in range(enc.n_dims):
            col = base[:, i]
            act = np.isfinite(col)
            if enc.is_cat[i]:
                redraw = act & (rng.random(m) < shrink)
                out[redraw, i] = rng.integers(0, int(enc.n_choices[i]), size=int(redraw.sum()))
                continue
            sig = shrink * enc.prior_sigma[i]
            mu = np.where(act, col, enc.prior_mu[i])
            if enc.bounded[i]:
                a = ndtr((enc.low[i] - mu) / sig)
                b = ndtr((enc.high[i] - mu) / sig)
                u = a + rng.random(m) * (b - a)
                x = np.clip(mu + sig * ndtri(np.clip(u, 1e-12, 1 - 1e-12)), enc.low[i], enc.high[i])
            else:
                x = mu + sig * rng.standard_normal(m)
            out[:, i] = np.where(act, x, np.nan)
        return enc.complete(out, rng)
