"""The tuner contract."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from hyperloom.space import SearchSpace
from hyperloom.types import (
    FINISHED,
    Objective,
    Suggestion,
    TrialResult,
    TrialStatus,
    check_mode,
    deepest_step,
)

__all__ = [
    "FINISHED",
    "Objective",
    "Suggestion",
    "Tuner",
    "check_mode",
    "constrained_rank_key",
    "rank_key",
]

_STOPPED = (TrialStatus.EARLY_STOPPED, TrialStatus.TIMEOUT, TrialStatus.CANCELED)


def rank_key(result: TrialResult, loss: float) -> tuple[int, float, float]:
    """The one rule that orders ended trials for a tuner, best first (sort ascending).

    Finished trials come first, by loss; then trials stopped early that reached a value, by the
    deepest step they reached (deeper first), then by their loss there (as Optuna ranks pruned
    trials); then everything without a usable value. ``loss`` is the trial's value as a loss
    (see :meth:`Tuner.loss`).
    """
    if not math.isfinite(loss):
        return (2, 0.0, 0.0)
    if result.status in _STOPPED:
        return (1, -float(deepest_step(result)), loss)
    return (0, 0.0, loss)


def constrained_rank_key(
    result: TrialResult, loss: float, violation: float
) -> tuple[int, float, float]:
    """:func:`rank_key` for trials that meet their constraints (``violation`` 0), then the
    infeasible ones by violation, then those without a value (sort ascending)."""
    if not math.isfinite(loss):
        return (3, 0.0, 0.0)
    if violation > 0:
        return (2, violation, loss)
    return rank_key(result, loss)


class Tuner(abc.ABC):
    """Suggests parameter sets and learns from ended trials.

    Call order and guarantees:

    * ``suggest(trial_id)`` is called once per new trial, from the manager's event loop. It returns
      a point of the space (a dict, or a :class:`~hyperloom.types.Suggestion` with a ``parent``
      to warm-start from or a PAUSED trial to ``resume``), ``None`` for "not now: ask again after
      the next event", or :data:`~hyperloom.types.FINISHED` when the search is exhausted. A v1
      tuner's ``None`` while no trial runs ends the experiment too (nothing can change its mind).
      It must be fast (milliseconds);
      expensive fits go ahead of time or to a worker thread, and results never depend on timing.
    * ``report(trial_id, step, value)`` may be called for intermediate results (default: ignored).
    * ``observe(result)`` is called exactly once for every ended trial, in the order the trials
      ended, failed ones included (``result.value`` is None then).
    * On resume, a fresh tuner with the same seed gets ``observe()`` for every ended trial in the
      original order, then ``suggest()`` again. A tuner keeps no state that this replay cannot
      rebuild, so resume is deterministic.
    * Suggestions for trials that never end (the experiment stopped) are simply forgotten.

    * Stopped trials (EARLY_STOPPED, TIMEOUT) carry the value they reached; order them with
      :func:`rank_key` (deepest step first, then value) rather than treating them as failures.

    Multi-objective: a tuner that can search several objectives sets the class attribute
    ``multi_objective = True`` and accepts ``objectives`` (a sequence of
    :class:`~hyperloom.types.Objective`); ``result.values`` then holds one value per objective.
    The manager refuses a multi-objective experiment for any other tuner at config check, and
    passes ``objectives`` only to tuners that declare it.

    Cheap tuners (``random``, ``grid``) set ``inline_calls = True``: the manager then calls their
    ``suggest`` and ``observe`` on its loop instead of in a worker thread (a thread hop per call
    costs more than they do). Leave it False for anything that may fit a model.

    Args:
        space: The search space.
        mode: "maximize" or "minimize" the final metric (the first objective's mode).
        objectives: The objectives, when there are several (``mode`` is then ignored).
        seed: Seed for all randomness; the same seed and history give the same suggestions.
    """

    multi_objective: ClassVar[bool] = False
    inline_calls: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
    ) -> None:
        self.space = space
        objs = tuple(objectives or ())
        if len(objs) > 1 and not self.multi_objective:
            from hyperloom.errors import UsageError

            raise UsageError(
                f"{type(self).__name__} optimizes one objective; this experiment has "
                f"{len(objs)} ({', '.join(o.name for o in objs)}). Use a multi-objective tuner "
                f"(random, grid, tpe, evolution, gp) or keep one objective"
            )
        self.mode = objs[0].mode if objs else check_mode(mode)
        self.objectives: tuple[Objective, ...] = objs or (Objective("default", self.mode),)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abc.abstractmethod
    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | object | None:
        """Returns the parameters for a new trial, None for "not now", or FINISHED."""

    @abc.abstractmethod
    def observe(self, result: TrialResult) -> None:
        """Learns from an ended trial (failed ones included, with ``value`` None)."""

    def report(self, trial_id: str, step: int, value: float) -> None:  # noqa: B027
        """An intermediate result of a running trial. Optional; ignored by default."""

    def forget(self, trial_id: str) -> None:  # noqa: B027
        """A lost attempt of this trial is started again: forget its reports. Default: no-op."""

    def loss(self, value: float | None) -> float:
        """The value turned into a loss to minimize (``inf`` for a missing or NaN value)."""
        if value is None or not math.isfinite(value):
            return math.inf
        return float(value) if self.mode == "minimize" else -float(value)

    def losses(self, result: TrialResult) -> tuple[float, ...] | None:
        """The result's values as losses to minimize, one per objective (None when missing)."""
        vals = result.values
        if vals is None or len(vals) < len(self.objectives):
            return None
        out = []
        for v, obj in zip(vals, self.objectives, strict=False):
            if v is None or not math.isfinite(v):
                return None
            out.append(float(v) if obj.mode == "minimize" else -float(v))
        return tuple(out)
