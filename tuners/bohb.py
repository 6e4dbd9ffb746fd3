"""BOHB (Falkner, Klein & Hutter, ICML 2018) as an asynchronous Hyperband scheduler.

The brackets and rungs are :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`'s; only the
choice of new configurations changes. Every resource level (each rung, and ``max_resource`` for
finished trials) has its own multivariate TPE, the ``tpe`` tuner composed through its public
``suggest``/``observe`` API, taught the loss of every trial that reached that level (finished,
paused and stopped trials alike); a trial stopped below a level is shown to that level's
TPE as worse than every trial that reached it (stopped trials ranked by the deepest level they
reached, then their value there, as Optuna ranks pruned trials), so a high level is not made only
of survivors. A new configuration comes from the TPE of the highest level
that holds at least ``min_points`` values (by default enough for its 15% "good" share to hold
``d + 1`` points, ``d`` the number of parameters: see :class:`LevelModelScheduler`); trials that are running or paused below that level are shown to it
as pending (its constant liar), so concurrent suggestions spread out. A ``random_fraction`` of
new configurations is drawn at random (the paper's rho = 1/3), which keeps the search honest
when the low levels mislead. A model suggestion that is a near-copy of a configuration already
tried (``novelty``) is asked again and then replaced by a random draw: a level's TPE can collapse
onto one good configuration, and ASHA does not stop a copy of a configuration that passed a rung,
so its copies would take the budget (docs/notes/multifidelity.md, session 5). The level TPEs use
Scott-rule kernel widths by default (``bandwidth_rule: scott``, as BOHB's KDE): with the ``tpe``
tuner's own "gap" kernels, a level's few, clustered good points give kernels so narrow that
almost every suggestion was such a near-copy (session 6). One bracket (ASHA) by default;
``brackets: null`` runs every Hyperband bracket.

:class:`LevelModelScheduler` is the part shared with ``asha_gp`` (the same with a GP).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from hyperloom.space import SearchSpace
from hyperloom.tuners._common import BaseTuner, Encoder
from hyperloom.tuners._scheduler_options import (
    BOHBOptions,
    ModelOptions,
    SchedulerOptions,
    build_options,
)
from hyperloom.tuners.hyperband import HyperbandScheduler
from hyperloom.types import Report, TrialResult, TrialStatus

__all__ = ["BOHBScheduler", "LevelModelScheduler"]

_KEPT = (TrialStatus.SUCCEEDED, TrialStatus.EARLY_STOPPED)


class LevelModelScheduler(HyperbandScheduler):
    """A Hyperband/ASHA scheduler whose new configurations come from one model per resource
    level, fitted on the highest level with enough points. Subclasses give the model
    (:meth:`_make_model`) and their options dataclass.

    When is a level's model trusted? BOHB's paper fits its KDE on the highest budget with
    ``d + 1`` points, but its reference implementation also gives the "good" density at least
    ``d + 1`` points (``n_good = max(d + 1, 15% n)``), i.e. the model is used at a level with
    ``n >= 2 (d + 1)``. With the 15% split itself, a level with ``d + 1`` points has 2 good
    points: the model then exploits the neighbourhood of 2 configurations, and on MNIST-1D's
    curves bohb with that rule ended *worse than random* (median regret 0.10 vs 0.018 for the
    same brackets with random search; docs/notes/multifidelity.md). The default here is that a
    level is used once its good share holds ``d + 1`` points: ``min_points =
    max(2 (d + 1), ceil((d + 1) / good_share))`` (60 for 8 parameters at 15%); until then the
    model of a lower level, which has more points, is used.

    Args:
        space, mode, seed: As :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`.
        **options: :class:`~hyperloom.tuners._scheduler_options.ModelOptions` (the scheduling
            options, ``min_points`` and ``random_fraction``) or a subclass's dataclass.
    """

    options_type: ClassVar[type[SchedulerOptions]] = ModelOptions
    #: the share of a level's points its model treats as good (sets the default min_points)
    good_share: float = 0.15
    #: model suggestions asked before a near-copy of a tried configuration is replaced by a
    #: random draw (see ``novelty``)
    novelty_tries: int = 3

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, **options)
        opts = self.options
        assert isinstance(opts, ModelOptions)
        self._encoder = Encoder(space)
        d = self._encoder.n_dims
        if opts.min_points is None:
            self.min_points = max(2 * (d + 1), math.ceil((d + 1) / self.good_share - 1e-9))
        else:
            self.min_points = opts.min_points
        self.random_fraction = opts.random_fraction
        self.novelty = opts.novelty
        self._rows: dict[str, np.ndarray] = {}  # unit-scaled rows of the tried configurations
        self._spacing: dict[int, float] = {}  # n -> median NN distance of n random draws
        self._models: dict[float, BaseTuner] = {}
        self._at_level: dict[float, dict[str, float]] = {}
        levels = {lvl for lad in self._ladders for lvl in lad.levels} | {self.max_resource}
        self.levels: tuple[float, ...] = tuple(sorted(levels))
        self.last_level: float | None = None  # the level the last model suggestion came from

    def _make_model(self, level: float) -> BaseTuner:
        """A fresh model for one resource level; it minimizes the losses it is shown."""
        raise NotImplementedError

    def _model(self, level: float) -> BaseTuner:
        m = self._models.get(level)
        if m is None:
            m = self._make_model(level)
            self._models[level] = m
        return m

    def _on_value(self, trial_id: str, level: float, loss: float) -> None:
        params = self._trials[trial_id].params
        if not params:
            return
        self._at_level.setdefault(level, {})[trial_id] = loss
        self._model(level).observe(TrialResult(trial_id, params, TrialStatus.SUCCEEDED, loss))

    def observe(self, result: TrialResult) -> None:
        """As the base scheduler; a trial stopped early also teaches every level above the
        deepest it reached, as a trial worse than all that got there (ranked by
        :func:`~hyperloom.tuners._base.rank_key`: deepest level first, then its loss there):
        without it, a high level's model would see only survivors and call some of them bad."""
        super().observe(result)
        st = self._trials.get(result.trial_id)
        if st is None or not st.params or not st.cut_short or result.status not in _KEPT:
            return
        reached = [lvl for lvl in self.levels if result.trial_id in self._at_level.get(lvl, {})]
        if not reached:
            return
        deepest = max(reached)
        loss = self._at_level[deepest][result.trial_id]
        stopped = TrialResult(
            result.trial_id,
            st.params,
            TrialStatus.EARLY_STOPPED,
            loss,
            (loss,),
            reports=(Report(int(deepest), loss),),
        )
        for lvl in self.levels:
            if lvl > deepest:
                self._model(lvl).observe(stopped)

    def model_level(self) -> float | None:
        """The highest resource level with at least ``min_points`` values (None: none yet)."""
        ready = [lvl for lvl, v in self._at_level.items() if len(v) >= self.min_points]
        return max(ready) if ready else None

    # -- novelty: a model suggestion must not be a near-copy of a tried configuration ----------

    def _unit(self, params: dict[str, Any]) -> np.ndarray:
        """``params`` as a row with numeric dimensions scaled to [0, 1] (by the prior width
        where unbounded); categorical dimensions keep their option index."""
        enc = self._encoder
        row = enc.encode(params)
        num = ~enc.is_cat
        row[num] = (row[num] - np.where(enc.bounded[num], enc.low[num], 0.0)) / enc.prior_sigma[num]
        return row

    def _distances(self, row: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Distance from ``row`` to each of ``rows``: Euclidean over numeric dimensions plus 1
        per differing option (and per dimension active in only one of the two)."""
        cat = self._encoder.is_cat
        a_nan, b_nan = np.isnan(row), np.isnan(rows)
        one = a_nan ^ b_nan
        both = a_nan & b_nan
        diff = np.where(both | one, 0.0, rows - row)
        sq = np.where(cat, (diff != 0).astype(float), diff**2) + one
        return np.asarray(np.sqrt(sq.sum(axis=1)), dtype=float)

    def _tried_rows(self) -> np.ndarray:
        for tid, st in self._trials.items():
            if st.params and tid not in self._rows:
                self._rows[tid] = self._unit(st.params)
        return np.array(list(self._rows.values())) if self._rows else np.empty((0, 0))

    def _random_spacing(self, n: int) -> float:
        """The median nearest-neighbour distance among ``n`` random draws of the space (a fixed
        sample per ``n``, so it is a pure function of the seed and ``n``)."""
        key = 1 << max(1, (n - 1).bit_length())  # one sample per power of two
        got = self._spacing.get(key)
        if got is None:
            rng = np.random.default_rng([self._entropy, 4243, key])
            rows = np.array([self._unit(self.space.sample(rng)) for _ in range(key)])
            nn = []
            for i in range(key):
                d = self._distances(rows[i], np.delete(rows, i, axis=0))
                nn.append(float(d.min()))
            got = self._spacing[key] = float(np.median(nn))
        return got

    def _too_close(self, params: dict[str, Any]) -> bool:
        """Whether ``params`` lies nearer a tried configuration than ``novelty`` times the
        spacing random search would have at this many points."""
        if self.novelty <= 0:
            return False
        rows = self._tried_rows()
        if len(rows) < 2:
            return False
        nearest = float(self._distances(self._unit(params), rows).min())
        return nearest < self.novelty * self._random_spacing(len(rows))

    def _new_params(self, trial_id: str, rng: np.random.Generator) -> dict[str, Any] | None:
        self.last_level = None
        level = self.model_level()
        if level is None or float(rng.random()) < self.random_fraction:
            return self._random_params(rng)
        model = self._model(level)
        done = self._at_level[level]
        pending = {
            t: self._encoder.encode(self._trials[t].params)
            for t in self._pending
            if t not in done and t != trial_id and self._trials[t].params
        }
        model.history.pending = pending  # pending at this level: its constant liar
        got: dict[str, Any] | None = None
        try:
            for attempt in range(self.novelty_tries):
                ask = trial_id if attempt == 0 else f"{trial_id}~{attempt}"
                cand = model.suggest(ask)  # a rejected one stays pending: the next moves away
                if cand is None or (self._seen.finite and dict(cand) in self._seen):
                    break  # the model ran out of points nobody tried
                if not self._too_close(dict(cand)):
                    got = dict(cand)
                    break
        finally:
            model.history.pending.clear()
        if got is None:
            return self._random_params(rng)
        self.last_level = level
        return got


class BOHBScheduler(LevelModelScheduler):
    """BOHB: asynchronous Hyperband with a multivariate TPE per resource level.

    Args:
        space, mode, seed: As :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`.
        **options: :class:`~hyperloom.tuners._scheduler_options.BOHBOptions`: the scheduling
            options (one bracket by default; ``brackets: None`` for every Hyperband bracket),
            ``min_points`` (None: see :class:`LevelModelScheduler`), ``random_fraction`` (1/3,
            BOHB's rho), ``novelty`` (0.5: see ``ModelOptions``), ``gamma``
            (0.15, the share of a level's trials its TPE calls good), ``n_candidates`` (64),
            ``bandwidth_rule`` ("scott") and ``bandwidth`` (0.2): the TPE's kernel widths.
    """

    name = "bohb"
    options_type: ClassVar[type[SchedulerOptions]] = BOHBOptions

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        opts = build_options(BOHBOptions, self.name, options)
        self.gamma = opts.gamma
        self.good_share = opts.gamma
        self.n_candidates = opts.n_candidates
        self.bandwidth_rule = opts.bandwidth_rule
        self.bandwidth = opts.bandwidth
        super().__init__(space, mode=mode, seed=seed, **options)
        self._make_model(self.max_resource)  # checks the TPE's options now, not at the first fit

    def _make_model(self, level: float) -> BaseTuner:
        from hyperloom.tuners.tpe import TPETuner

        seed = int(self._entropy + 7919 * int(level * 1000)) % (1 << 63)
        return TPETuner(
            self.space,
            mode="minimize",
            seed=seed,
            n_startup=1,
            gamma=self.gamma,
            n_candidates=self.n_candidates,
            bandwidth_rule=self.bandwidth_rule,
            bandwidth=self.bandwidth,
        )
