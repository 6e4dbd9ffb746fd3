"""Plugins for ``replay_sim.py``: a tuner that plays a fixed order of table rows, and Optuna's
pruners behind hyperloom's assessor interface (so they run in the real manager loop too).

Loaded by class path (``_sim_plugins:OrderTuner``) with this folder on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hyperloom.assessors._base import Assessor
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import FINISHED, TrialResult, TrialStatus, Verdict


class OrderTuner(Tuner):
    """Suggests ``{"config": i}`` for the rows ``0..n-1`` in the random order
    ``np.random.default_rng(order_seed).permutation(n)`` (the order ``replay.py`` plays), then
    FINISHED. Learns nothing: the assessor alone decides what is trained."""

    inline_calls = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        n: int = 0,
        order_seed: int = 0,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        self.order = [int(i) for i in np.random.default_rng(order_seed).permutation(n)]
        self.given: dict[str, int] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | object:
        if trial_id not in self.given:
            if len(self.given) >= len(self.order):
                return FINISHED
            self.given[trial_id] = self.order[len(self.given)]
        return {"config": self.given[trial_id]}

    def observe(self, result: TrialResult) -> None:
        del result


class OptunaPrunerAssessor(Assessor):
    """One of Optuna's pruners (``pruner``: MedianPruner, SuccessiveHalvingPruner or
    HyperbandPruner, at Optuna's defaults) judging hyperloom's trials: each trial is an Optuna
    trial of an in-memory study (ask at its first report, ``report(value, step=len(history))``
    and ``should_prune()`` after each report, ``tell`` when it ends)."""

    def __init__(self, *, mode: str = "maximize", pruner: str = "MedianPruner") -> None:
        super().__init__(mode=mode)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        made = {
            "MedianPruner": optuna.pruners.MedianPruner,
            "SuccessiveHalvingPruner": optuna.pruners.SuccessiveHalvingPruner,
            "HyperbandPruner": optuna.pruners.HyperbandPruner,
        }[pruner]()
        self.study = optuna.create_study(direction=mode, pruner=made)
        self.trials: dict[str, Any] = {}
        self._next = 1  # the next manager trial id (T0001, ...) to ask a trial for
        self._ended: set[str] = set()

    def _trial(self, trial_id: str) -> Any:
        """The Optuna trial of ``trial_id``. The manager's ids are ``T0001``, ``T0002``, ... in
        start order; trials are asked in that order (every lower id first), so Optuna numbers
        them as they started, as ``replay.py`` does (HyperbandPruner picks a trial's bracket
        from its number), whatever order their first reports arrive in."""
        trial = self.trials.get(trial_id)
        if trial is not None:
            return trial
        seq = int(trial_id[1:]) if trial_id[:1] == "T" and trial_id[1:].isdigit() else None
        if seq is None:
            trial = self.trials[trial_id] = self.study.ask()
            return trial
        while self._next <= seq:
            tid = f"T{self._next:04d}"
            self._next += 1
            if tid not in self.trials and tid not in self._ended:
                self.trials[tid] = self.study.ask()
        return self.trials[trial_id]

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        trial = self._trial(trial_id)
        trial.report(float(history[-1]), step=len(history))
        return Verdict.STOP if trial.should_prune() else Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        import optuna

        self._ended.add(result.trial_id)
        trial = self.trials.pop(result.trial_id, None)
        if trial is None:
            return
        if result.status is TrialStatus.SUCCEEDED and result.value is not None:
            self.study.tell(trial, float(result.value))
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
