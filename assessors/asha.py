"""Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020), in its stopping form.

Rungs sit at ``min_resource * reduction_factor**k`` steps (``k >= min_early_stopping_rate``),
below ``max_resource``. When a trial reaches a rung, its value there is recorded and compared with
every value recorded at that rung so far, by any trial: it goes on when it is in the top
``1 / reduction_factor`` of them and stops otherwise. Nobody waits for anybody.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hyperloom.assessors._base import Assessor
from hyperloom.assessors._rungs import Rungs, geometric_levels, resources_of
from hyperloom.errors import PluginError
from hyperloom.types import TrialResult, TrialStatus, Verdict

__all__ = ["ASHAAssessor"]

log = logging.getLogger(__name__)


def _positive_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PluginError(
            f"asha: {name} must be an integer >= {minimum}, got {value!r}; fix classArgs.{name}"
        )
    return value


class ASHAAssessor(Assessor):
    """Stops a trial at a rung unless it is in the top ``1 / reduction_factor`` there.

    A rung's reference set is every value recorded at that rung, including those of trials that
    were stopped later (that is what ranks a rung in ASHA; a stopped trial's values at the rungs
    it reached are full observations, not truncated ones). The value of a trial at a rung is its
    report at that step (the last finite report before it when that one is NaN). A rung with
    fewer than ``reduction_factor`` values stops nobody, so the first trials are never stopped by
    chance of order. Once a trial is stopped at a rung, later calls for it answer STOP again.
    The rung rules live in :mod:`hyperloom.assessors._rungs`, shared with the schedulers
    (``hyperband``, ``bohb``, ``asha_gp``).

    ``observe()`` rebuilds the rungs on resume: SUCCEEDED and EARLY_STOPPED trials add the values
    they reported at the rungs they reached (idempotent), while FAILED, CANCELED and TIMEOUT
    trials are taken out of every rung, so a crashed run never sets the bar.

    Args:
        mode: "maximize" or "minimize" the metric.
        min_resource: Steps (reports) before the first rung.
        reduction_factor: Keep the top 1/reduction_factor at each rung (>= 2).
        min_early_stopping_rate: Skip this many of the lowest rungs.
        max_resource: Steps of a full trial; no rung is placed at or beyond it. None: no limit.
    """

    def __init__(
        self,
        *,
        mode: str = "maximize",
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        max_resource: int | None = None,
    ) -> None:
        super().__init__(mode=mode)
        self.min_resource = _positive_int("min_resource", min_resource, 1)
        self.reduction_factor = _positive_int("reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = _positive_int(
            "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        if self.min_early_stopping_rate > 100:  # reduction_factor ** rate: a huge number
            raise PluginError(
                "asha: min_early_stopping_rate must be an integer in [0, 100], "
                f"got {min_early_stopping_rate!r}"
            )
        if max_resource is not None:
            _positive_int("max_resource", max_resource, 1)
            if self.min_resource > max_resource:
                raise PluginError(
                    f"asha: min_resource ({min_resource!r}) must not exceed max_resource "
                    f"({max_resource!r}); no rung would fit below max_resource"
                )
        self.max_resource = max_resource
        levels = geometric_levels(
            self.min_resource, self.reduction_factor, max_resource, self.min_early_stopping_rate
        )
        self.rungs: tuple[int, ...] = tuple(int(r) for r in levels)
        self._rungs = Rungs(self.rungs, self.reduction_factor)
        self._stopped: dict[str, str] = {}

    @property
    def start_step(self) -> int:
        """The first step at which a trial may be stopped (the lowest rung)."""
        return self.rungs[0] if self.rungs else (self.max_resource or 1)

    def rung_values(self) -> dict[int, dict[str, float]]:
        """The values recorded at each rung, by trial (a copy; in the metric's own units)."""
        sign = -1.0 if self.mode == "maximize" else 1.0
        return {
            int(lvl): {t: sign * v for t, v in vals.items()}
            for lvl, vals in self._rungs.snapshot().items()
        }

    def _record(self, trial_id: str, history: Sequence[float | None]) -> list[int]:
        """Records the trial's values at every rung it has reached; returns the new rungs."""
        sign = -1.0 if self.mode == "maximize" else 1.0
        losses = [None if v is None else sign * v for v in history]
        return self._rungs.record_reached(trial_id, resources_of(None, len(history)), losses)

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        """Records the trial at any rung it has just reached and judges it there."""
        if trial_id in self._stopped:
            self.last_reason = self._stopped[trial_id]
            return Verdict.STOP
        for k in self._record(trial_id, history):
            if not self._rungs.in_top(k, trial_id):
                n = self._rungs.count(k)
                loss = self._rungs.loss_at(k, trial_id) or 0.0
                value = -loss if self.mode == "maximize" else loss
                self.last_reason = (
                    f"value {value:.4g} at rung {self.rungs[k]} is not in the top "
                    f"1/{self.reduction_factor} of the {n} values recorded there"
                )
                self._stopped[trial_id] = self.last_reason
                log.debug("trial %s: stop: %s", trial_id, self.last_reason)
                return Verdict.STOP
        return Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        """Rebuilds rung values from ended trials; drops failed, canceled and timed-out ones."""
        if result.status in (TrialStatus.SUCCEEDED, TrialStatus.EARLY_STOPPED):
            self._record(result.trial_id, result.intermediate)
        else:
            self._rungs.drop(result.trial_id)
        self._stopped.pop(result.trial_id, None)
