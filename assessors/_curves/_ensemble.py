"""Bayesian model averaging of the curve families on a parameter grid.

Domhan et al. weight their ensemble by MCMC over all parameters at once; NNI runs 10 short
Metropolis chains with a tiny step, which costs seconds per call and barely leaves the uniform
start. Here every family has at most two nonlinear parameters, so the posterior over them is
evaluated exactly on a fixed grid (deterministic quadrature instead of sampling), and the linear
coefficients (offset and scale) are solved in closed form for every grid point at once with
numpy. For grid point ``i`` of a family with ``p`` linear coefficients fitted to ``n`` points:

* log-likelihood, with the noise variance profiled out: ``-n/2 · ln(RSS_i / n)``;
* log-prior: uniform over the family's grid (``-ln M``), plus the BIC penalty ``-p/2 · ln n``
  for the linear coefficients, so families are compared by (approximate) evidence;
* prediction at the target step: the least-squares curve's value, with variance
  ``s_i² · (1 + leverage)`` (``s_i² = RSS_i / (n - p)``), the usual prediction variance of a
  linear model given the grid point.

The ensemble's prediction is the mixture over all families and grid points: its mean, and a
standard deviation that holds both the noise and the disagreement between plausible curves.
The "curve must improve" prior of Domhan et al. is built in: the scale coefficient is kept
non-negative (a curve that does not improve is fitted as flat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hyperloom.assessors._curves._families import basis_tables

__all__ = ["CurveEnsemble", "Prediction"]

MIN_POINTS = 4
TEMPERATURE = 2.0


@dataclass(frozen=True)
class Prediction:
    """The ensemble's prediction of a curve at a target step.

    Attributes:
        mean: Predictive mean.
        std: Predictive standard deviation.
        weights: Posterior weight of each family (sums to 1).
    """

    mean: float
    std: float
    weights: dict[str, float]


class CurveEnsemble:
    """Fits all curve families to increasing-is-better curves and predicts a later step.

    Holds only basis tables (a pure function of the horizon); nothing about any trial, so one
    instance serves every trial.

    Args:
        horizon: The step whose value is predicted (the trials' full length).
    """

    def __init__(self, horizon: int) -> None:
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2, got {horizon}")
        self.horizon = horizon
        self._length = 0
        self._names: list[str] = []
        self._table = np.zeros((0, 0))
        self._family = np.zeros(0, dtype=int)
        self._offset = np.zeros(0, dtype=bool)
        self._log_size = np.zeros(0)
        self._p = np.zeros(0)

    def _tables(self, length: int) -> None:
        if length > self._length:
            self._length = max(length, self.horizon)
            fams = basis_tables(self.horizon, self._length)
            self._names = [f.name for f in fams]
            self._table = np.concatenate([f.table for f in fams])
            self._family = np.concatenate([np.full(len(f.table), i) for i, f in enumerate(fams)])
            self._offset = np.concatenate([np.full(len(f.table), f.offset) for f in fams])
            sizes = np.array([len(f.table) for f in fams], dtype=float)
            self._log_size = np.log(sizes)[self._family]
            self._p = np.where(self._offset, 2.0, 1.0)

    def predict(
        self,
        steps: np.ndarray,
        values: np.ndarray,
        target: int | None = None,
        ceiling: float | None = None,
    ) -> Prediction | None:
        """Predicts the curve at ``target`` (default: the horizon) from finite points.

        Args:
            steps: 1-based steps of the points (increasing integers).
            values: The values at those steps (finite; larger is better).
            target: The step to predict.
            ceiling: A value the curve cannot exceed (e.g. 1 for an accuracy): curves that pass
                it by the target step get no weight (Domhan et al.'s bounded prior).

        Returns:
            The prediction, or None with fewer than ``MIN_POINTS`` points.
        """
        n = int(values.size)
        if n < MIN_POINTS:
            return None
        target = self.horizon if target is None else int(target)
        self._tables(max(int(steps[-1]), target))
        idx = steps.astype(int) - 1
        y = values.astype(float)
        ybar = float(y.mean())
        yc = y - ybar
        syy = float(yc @ yc)
        scale = max(float(np.max(np.abs(y))), 1e-12)
        floor_var = (1e-3 * scale) ** 2

        h = self._table[:, idx]
        h_t = self._table[:, target - 1]
        off = self._offset
        # Families with an offset are fitted on centred bases; those without on raw ones.
        hbar = np.where(off, h.mean(axis=1), 0.0)
        hc = h - hbar[:, None]
        shh = np.einsum("ij,ij->i", hc, hc)
        shy = np.where(off, hc @ yc, hc @ y)
        ok = shh > 1e-12 * np.maximum(1.0, np.einsum("ij,ij->i", h, h))
        a = np.maximum(np.where(ok, shy / np.where(ok, shh, 1.0), 0.0), 0.0)
        rss = np.where(off, syy, float(y @ y)) - a * shy
        dt = h_t - hbar
        leverage = np.where(off, 1.0 / n, 0.0) + np.where(
            a > 0, dt * dt / np.where(ok, shh, 1.0), 0.0
        )
        mu_i = np.where(off, ybar, 0.0) + a * dt
        rss = np.maximum(rss, n * floor_var)
        s2 = rss / np.maximum(n - self._p, 1.0)
        var_i = s2 * (1.0 + leverage)
        logw = (
            -0.5 * n / TEMPERATURE * np.log(rss / n) - self._log_size - 0.5 * self._p * math.log(n)
        )
        logw[~np.isfinite(logw)] = -np.inf
        if ceiling is not None:
            outside = mu_i > ceiling
            if not outside.all():
                logw[outside] = -np.inf
        w = np.exp(logw - logw.max())
        w /= w.sum()
        mu = float(w @ mu_i)
        var = float(w @ (var_i + (mu_i - mu) ** 2))
        per_family = np.bincount(self._family, weights=w, minlength=len(self._names))
        weights = {name: float(v) for name, v in zip(self._names, per_family, strict=True)}
        return Prediction(mu, math.sqrt(max(var, 0.0)), weights)
