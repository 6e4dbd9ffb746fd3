"""The GP tuner: fit an ARD Matérn-5/2 GP to the losses, suggest the point maximising log EI."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import scipy.optimize
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._common import BaseTuner
from hyperloom.tuners.gp._kernel import GP, fit_gp, log_ei

__all__ = ["GPTuner"]


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PluginError(f"gp: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class GPTuner(BaseTuner):
    """Gaussian-process Bayesian optimisation with log expected improvement.

    Encoding: every numeric parameter becomes one feature in [0, 1] of its internal space (log
    space for log types; ``mu ± 3 sigma`` for unbounded normal types); each categorical becomes
    one-hot features. Inactive (conditional) parameters are encoded as 0 (all-zero one-hot), so
    they do not look like a real value to the kernel.

    After ``n_startup`` random trials (default ``min(10, 2 * dims)``, at least 2), every suggestion
    fits the GP hyperparameters by MAP on the observed trials (cached per number of observations),
    conditions on pending trials with a constant liar (the mean observed loss), and maximises log
    EI: random and best-observed starts are scored, the best ``n_restarts`` are refined by L-BFGS-B
    over the numeric features, rounded onto the space, then each categorical is searched locally
    over its options. Failed trials (value None or NaN) are given the worst observed loss so the
    model learns to avoid their region. Beyond ``max_points`` observations the model is fitted to
    the best half plus a seeded random subsample of the rest.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed (same seed and history give the same suggestions).
        n_startup: Random trials before the model is used.
        n_candidates: Random points scored by the acquisition per suggestion.
        n_restarts: L-BFGS-B starts for the acquisition.
        max_points: Largest number of observations the GP is fitted to.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        n_startup: int | None = None,
        n_candidates: int = 256,
        n_restarts: int = 4,
        max_points: int = 300,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        enc = self.encoder
        if n_startup is None:
            n_startup = max(2, min(10, 2 * enc.n_dims))
        self.n_startup = _count("n_startup", n_startup, 1)
        self.n_candidates = _count("n_candidates", n_candidates, 1)
        self.n_restarts = _count("n_restarts", n_restarts, 1)
        self.max_points = _count("max_points", max_points, 10)
        lo = enc.low.copy()
        hi = enc.high.copy()
        unb = ~enc.bounded & ~enc.is_cat
        lo[unb] = enc.prior_mu[unb] - 3 * enc.prior_sigma[unb]
        hi[unb] = enc.prior_mu[unb] + 3 * enc.prior_sigma[unb]
        lo[enc.is_cat] = 0.0
        hi[enc.is_cat] = 1.0
        self._lo = lo
        self._span = np.maximum(hi - lo, 1e-12)
        self._num = np.flatnonzero(~enc.is_cat)
        self._cat = np.flatnonzero(enc.is_cat)
        self._n_feat = len(self._num) + int(enc.n_choices[enc.is_cat].sum())
        self._fit_cache: tuple[int, GP] | None = None

    # encoding ------------------------------------------------------------------------------------
    def features(self, rows: np.ndarray) -> np.ndarray:
        """Model features of internal rows (NaN = inactive)."""
        m = rows.shape[0]
        out = np.zeros((m, self._n_feat))
        num = rows[:, self._num]
        z = (num - self._lo[self._num]) / self._span[self._num]
        out[:, : len(self._num)] = np.where(np.isfinite(z), np.clip(z, 0.0, 1.0), 0.0)
        col = len(self._num)
        for i in self._cat:
            k = int(self.encoder.n_choices[i])
            v = rows[:, i]
            ok = np.isfinite(v)
            idx = np.flatnonzero(ok)
            out[idx, col + np.rint(v[ok]).astype(np.int64)] = 1.0
            col += k
        return out

    def _z_to_rows(self, base: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``base`` rows with numeric dims set from ``z`` in [0, 1], inactive entries NaN."""
        rows = base.copy()
        num = self._num
        rows[:, num] = self._lo[num] + np.clip(z, 0.0, 1.0) * self._span[num]
        rows[~self.encoder.activity(rows)] = np.nan
        return rows

    # model ---------------------------------------------------------------------------------------
    def _training_set(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h = self.history
        x, y = h.x, h.y.copy()
        finite = np.isfinite(y)
        y[~finite] = float(np.max(y[finite]))  # failed trials: the worst observed loss
        if x.shape[0] > self.max_points:
            order = np.argsort(y, kind="stable")
            keep_best = order[: self.max_points // 2]
            rest = order[self.max_points // 2 :]
            pick = rng.choice(rest, size=self.max_points - len(keep_best), replace=False)
            idx = np.sort(np.concatenate([keep_best, pick]))
            x, y = x[idx], y[idx]
        return self.features(x), y

    def _model(self) -> GP:
        n = self.history.n
        if self._fit_cache is None or self._fit_cache[0] != n:
            # a pure function of the observed history (own rng), so replayed tuners agree
            rng = np.random.default_rng([self._entropy, n, 7])
            fx, fy = self._training_set(rng)
            self._fit_cache = (n, fit_gp(fx, fy))
        return self._fit_cache[1]

    # acquisition ---------------------------------------------------------------------------------
    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        # the matrices are small: multi-threaded BLAS only adds overhead (14x slower on a busy
        # machine), so one thread while the model runs, where threadpoolctl is installed
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            ctx: Any = contextlib.nullcontext()
        else:
            ctx = threadpool_limits(1)
        with ctx:
            return self._propose_inner(rng)

    def _propose_inner(self, rng: np.random.Generator) -> np.ndarray:
        h = self.history
        enc = self.encoder
        d = enc.n_dims
        y = h.y
        finite = np.isfinite(y)
        if h.n < self.n_startup or not finite.any():
            return np.empty((0, d))
        gp = self._model()
        best = (float(np.min(y[finite])) - gp.y_mean) / gp.y_std
        if h.pending:
            # constant liar: pending trials are conditioned on as the mean observed loss
            liar = float(np.mean(y[finite]))
            fx = np.concatenate([gp.x, self.features(h.pending_rows(d))])
            fy = np.concatenate([self._training_y(), np.full(len(h.pending), liar)])
            gp = gp.with_data(fx, fy)

        def acq_rows(rows: np.ndarray) -> np.ndarray:
            mu, sd = gp.predict(self.features(rows))
            return log_ei(mu, sd, best)

        # starts: random prior draws, the best observed points and perturbations of them
        cand = [enc.sample_prior(rng, self.n_candidates)]
        order = np.argsort(np.where(finite, y, np.inf), kind="stable")[:5]
        top = h.x[order]
        cand.append(top)
        if len(self._num):
            pert = np.repeat(top, 8, axis=0)
            znum = (pert[:, self._num] - self._lo[self._num]) / self._span[self._num]
            znum = np.where(np.isfinite(znum), znum, rng.uniform(size=znum.shape))
            znum = znum + rng.normal(0, 0.05, size=znum.shape)
            cand.append(self._z_to_rows(pert, znum))
        rows = enc.complete(np.concatenate(cand), rng)
        score = acq_rows(rows)
        starts = rows[np.argsort(-score, kind="stable")[: self.n_restarts]]

        refined = [rows]
        k = len(self._num)
        if k:
            # all starts refined jointly by one L-BFGS-B run (the objective is separable), with
            # forward-difference gradients evaluated in a single batched posterior call
            n_s = starts.shape[0]
            z0 = (starts[:, self._num] - self._lo[self._num]) / self._span[self._num]
            z0 = np.where(np.isfinite(z0), np.clip(z0, 0.0, 1.0), 0.5)
            eps = 1e-5
            base = np.repeat(starts, k + 1, axis=0)
            step = np.concatenate([np.zeros((1, k)), eps * np.eye(k)])

            def f(flat: np.ndarray) -> tuple[float, np.ndarray]:
                z = flat.reshape(n_s, k)
                zz = (z[:, None, :] + step[None, :, :]).reshape(-1, k)
                v = acq_rows(self._z_to_rows(base, zz)).reshape(n_s, k + 1)
                grad = (v[:, 1:] - v[:, :1]) / eps
                return -float(v[:, 0].sum()), -grad.ravel()

            res = scipy.optimize.minimize(
                f,
                z0.ravel(),
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, 1.0 - 1e-5)] * (n_s * k),
                options={"maxiter": 30},
            )
            refined.append(enc.complete(self._z_to_rows(starts, res.x.reshape(n_s, k)), rng))
        rows = np.concatenate(refined)
        score = acq_rows(rows)
        # local search over categorical options for the best few
        if len(self._cat):
            best_rows = rows[np.argsort(-score, kind="stable")[: self.n_restarts]]
            extra = []
            for r in best_rows:
                cur = r.copy()
                cur_s = float(acq_rows(cur[None, :])[0])
                for i in self._cat:
                    if not math.isfinite(cur[i]):
                        continue
                    k = int(enc.n_choices[i])
                    opts = np.repeat(cur[None, :], k, axis=0)
                    opts[:, i] = np.arange(k)
                    opts = enc.complete(opts, rng)
                    s = acq_rows(opts)
                    j = int(np.argmax(s))
                    if s[j] > cur_s:
                        cur, cur_s = opts[j], float(s[j])
                extra.append(cur)
            rows = np.concatenate([rows, np.array(extra).reshape(-1, d)])
            score = acq_rows(rows)
        out: np.ndarray = rows[np.argsort(-score, kind="stable")]
        return out

    def _training_y(self) -> np.ndarray:
        """The raw losses the cached model was fitted to (same subsample)."""
        n = self.history.n
        rng = np.random.default_rng([self._entropy, n, 7])
        return self._training_set(rng)[1]
