"""The tuner contract."""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
from hyperloom.space import SearchSpace
from hyperloom.types import FINISHED, Suggestion, TrialResult, check_mode

__all__ = ["FINISHED", "Suggestion", "Tuner", "check_mode"]


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

    Args:
        space: The search space.
        mode: "maximize" or "minimize" the final metric.
        seed: Seed for all randomness; the same seed and history give the same suggestions.
    """

    def __init__(
        self, space: SearchSpace, *, mode: str = "maximize", seed: int | None = None
    ) -> None:
        self.space = space
        self.mode = check_mode(mode)
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
