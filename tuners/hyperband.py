"""Asynchronous Hyperband: brackets of asynchronous successive halving, as one scheduler.

ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020) run over
several Hyperband brackets, as in the paper's asynchronous Hyperband and Syne Tune's
``HyperbandScheduler``. Bracket ``b`` places its rungs at ``min_resource * eta**(b + k)`` below
``max_resource``; each new trial draws its bracket with Hyperband's proportions (the more
aggressive a bracket, the more trials it gets), and each bracket keeps its own rungs. The rung
rules (value at a rung, top ``1 / eta``, promotion) are :mod:`hyperloom.assessors._rungs`, shared
with the ``asha`` assessor.

The scheduler is both the tuner and the assessor: the manager calls ``suggest``/``observe`` and,
after every intermediate report, ``assess``. Two types:

* ``stopping``: a trial reaching a rung goes on when it is in the top ``1 / eta`` of the values
  recorded there so far and is stopped otherwise;
* ``promotion``: a trial reaching a rung goes on when it is promotable right away (in the top
  ``floor(n / eta)``), else it is PAUSED there; a later ``suggest`` resumes the best paused trial
  that has become promotable (``Suggestion(params, resume=trial_id)``) before it starts a new one.

New configurations come from :meth:`HyperbandScheduler._new_params`: random draws here; ``bohb``
and ``asha_gp`` put a model there that sees every rung value (pending and paused trials too).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from hyperloom.assessors._rungs import Rungs, geometric_levels, resources_of
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.tuners._common import Seen, seed_entropy
from hyperloom.tuners._scheduler_options import (
    SchedulerOptions,
    build_options,
    publish_signature,
)
from hyperloom.types import Decision, Suggestion, TrialResult, TrialStatus, Verdict

__all__ = ["HyperbandScheduler"]

log = logging.getLogger(__name__)

_KEEP = (TrialStatus.SUCCEEDED, TrialStatus.EARLY_STOPPED)


@dataclass
class _Trial:
    """What the scheduler knows of one trial."""

    params: dict[str, Any]
    bracket: int
    paused_at: int | None = None  # rung index it waits at (promotion type)
    stopped: str | None = None  # the reason, once stopped
    ended: bool = False
    cut_short: bool = False  # ended while paused or stopped by this scheduler
    levels_seen: set[float] = field(default_factory=set)


class HyperbandScheduler(Tuner):
    """Asynchronous Hyperband / ASHA scheduler (``brackets=1`` is plain ASHA).

    Resource: the report step plus one by default (the number of steps done), or a metric each
    report carries (``resource: epochs``, ``samples``, ``seconds``...), in the units of
    ``min_resource``/``max_resource``.

    Determinism and resume: a trial's bracket and its random parameters are pure functions of the
    seed and the trial id, and ``observe()`` rebuilds every rung from the ended trials' reports,
    so a scheduler rebuilt by replay judges new trials as the live one did.

    Args:
        space: The search space.
        mode: "maximize" or "minimize" the metric.
        seed: Seed of every random choice.
        **options: The scheduling options, with their defaults and checks in
            :class:`~hyperloom.tuners._scheduler_options.SchedulerOptions`: ``min_resource``
            (1), ``max_resource`` (81), ``reduction_factor`` (3), ``brackets`` (None: every
            bracket that fits; 1 is ASHA), ``type`` ("stopping" or "promotion"), ``resource``
            (None: the report step, or a metric name).
    """

    #: the name used in error messages and reasons
    name = "hyperband"
    #: the dataclass holding this scheduler's options (their defaults live there only)
    options_type: ClassVar[type[SchedulerOptions]] = SchedulerOptions

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        publish_signature(cls, cls.options_type)

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        opts = build_options(self.options_type, self.name, options)
        self.options: SchedulerOptions = opts
        self.min_resource = float(opts.min_resource)
        self.max_resource = float(opts.max_resource)
        self.reduction_factor = eta = opts.reduction_factor
        assert opts.brackets is not None
        self.brackets: int = opts.brackets
        self.type = opts.type
        self.resource = opts.resource
        s_max = SchedulerOptions.max_bracket(self.min_resource, self.max_resource, eta)
        self._entropy = seed_entropy(seed)
        self._seen = Seen(space)  # finite spaces: no point is suggested twice
        self._last_new: str | None = None
        self._starved = False
        # bracket b: rungs from r_min * eta**b; Hyperband's share n_s for s = s_max - b
        self._ladders = [
            Rungs(geometric_levels(self.min_resource, eta, self.max_resource, b), eta)
            for b in range(self.brackets)
        ]
        share = np.array(
            [
                math.ceil((s_max + 1) / (s_max - b + 1) * eta ** (s_max - b))
                for b in range(self.brackets)
            ],
            dtype=float,
        )
        self._bracket_cdf = np.cumsum(share / share.sum())
        self._trials: dict[str, _Trial] = {}
        self._pending: dict[str, None] = {}  # running or paused, in start order
        self._paused: list[list[dict[str, None]]] = [
            [{} for _ in ladder.levels] for ladder in self._ladders
        ]

    # -- determinism helpers ----------------------------------------------------------------------

    def _trial_rng(self, trial_id: str, salt: int = 0) -> np.random.Generator:
        """The generator of one trial's random choices (a pure function of seed and id)."""
        return np.random.default_rng([self._entropy, zlib.crc32(trial_id.encode()), salt])

    def bracket_of(self, trial_id: str) -> int:
        """The bracket a trial belongs to (drawn with Hyperband's proportions)."""
        known = self._trials.get(trial_id)
        if known is not None:
            return known.bracket
        u = float(self._trial_rng(trial_id, 1).random())
        b = int(np.searchsorted(self._bracket_cdf, u, side="right"))
        return min(b, self.brackets - 1)

    def _state(self, trial_id: str, params: Mapping[str, Any] | None = None) -> _Trial:
        st = self._trials.get(trial_id)
        if st is None:
            st = _Trial(dict(params or {}), self.bracket_of(trial_id))
            self._trials[trial_id] = st
        elif params and not st.params:
            st.params = dict(params)
        return st

    # -- the searcher (overridden by model-based schedulers) -------------------------------------

    def _new_params(self, trial_id: str, rng: np.random.Generator) -> dict[str, Any] | None:
        """The configuration of a new trial (here: a random draw); None when a finite space has
        no unseen point left."""
        return self._random_params(rng)

    def _random_params(self, rng: np.random.Generator) -> dict[str, Any] | None:
        if not self._seen.finite:
            return self.space.sample(rng)
        return self._seen.fallback(rng)

    def _on_value(self, trial_id: str, level: float, loss: float) -> None:
        """A trial's loss at a resource level (a rung, or ``max_resource`` for a finished
        trial) became known; called once per trial and level. Default: nothing."""

    # -- tuner side -------------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | None:
        """Resumes the best promotable paused trial (promotion type), else starts a new one;
        None when a finite space is used up (and nothing can be promoted now)."""
        if trial_id == self._last_new and trial_id in self._pending:
            # the same id again: the last new trial was never started (the manager's trial
            # budget is spent), so only promotions can still use a slot
            self._pending.pop(trial_id, None)
            self._trials.pop(trial_id, None)
            self._starved = True
        if self.type == "promotion":
            got = self._promote()
            if got is not None:
                return got
        params = self._new_params(trial_id, self._trial_rng(trial_id))
        if params is None:  # a finite space is used up: no new trial will come either
            if self.type == "promotion" and not self._starved:
                self._starved = True
                return self._promote()
            return None
        self._seen.add(params)
        st = self._state(trial_id)
        st.params = params
        self._pending[trial_id] = None
        self._last_new = trial_id
        return dict(params)

    def budget_spent(self) -> None:
        """No new trial will start (the experiment's trial budget is spent): from now on the
        best paused trial of a rung may be promoted even when fewer than ``eta`` values are
        recorded there (the top ``ceil(n / eta)``, as a synchronous bracket would finish), so
        paused trials do not starve. Also inferred when ``suggest`` is asked twice for the same
        trial id."""
        self._starved = True

    def _promote(self) -> Suggestion | None:
        for b, ladder in enumerate(self._ladders):
            for k in range(len(ladder) - 1, -1, -1):
                waiting = self._paused[b][k]
                if not waiting:
                    continue
                tid = ladder.promotable(k, waiting, at_least_one=self._starved)
                if tid is not None:
                    del waiting[tid]
                    st = self._trials[tid]
                    st.paused_at = None
                    log.debug("promoting trial %s out of rung %s", tid, ladder.levels[k])
                    return Suggestion(dict(st.params), resume=tid)
        return None

    def observe(self, result: TrialResult) -> None:
        """Learns from an ended trial: its rung values stay (finished and stopped trials), or
        leave every rung (failed, canceled, timed out)."""
        tid = result.trial_id
        st = self._state(tid, result.params)
        st.ended = True
        if self._seen.finite and result.params:
            self._seen.add(result.params)
        self._pending.pop(tid, None)
        # a trial this scheduler paused or stopped did not train to the end, whatever its status
        # says (a script that reports its final value when asked to stop exits 0)
        cut_short = st.paused_at is not None or st.stopped is not None
        st.cut_short = cut_short or result.status is not TrialStatus.SUCCEEDED
        if st.paused_at is not None:
            self._paused[st.bracket][st.paused_at].pop(tid, None)
            st.paused_at = None
        ladder = self._ladders[st.bracket]
        if result.status not in _KEEP:
            ladder.drop(tid)
            return
        reports = result.reports
        losses = [self.loss(r.value) for r in reports]
        resources = resources_of(
            [r.step for r in reports], len(reports), [r.metrics for r in reports], self.resource
        )
        ladder.record_reached(tid, resources, _finite_or_none(losses))
        for k, level in enumerate(ladder.levels):  # values seen live, and any the replay added
            self._value_known(st, tid, level, ladder.loss_at(k, tid))
        if result.status is TrialStatus.SUCCEEDED and not cut_short:
            self._value_known(st, tid, self.max_resource, self.loss(result.value))

    def restore_paused(self, result: TrialResult) -> None:
        """On a manager resume: a trial the store holds as PAUSED waits again at the highest rung
        it reached (its rung values are recorded as the live run had them)."""
        tid = result.trial_id
        st = self._state(tid, result.params)
        st.ended = False
        self._pending[tid] = None
        ladder = self._ladders[st.bracket]
        reports = result.reports
        losses = _finite_or_none([self.loss(r.value) for r in reports])
        resources = resources_of(
            [r.step for r in reports], len(reports), [r.metrics for r in reports], self.resource
        )
        ladder.record_reached(tid, resources, losses)
        reached = [k for k in range(len(ladder)) if ladder.loss_at(k, tid) is not None]
        for k in reached:
            self._value_known(st, tid, ladder.levels[k], ladder.loss_at(k, tid))
        if reached and self.type == "promotion":
            st.paused_at = reached[-1]
            self._paused[st.bracket][reached[-1]][tid] = None

    def forget(self, trial_id: str) -> None:
        """A lost attempt is started again: its rung values and pause go."""
        st = self._trials.get(trial_id)
        if st is None:
            return
        self._ladders[st.bracket].drop(trial_id)
        if st.paused_at is not None:
            self._paused[st.bracket][st.paused_at].pop(trial_id, None)
        st.paused_at, st.stopped, st.ended = None, None, False
        self._pending[trial_id] = None

    def _value_known(self, st: _Trial, tid: str, level: float, loss: float | None) -> None:
        if loss is None or not math.isfinite(loss) or level in st.levels_seen or not st.params:
            return
        st.levels_seen.add(level)
        self._on_value(tid, level, loss)

    # -- assessor side ----------------------------------------------------------------------------

    def assess(
        self,
        trial_id: str,
        history: Sequence[float],
        steps: Sequence[int] | None = None,
        metrics: Sequence[Mapping[str, Any]] | None = None,
    ) -> Decision:
        """Records the trial at any rung of its bracket it has just reached and judges it there.

        Args:
            trial_id: The running trial.
            history: Its intermediate values so far, in step order.
            steps: Their steps (the resource is ``step + 1``); None counts reports.
            metrics: Each report's extra metrics (needed when ``resource`` names one).
        """
        st = self._state(trial_id)
        if st.stopped is not None:
            return Decision(Verdict.STOP, st.stopped)
        if trial_id not in self._pending and not st.ended:
            self._pending[trial_id] = None
        ladder = self._ladders[st.bracket]
        if not len(ladder):
            return Decision(Verdict.CONTINUE)
        resources = resources_of(steps, len(history), metrics, self.resource)
        losses = _finite_or_none([self.loss(v) for v in history])
        new = ladder.record_reached(trial_id, resources, losses)
        if not new:
            return Decision(Verdict.CONTINUE)
        for k in new:
            self._value_known(st, trial_id, ladder.levels[k], ladder.loss_at(k, trial_id))
        eta = self.reduction_factor
        if self.type == "stopping":
            for k in new:
                if not ladder.in_top(k, trial_id):
                    st.stopped = self._why(ladder, k, trial_id, f"the top 1/{eta}")
                    return Decision(Verdict.STOP, st.stopped)
            return Decision(Verdict.CONTINUE)
        k = new[-1]
        n = ladder.count(k)
        if ladder.promotable(k, [trial_id]) is not None:
            return Decision(Verdict.CONTINUE, f"promoted on arrival at rung {ladder.levels[k]:g}")
        st.paused_at = k
        self._paused[st.bracket][k][trial_id] = None
        return Decision(Verdict.PAUSE, self._why(ladder, k, trial_id, f"the top {n // eta}"))

    def _why(self, ladder: Rungs, k: int, trial_id: str, top: str) -> str:
        loss = ladder.loss_at(k, trial_id)
        value = math.nan if loss is None else (-loss if self.mode == "maximize" else loss)
        return (
            f"value {value:.4g} at rung {ladder.levels[k]:g} is not in {top} of the "
            f"{ladder.count(k)} values recorded there"
        )

    # -- introspection ----------------------------------------------------------------------------

    def rung_values(self) -> list[dict[float, dict[str, float]]]:
        """Per bracket, each rung's values by trial (metric units; a copy)."""
        sign = -1.0 if self.mode == "maximize" else 1.0
        return [
            {lvl: {t: sign * v for t, v in vals.items()} for lvl, vals in lad.snapshot().items()}
            for lad in self._ladders
        ]

    def paused(self) -> list[str]:
        """The trials paused at a rung, waiting for a promotion."""
        return [t for per_b in self._paused for rung in per_b for t in rung]

    @property
    def pending(self) -> list[str]:
        """Trials started and not ended (running or paused), in start order."""
        return list(self._pending)


def _finite_or_none(losses: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in losses]


publish_signature(HyperbandScheduler, HyperbandScheduler.options_type)
