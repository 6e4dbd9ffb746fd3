"""An ARD Matérn-5/2 Gaussian process with MAP-fitted hyperparameters (numpy and scipy only).

Inputs are expected in [0, 1]; outputs are standardised inside :func:`fit_gp`. Hyperparameters
(log lengthscales, log signal variance, log noise variance) are fitted by L-BFGS-B on the
negative log marginal likelihood plus log priors: log-normal on lengthscales and signal variance,
a gamma prior on the noise variance (which favours small noise for near-deterministic objectives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special

__all__ = ["GP", "fit_gp", "log_ei", "log_ei_grad"]

_SQRT5 = math.sqrt(5.0)
_LS_MU, _LS_SIGMA = math.log(0.5), 1.0  # log-normal prior on lengthscales
# ... of a categorical parameter (equality kernel, squared distance 1 / l**2 between two
# options): centred on l = 2, where one changed option keeps a correlation of 0.86 (0.14 at
# l = 0.5, the numeric prior's centre): options of one parameter are a priori exchangeable, so
# the model generalises across them until the data say otherwise. Chosen on NAS-Bench-201
# (6 x 5 options, warp="yj"), median regret at 50 evaluations, seeds 0-9, CIFAR-10 / -100 /
# ImageNet16: l = 0.5: 0.26 / 0.77 / 0.36; l = 1: 0.03 / 0.09 / 0.23; l = 2: 0 / 0 / 0.09
# (docs/notes/gp.md, session 7)
_CAT_LS_MU = math.log(2.0)
_SV_MU, _SV_SIGMA = 0.0, 1.0  # log-normal prior on the signal variance (standardised y)
_NOISE_A, _NOISE_B = 1.1, 20.0  # gamma(shape, rate) prior on the noise variance
# the noise floor is 1e-9 of the standardised variance: at 1e-6 it bound on deterministic
# objectives with a large range (Rosenbrock: y_std ~2000, so a floor of 1e-6 is a noise sd of ~2
# in raw units, above the regret that was left), and lowering it improved 7 of 8 paired runs
_LOG_NOISE_MIN, _LOG_NOISE_MAX = math.log(1e-9), math.log(1.0)
_LOG_LS_MIN, _LOG_LS_MAX = math.log(1e-2), math.log(20.0)
_LOG_SV_MIN, _LOG_SV_MAX = math.log(1e-2), math.log(20.0)


def _scaled_sq(a: np.ndarray, b: np.ndarray, ls: np.ndarray) -> np.ndarray:
    """Per-dimension squared scaled differences, shape (n, m, d)."""
    d = (a[:, None, :] - b[None, :, :]) / ls
    out: np.ndarray = d * d
    return out


def _sq_dist(a: np.ndarray, b: np.ndarray, ls: np.ndarray) -> np.ndarray:
    """Squared scaled distances, shape (n, m), without the (n, m, d) intermediate."""
    a2, b2 = a / ls, b / ls
    r2 = (a2 * a2).sum(1)[:, None] + (b2 * b2).sum(1)[None, :] - 2.0 * (a2 @ b2.T)
    out: np.ndarray = np.maximum(r2, 0.0)
    return out


def matern52(r2: np.ndarray, sv: float) -> np.ndarray:
    """The Matérn-5/2 kernel of squared scaled distances."""
    r = np.sqrt(np.maximum(r2, 0.0))
    out: np.ndarray = sv * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * np.exp(-_SQRT5 * r)
    return out


def _objective(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log posterior (up to a constant) and its gradient in log-parameter space."""
    dim = x.shape[1]
    ls = np.exp(theta[:dim])
    d2 = _scaled_sq(x, x, ls)
    return _posterior(theta, d2, y, dim)


def _objective_grouped(
    theta: np.ndarray, raw: np.ndarray, y: np.ndarray, ls_mu: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`_objective` with one lengthscale per group of features: ``raw[i, j, g]`` is the
    (already scaled) squared difference of rows i and j summed over group g's features;
    ``ls_mu``: the prior's centre of each log lengthscale."""
    n_groups = raw.shape[2]
    d2 = raw / np.exp(2.0 * theta[:n_groups])
    return _posterior(theta, d2, y, n_groups, ls_mu)


def _posterior(
    theta: np.ndarray, d2: np.ndarray, y: np.ndarray, dim: int, ls_mu: Any = _LS_MU
) -> tuple[float, np.ndarray]:
    """The negative log posterior of the Matérn-5/2 GP whose squared scaled distances are the
    sums of ``d2`` (n, n, dim) over its last axis, each term scaled by ``exp(-2 theta[k])``."""
    n = d2.shape[0]
    sv = math.exp(theta[dim])
    noise = math.exp(theta[dim + 1])
    r2 = d2.sum(axis=2)
    r = np.sqrt(r2)
    e = np.exp(-_SQRT5 * r)
    k = sv * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e
    kn = k + (noise + 1e-8) * np.eye(n)
    try:
        c, low = scipy.linalg.cho_factor(kn, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = scipy.linalg.cho_solve((c, low), y, check_finite=False)
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(c)).sum())
    kinv = scipy.linalg.cho_solve((c, low), np.eye(n), check_finite=False)
    w = np.outer(alpha, alpha) - kinv
    grad = np.empty_like(theta)
    # dK/dlog l_j = sv * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * d2_j
    base = sv * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e
    grad[:dim] = -0.5 * np.einsum("ij,ijk->k", w * base, d2)
    grad[dim] = -0.5 * float(np.sum(w * k))
    grad[dim + 1] = -0.5 * noise * float(np.trace(w))
    pv, pg = _PRIOR(theta, dim, ls_mu)
    nll += pv
    grad += pg
    return nll, grad


def _prior_lognormal(theta: np.ndarray, dim: int, ls_mu: Any = _LS_MU) -> tuple[float, np.ndarray]:
    """Negative log prior density in log-parameter space, and its gradient (``ls_mu``: the
    centre of the log lengthscales, one number or one per lengthscale)."""
    grad = np.zeros_like(theta)
    zl = (theta[:dim] - ls_mu) / _LS_SIGMA
    val = 0.5 * float(zl @ zl)
    grad[:dim] = zl / _LS_SIGMA
    zs = (float(theta[dim]) - _SV_MU) / _SV_SIGMA
    val += 0.5 * zs * zs
    grad[dim] = zs / _SV_SIGMA
    # gamma on noise, with the Jacobian of the log transform: -(a * t - b * e^t)
    noise = math.exp(theta[dim + 1])
    val += -_NOISE_A * float(theta[dim + 1]) + _NOISE_B * noise
    grad[dim + 1] = -_NOISE_A + _NOISE_B * noise
    return val, grad


_PRIOR = _prior_lognormal


@dataclass
class GP:
    """A fitted GP on standardised outputs."""

    x: np.ndarray
    ls: np.ndarray
    sv: float
    noise: float
    y_mean: float
    y_std: float
    chol: np.ndarray
    alpha: np.ndarray

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (standardised units) at rows ``xq``."""
        ks = matern52(_sq_dist(xq, self.x, self.ls), self.sv)
        mu: np.ndarray = ks @ self.alpha
        v = scipy.linalg.solve_triangular(self.chol, ks.T, lower=True, check_finite=False)
        var = np.maximum(self.sv - np.sum(v * v, axis=0), 1e-12)
        sd: np.ndarray = np.sqrt(var)
        return mu, sd

    def predict_grad(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and sd at rows ``xq`` and their gradients with respect to ``xq``.

        With ``d = xq - x_i`` and ``r`` the scaled distance, the Matérn-5/2 kernel has
        ``dk/dxq = -5/3 sv (1 + sqrt5 r) exp(-sqrt5 r) d / ls**2`` (smooth at ``r = 0``);
        ``dmu = sum_i alpha_i dk_i`` and ``dvar = -2 sum_i (K^-1 k)_i dk_i``.
        """
        diff = xq[:, None, :] - self.x[None, :, :]
        inv_l2 = 1.0 / (self.ls * self.ls)
        r2 = np.einsum("mnd,d->mn", diff * diff, inv_l2)
        r = np.sqrt(np.maximum(r2, 0.0))
        e = np.exp(-_SQRT5 * r)
        ks = self.sv * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e
        g = -(5.0 / 3.0) * self.sv * (1.0 + _SQRT5 * r) * e  # (m, n)
        mu: np.ndarray = ks @ self.alpha
        kinv_ks = scipy.linalg.cho_solve((self.chol, True), ks.T, check_finite=False).T
        var_raw = self.sv - np.sum(ks * kinv_ks, axis=1)
        var = np.maximum(var_raw, 1e-12)
        sd: np.ndarray = np.sqrt(var)
        dmu: np.ndarray = np.einsum("mn,mnd->md", g * self.alpha[None, :], diff) * inv_l2
        dvar = -2.0 * np.einsum("mn,mnd->md", g * kinv_ks, diff) * inv_l2
        dvar[var_raw <= 1e-12] = 0.0
        dsd: np.ndarray = dvar / (2.0 * sd[:, None])
        return mu, sd, dmu, dsd

    def with_data(self, x: np.ndarray, y_raw: np.ndarray) -> GP:
        """The same hyperparameters and standardisation, conditioned on other data."""
        return _condition(
            x,
            (y_raw - self.y_mean) / self.y_std,
            self.ls,
            self.sv,
            self.noise,
            self.y_mean,
            self.y_std,
        )


def _condition(
    x: np.ndarray,
    ys: np.ndarray,
    ls: np.ndarray,
    sv: float,
    noise: float,
    y_mean: float,
    y_std: float,
) -> GP:
    n = x.shape[0]
    k = matern52(_sq_dist(x, x, ls), sv) + (noise + 1e-8) * np.eye(n)
    jitter = 0.0
    for _ in range(6):
        try:
            chol = np.linalg.cholesky(k + jitter * np.eye(n))
            break
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10.0, 1e-6)
    else:  # pragma: no cover - extreme degeneracy
        chol = np.linalg.cholesky(k + 1e-2 * np.eye(n))
    alpha = scipy.linalg.cho_solve((chol, True), ys, check_finite=False)
    return GP(x, ls, sv, noise, y_mean, y_std, chol, alpha)


def fit_gp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_restarts: int = 2,
    max_iter: int = 40,
    groups: np.ndarray | None = None,
    categorical: np.ndarray | None = None,
) -> GP:
    """Fits hyperparameters by MAP (L-BFGS-B over log-params, deterministic starts).

    ``groups`` (one integer per feature, ``0 .. g-1``): features of one group share one
    lengthscale (the one-hot columns of a categorical parameter: with columns of height
    ``sqrt(1/2)``, two different options are at squared distance ``1 / l**2`` and equal ones at
    0, the equality kernel of that parameter in the ARD product with the others). ``None``: one
    lengthscale per feature. ``categorical`` (one flag per group): those lengthscales have
    their prior centred on 2 (:data:`_CAT_LS_MU`), the others on 0.5. The returned :class:`GP`
    holds the lengthscale of every feature.
    """
    dim = x.shape[1]
    if groups is not None:
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (dim,):
            raise ValueError(f"groups must have one entry per feature ({dim}), got {groups.shape}")
        if np.array_equal(groups, np.arange(dim)):
            groups = None  # one feature per group: the ungrouped path (identical results)
    n_par = dim if groups is None else int(groups.max()) + 1
    ls_mu = np.full(n_par, _LS_MU)
    if categorical is not None:
        categorical = np.asarray(categorical, dtype=bool)
        if categorical.shape != (n_par,):
            raise ValueError(f"categorical must have one flag per lengthscale ({n_par})")
        ls_mu[categorical] = _CAT_LS_MU
    if groups is None and categorical is not None and categorical.any():
        groups = np.arange(dim)  # the grouped path carries the per-lengthscale prior
    y_mean = float(np.mean(y))
    y_std = float(np.std(y))
    if not math.isfinite(y_std) or y_std < 1e-12:
        y_std = 1.0
    ys = (y - y_mean) / y_std
    bounds = [(_LOG_LS_MIN, _LOG_LS_MAX)] * n_par + [
        (_LOG_SV_MIN, _LOG_SV_MAX),
        (_LOG_NOISE_MIN, _LOG_NOISE_MAX),
    ]
    starts = [
        np.concatenate([ls_mu, [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(n_par, math.log(0.2)), [0.0, math.log(1e-2)]]),
        np.concatenate([np.full(n_par, math.log(1.5)), [0.0, math.log(1e-4)]]),
    ][: max(1, n_restarts)]
    if groups is None:
        fun: Any = _objective
        args: tuple[Any, ...] = (x, ys)
    else:
        diff = x[:, None, :] - x[None, :, :]
        onehot = np.zeros((dim, n_par))
        onehot[np.arange(dim), groups] = 1.0
        fun, args = _objective_grouped, ((diff * diff) @ onehot, ys, ls_mu)
    best_theta, best_f = starts[0], math.inf
    for t0 in starts:
        res = scipy.optimize.minimize(
            fun,
            t0,
            args=args,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter},
        )
        if math.isfinite(float(res.fun)) and float(res.fun) < best_f:
            best_f, best_theta = float(res.fun), np.asarray(res.x, dtype=float)
    ls = np.exp(best_theta[:n_par])
    if groups is not None:
        ls = ls[groups]
    return _condition(
        x, ys, ls, math.exp(best_theta[n_par]), math.exp(best_theta[n_par + 1]), y_mean, y_std
    )


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2)
_Z_ASYM = -1000.0  # below this, the asymptotic series of h(z) (error < 1e-13 there)


def _log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log h(z)`` and ``h'(z) / h(z)`` for ``h(z) = phi(z) + z Phi(z)``, stable for any z.

    ``h' = Phi``. For ``z > -1`` both are direct. For ``-25 < z <= -1``,
    ``h = phi(z) (1 + z c)`` with ``c = Phi / phi = sqrt(pi/2) erfcx(-z / sqrt2)``, so
    ``h'/h = c / (1 + z c)`` (``1 + z c ~ 1 / z**2`` loses at most ~1e-10 relative down to
    ``-1000``). Below ``-1000``, ``h ~ phi(z) / z**2 (1 - 3 / z**2 + 15 / z**4)`` and
    ``h'/h ~ -z - 2 / z``.
    """
    log_h = np.empty_like(z)
    ratio = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    hh = np.exp(-0.5 * zh * zh - _LOG_SQRT_2PI) + zh * scipy.special.ndtr(zh)
    log_h[hi] = np.log(hh)
    ratio[hi] = scipy.special.ndtr(zh) / hh
    mid = (~hi) & (z > _Z_ASYM)
    zm = z[mid]
    c = _SQRT_HALF_PI * scipy.special.erfcx(-zm / math.sqrt(2))
    one_zc = np.maximum(1.0 + zm * c, 1e-300)
    log_h[mid] = -0.5 * zm * zm - _LOG_SQRT_2PI + np.log(one_zc)
    ratio[mid] = c / one_zc
    lo = z <= _Z_ASYM
    zl = np.maximum(z[lo], -1e150)
    inv2 = 1.0 / (zl * zl)
    series = -3.0 * inv2 + 15.0 * inv2 * inv2
    log_h[lo] = -0.5 * zl * zl - _LOG_SQRT_2PI + np.log(inv2) + np.log1p(series)
    ratio[lo] = -zl - 2.0 / zl
    return log_h, ratio


def log_ei(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Log expected improvement below ``best`` (minimisation), numerically stable.

    ``EI = sd * h(z)`` with ``z = (best - mu) / sd`` and ``h(z) = phi(z) + z Phi(z)``; see
    :func:`_log_h` for the stable forms.
    """
    z = (best - mu) / sd
    res: np.ndarray = _log_h(z)[0] + np.log(sd)
    return res


def log_ei_grad(
    mu: np.ndarray, sd: np.ndarray, best: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log EI and its partial derivatives with respect to ``mu`` and ``sd``.

    ``d logEI / d mu = -rho / sd`` and ``d logEI / d sd = (1 - z rho) / sd`` with
    ``rho = h'(z) / h(z)``.
    """
    z = (best - mu) / sd
    lh, rho = _log_h(z)
    val: np.ndarray = lh + np.log(sd)
    d_mu: np.ndarray = -rho / sd
    d_sd: np.ndarray = (1.0 - z * rho) / sd
    return val, d_mu, d_sd
