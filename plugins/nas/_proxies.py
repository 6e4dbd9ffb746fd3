"""Cheap proxies of final accuracy for NAS: a size/FLOPs correction of early rewards, and
learning-curve extrapolation (the ``curve_fitting`` assessor's model). numpy only.

Both answer the same question: ranking architectures by an early, partially trained accuracy
favours small networks (they learn fastest at first) and noisy curves. Any NAS tuner can rank
by a corrected reward instead of the raw one:

* :func:`size_corrected`: ``acc + beta * log(size / reference)``, with ``size`` the parameter
  count or FLOPs. ``beta`` is fitted by :func:`fit_size_beta` on a few architectures whose
  final accuracy is known (least squares of ``final - early`` on ``log size``), or set by hand.
* :class:`CurveExtrapolator`: the Bayesian model average of curve families of
  ``hyperloom.assessors.curve_fitting`` predicting the accuracy at the full horizon from the
  first steps (at least four points; otherwise the last value is returned).

:func:`kendall_tau` measures rank agreement (tau-b, ties handled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "CurveExtrapolator",
    "fit_size_beta",
    "fit_size_calibration",
    "kendall_tau",
    "size_corrected",
]


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two score lists (nan when undefined, e.g. constant input)."""
    from scipy.stats import kendalltau

    if len(a) != len(b):
        raise ValueError(f"kendall_tau: lengths differ ({len(a)} vs {len(b)})")
    return float(kendalltau(np.asarray(a, float), np.asarray(b, float)).statistic)


def size_corrected(
    early: Sequence[float], sizes: Sequence[float], beta: float, reference: float | None = None
) -> np.ndarray:
    """Early accuracies corrected by size: ``early + beta * log(size / reference)``.

    Args:
        early: The early rewards.
        sizes: Parameter counts or FLOPs (positive), one per reward.
        beta: The correction's strength (see :func:`fit_size_beta`).
        reference: The size that gets no correction (default: the geometric mean of ``sizes``).
    """
    e = np.asarray(early, float)
    s = np.asarray(sizes, float)
    if e.shape != s.shape or np.any(s <= 0):
        raise ValueError("size_corrected: early and sizes must match, sizes positive")
    ref = float(np.exp(np.mean(np.log(s)))) if reference is None else float(reference)
    out: np.ndarray = e + beta * np.log(s / ref)
    return out


def fit_size_beta(early: Sequence[float], final: Sequence[float], sizes: Sequence[float]) -> float:
    """The ``beta`` that best predicts ``final - early`` from ``log(size)`` (least squares)."""
    e, f, s = (np.asarray(v, float) for v in (early, final, sizes))
    x = np.log(s) - np.log(s).mean()
    denom = float(x @ x)
    if denom == 0.0:
        return 0.0
    return float(x @ ((f - e) - (f - e).mean()) / denom)


def fit_size_calibration(
    early: Sequence[float],
    final: Sequence[float],
    sizes: Sequence[float],
    ridge: float = 0.1,
) -> tuple[float, float]:
    """Weights ``(w_early, w_size)`` of the score ``w_early * early + w_size * log(size)`` that
    best predicts ``final`` (ridge least squares on standardised features, ``ridge`` times the
    number of points as the penalty), for ranking: the constant is dropped.

    Unlike :func:`fit_size_beta` the early reward's weight is fitted too, which matters when the
    early reward (an inherited-weight accuracy) is on another scale than the final one and only
    weakly related to it. When the fitted weight of the early reward is negative the fit is
    redone on size alone (a few noisy points must not make the score punish accuracy); the
    size weight keeps its sign.
    """
    e, f, s = (np.asarray(v, float) for v in (early, final, sizes))
    if not (e.shape == f.shape == s.shape) or e.size < 2 or np.any(s <= 0):
        raise ValueError("fit_size_calibration: at least 2 matching points, sizes positive")
    ls = np.log(s)
    sd_e, sd_s = float(e.std()), float(ls.std())
    z = np.column_stack([
        (e - e.mean()) / sd_e if sd_e > 0 else np.zeros_like(e),
        (ls - ls.mean()) / sd_s if sd_s > 0 else np.zeros_like(ls),
    ])  # fmt: skip
    y = f - f.mean()
    lam = ridge * e.size
    w = np.linalg.solve(z.T @ z + lam * np.eye(2), z.T @ y)
    if w[0] < 0:  # refit on size alone rather than keep a size weight fitted next to it
        w = np.array([0.0, float(z[:, 1] @ y) / (float(z[:, 1] @ z[:, 1]) + lam)])
    w_e = float(w[0]) / sd_e if sd_e > 0 else 0.0
    w_s = float(w[1]) / sd_s if sd_s > 0 else 0.0
    return w_e, w_s


class CurveExtrapolator:
    """Predicts a learning curve's value at ``horizon`` from its first points.

    Args:
        horizon: The full length (number of steps) of the curves.
        ceiling: A value the curve cannot exceed (1.0 for accuracies).
    """

    def __init__(self, horizon: int, ceiling: float | None = 1.0) -> None:
        # The curve_fitting assessor's model; hyperloom.assessors exposes no public name for it.
        from hyperloom.assessors._curves import CurveEnsemble

        self.horizon = int(horizon)
        self.ceiling = ceiling
        self._model = CurveEnsemble(self.horizon)

    def predict(self, curve: Sequence[float]) -> float:
        """The predicted value at the horizon (the last value when the fit is not possible)."""
        y = np.asarray([v for v in curve if v is not None and math.isfinite(v)], float)
        if y.size == 0:
            return math.nan
        steps = np.arange(1, y.size + 1, dtype=float)
        pred = self._model.predict(steps, y, target=self.horizon, ceiling=self.ceiling)
        return float(y[-1]) if pred is None else float(pred.mean)
