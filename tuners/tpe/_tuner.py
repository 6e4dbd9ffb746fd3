"""The TPE tuner: split the history into good and bad trials, fit a Parzen estimator to each, and
suggest the candidate (drawn from the good one) that maximises ``log l(x) - log g(x)``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from hyperloom import pareto
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import constrained_rank_key, rank_key
from hyperloom.tuners._common import BaseTuner
from hyperloom.tuners.tpe._parzen import ParzenEstimator
from hyperloom.types import Constraint, Objective, TrialResult

__all__ = ["TPETuner", "default_candidates"]


def _positive_number(name: str, value: object, *, upper: float | None = None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PluginError(f"tpe: {name} must be a positive number, got {value!r}")
    if upper is not None and value >= upper:
        raise PluginError(f"tpe: {name} must be < {upper:g}, got {value!r}")
    return float(value)


#: The most candidates one suggestion may score (each is a row of the density's samples).
MAX_CANDIDATES = 100_000
#: The most neighbours of the incumbent the local search scores per suggestion.
MAX_NEIGHBOURS = 4096


def default_candidates(n_params: int) -> int:
    """The default number of candidates per suggestion: ``12 * n_params`` clipped to [24, 64].

    The best of the candidates drawn from the good density approximates the maximiser of
    ``l / g``; how many draws that takes grows with the dimension. Measured (median regret, 20
    seeds, ``benchmarks/tuners/gp_vs_baselines.py``): on Branin (2 parameters) 24 beat 64 at
    every checkpoint; on hartmann6 and cat_mixed (6 parameters) 64 beat 24.
    """
    return int(min(64, max(24, 12 * n_params)))


def _count(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PluginError(f"tpe: {name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise PluginError(
            f"tpe: {name} must be an integer in [{minimum}, {maximum:,}], got {value!r}"
        )
    return int(value)


class TPETuner(BaseTuner):
    """Tree-structured Parzen Estimator (Bergstra et al. 2011) with multivariate kernels.

    After ``n_startup`` random trials, the trials that reached a value are split: the best
    ``min(ceil(gamma * n), max_good)`` are "good", the rest "bad". "Best" is
    :func:`~hyperloom.tuners._base.rank_key` (finished trials by loss, then trials stopped early by
    the depth they reached, then by loss), with infeasible trials (``constraints``) after every
    feasible one, by violation. With several ``objectives`` the split is multi-objective TPE's
    (Ozaki et al. 2020): whole fronts of constrained domination in order (finished before stopped
    early), and in the front that does not fit, the trials that keep the most hypervolume of the
    normalised losses (:func:`hyperloom.pareto.select_by_rank`). Trials still running and failed
    trials count as bad (a constant liar with the worst value), so concurrent suggestions spread out.
    ``n_candidates`` points drawn from the good density are scored by the log density ratio, and
    the best one not suggested before is returned. Nested choices are handled by scoring each
    candidate on its active parameters only (a parameter missing from an observation falls back to
    the prior there).

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed.
        objectives: The objectives, when there are several.
        constraints: Feasibility bounds on reported metrics; infeasible trials go to the bad side.
        n_startup: Random trials before the model is used.
        n_candidates: Candidates drawn from the good density per suggestion (default
            :func:`default_candidates`: 12 per parameter, between 24 and 64). More candidates
            maximise ``l / g`` more greedily: 24 (Optuna's and hyperopt's count) left ours behind
            on hartmann6 (6-D), 64 left it behind Optuna on Branin (2-D); see
            docs/notes/tuners.md.
        gamma: Fraction of finished trials considered good.
        max_good: Upper bound on the number of good trials.
        prior_weight: Weight of the prior kernel, relative to one observation.
        bandwidth_rule: "gap" (each kernel as wide as the larger gap to its neighbours) or
            "scott" (one width per parameter, ``bandwidth * width * n ** (-1 / (d + 4))``).
        bandwidth: Factor of the "scott" rule (larger: smoother densities).
        constant_liar: Count running trials as bad ones (disable only for sequential runs).
        forgetting: In a density fitted to more than this many trials, the older ones weigh
            less, linearly from ``1 / n`` for the oldest to 1 (Bergstra's "linear forgetting");
            0 turns it off.
        multivariate: One kernel per observation over all parameters (default); False: one
            independent mixture per parameter (univariate TPE, as in hyperopt), whose candidates
            recombine the values of different good trials.
        local_search: From ``local_search_from`` observations on, each suggestion is the
            untried one-exchange neighbour of the incumbent (one categorical parameter set to
            another option, the rest kept) that scores best by ``l / g``; when every one is tried
            (a local optimum), the best-scored untried two-exchange neighbour (variable
            neighbourhood search); then the usual candidates. A best-improvement local search
            guided by TPE's own acquisition (local search is a strong method on categorical cell
            spaces: White et al. 2021). Several objectives: the same
            neighbours of every trial on the first front (Pareto local search, Paquete et al.
            2004), best ``l / g`` first (docs/notes/multiobjective.md). Off by default; ``auto``
            turns it on for spaces of categorical parameters only (measured in docs/notes/gp.md).
        local_search_from: Observations before the local search starts (default
            ``2 * n_startup``: the model has had as many trials as the random start).
    """

    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] = (),
        n_startup: int = 10,
        n_candidates: int | None = None,
        gamma: float = 0.1,
        max_good: int = 25,
        prior_weight: float = 1.0,
        bandwidth_rule: str = "gap",
        bandwidth: float = 0.2,
        constant_liar: bool = True,
        forgetting: int = 25,
        multivariate: bool = True,
        local_search: bool = False,
        local_search_from: int | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        self.constraints = tuple(constraints)
        self._key: list[tuple[int, float, float]] = []  # order of each history row
        self._losses: list[tuple[float, ...] | None] = []  # several objectives: losses per row
        self._violation: list[float] = []
        self._tier: list[int] = []
        self._front = np.empty(0, dtype=np.int64)  # several objectives: the best group's rows
        self.n_startup = _count("n_startup", n_startup, 1)
        if n_candidates is None:
            n_candidates = default_candidates(len(space.parameters))
        self.n_candidates = _count("n_candidates", n_candidates, 1, MAX_CANDIDATES)
        self.gamma = _positive_number("gamma", gamma, upper=1.0)
        self.max_good = _count("max_good", max_good, 1)
        self.prior_weight = _positive_number("prior_weight", prior_weight)
        self.bandwidth = _positive_number("bandwidth", bandwidth)
        if bandwidth_rule not in ("gap", "scott"):
            raise PluginError(
                f"tpe: bandwidth_rule must be 'gap' or 'scott', got {bandwidth_rule!r}"
            )
        self.bandwidth_rule = bandwidth_rule
        if not isinstance(constant_liar, bool):
            raise PluginError(f"tpe: constant_liar must be true or false, got {constant_liar!r}")
        self.constant_liar = constant_liar
        self.forgetting = _count("forgetting", forgetting, 0)
        if not isinstance(multivariate, bool):
            raise PluginError(f"tpe: multivariate must be true or false, got {multivariate!r}")
        self.multivariate = multivariate
        if not isinstance(local_search, bool):
            raise PluginError(f"tpe: local_search must be true or false, got {local_search!r}")
        self.local_search = local_search
        if local_search_from is None:
            local_search_from = 2 * self.n_startup
        self.local_search_from = _count("local_search_from", local_search_from, 1)
        enc = self.encoder
        self._min_sigma = np.zeros(enc.n_dims)
        self._pad = np.zeros(enc.n_dims)
        for i, p in enumerate(enc.params):
            if not p.is_categorical and p.q and not p.is_log:
                self._min_sigma[i] = 0.5 * float(p.q)
                if enc.bounded[i]:
                    self._pad[i] = 0.5 * float(p.q)

    def _weights(self, n: int) -> np.ndarray:
        w = np.ones(n)
        if self.forgetting and n > self.forgetting:
            w[: n - self.forgetting] = np.linspace(1.0 / n, 1.0, n - self.forgetting)
        return w

    def _estimator(self, rows: np.ndarray) -> ParzenEstimator:
        """The density of ``rows`` (oldest first) with this tuner's settings."""
        return ParzenEstimator(
            self.encoder,
            rows,
            prior_weight=self.prior_weight,
            bandwidth=self.bandwidth,
            min_sigma=self._min_sigma,
            rule=self.bandwidth_rule,
            pad=self._pad,
            obs_weights=self._weights(rows.shape[0]),
            joint=self.multivariate,
        )

    def observe(self, result: TrialResult) -> None:
        n0 = self.history.n
        super().observe(result)
        if self.history.n == n0:
            return  # params outside the space: ignored by the base class
        violation = float(sum(c.violation(result.metrics) for c in self.constraints))
        self._key.append(constrained_rank_key(result, float(self.history.y[-1]), violation))
        self._violation.append(violation)
        if len(self.objectives) > 1:
            self._losses.append(self.losses(result))
            self._tier.append(0 if rank_key(result, 0.0)[0] == 0 else 1)

    def _split(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The indices of the good and the bad history rows (None: not enough data yet)."""
        n = self.history.n
        if len(self.objectives) > 1:
            m = len(self.objectives)
            rows = [r if r is not None else (np.nan,) * m for r in self._losses]
            pts = np.array(rows, dtype=float).reshape(-1, m)
            fin = np.all(np.isfinite(pts), axis=1)
            n_ok = int(fin.sum())
        else:
            n_ok = sum(1 for k in self._key if k[0] < 3)
        if n < self.n_startup or n_ok == 0:
            return None
        n_good = max(1, min(math.ceil(self.gamma * n_ok), self.max_good))
        if len(self.objectives) > 1:
            lo = pts[fin].min(axis=0)
            span = pts[fin].max(axis=0) - lo
            norm = (pts - lo) / np.where(span > 0, span, 1.0)
            ranks = pareto.constrained_ranks(norm, self._violation, self._tier)
            good_idx = pareto.select_by_rank(norm, n_good, ranks=ranks)
            # the best group (the first front of the finished feasible trials, when there are
            # some): where the multi-objective local search looks
            self._front = np.flatnonzero((ranks == ranks[fin].min()) & fin)
        else:
            order = sorted(range(n), key=self._key.__getitem__)
            good_idx = np.sort(np.asarray(order[:n_good], dtype=np.int64))
        bad = np.ones(n, dtype=bool)
        bad[good_idx] = False
        return good_idx, np.flatnonzero(bad)  # oldest first, for the forgetting weights

    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        h = self.history
        split = self._split()
        if split is None:
            return np.empty((0, self.encoder.n_dims))
        good_idx, bad_idx = split
        x = h.x
        bad = x[bad_idx]
        if self.constant_liar and h.pending:
            bad = np.concatenate([bad, h.pending_rows(self.encoder.n_dims)])
        good_pe, bad_pe = self._estimator(x[good_idx]), self._estimator(bad)
        cands = self.encoder.snap(good_pe.sample(rng, self.n_candidates))
        near = np.empty((0, self.encoder.n_dims))
        if self.local_search and len(self.objectives) == 1 and h.n >= self.local_search_from:
            # the incumbent's neighbours first (best score first), then the usual candidates:
            # BaseTuner.suggest takes the first unseen row, so an exhausted neighbourhood falls
            # through to the density's candidates
            best = min(good_idx.tolist(), key=self._key.__getitem__)  # the incumbent
            if self._key[best][0] < 3:
                near = self._neighbours(x[best], rng, 1)
                if all(self.encoder.decode(r) in self.seen for r in near):
                    # a local optimum of one-option changes: the two-option changes (variable
                    # neighbourhood search), a random subset when there are very many
                    near = self._neighbours(x[best], rng, 2)
            if near.shape[0]:
                s_near = good_pe.log_pdf(near) - bad_pe.log_pdf(near)
                near = near[np.argsort(-s_near, kind="stable")]
        elif self.local_search and len(self.objectives) > 1 and h.n >= self.local_search_from:
            # Pareto local search (Paquete et al. 2004) ordered by l / g: the unseen one-exchange
            # neighbours of every trial on the first front, best score first
            near = self._front_neighbours(rng)
            if near.shape[0]:
                s_near = good_pe.log_pdf(near) - bad_pe.log_pdf(near)
                near = near[np.argsort(-s_near, kind="stable")]
        score = good_pe.log_pdf(cands) - bad_pe.log_pdf(cands)
        return np.concatenate([near, cands[np.argsort(-score, kind="stable")]])

    def _front_neighbours(self, rng: np.random.Generator) -> np.ndarray:
        """The one-exchange neighbours of the first front's trials (several objectives)."""
        x = self.history.x
        out = [self._neighbours(x[i], rng) for i in self._front]
        out = [o for o in out if o.shape[0]]
        return np.concatenate(out) if out else np.empty((0, self.encoder.n_dims))

    def _neighbours(self, row: np.ndarray, rng: np.random.Generator, k: int = 1) -> np.ndarray:
        """The neighbours of ``row`` that change ``k`` (1 or 2) of its active categorical
        dimensions (at most :data:`MAX_NEIGHBOURS`, a random subset beyond; children of a changed
        choice are drawn from their priors, numeric values are kept)."""
        enc = self.encoder
        dims = [int(i) for i in np.flatnonzero(enc.is_cat & np.isfinite(row))]
        moves = [[(i, o) for o in range(int(enc.n_choices[i])) if o != int(row[i])] for i in dims]
        if k == 1:
            changes = [[m] for ms in moves for m in ms]
        else:
            changes = [
                [a, b]
                for i, j in itertools.combinations(range(len(dims)), 2)
                for a in moves[i]
                for b in moves[j]
            ]
        if not changes:
            return np.empty((0, enc.n_dims))
        if len(changes) > MAX_NEIGHBOURS:
            pick = np.sort(rng.choice(len(changes), MAX_NEIGHBOURS, replace=False))
            changes = [changes[int(c)] for c in pick]
        out = np.repeat(row[None, :], len(changes), axis=0)
        for n, change in enumerate(changes):
            for i, o in change:
                out[n, i] = o
        return enc.complete(out, rng)
