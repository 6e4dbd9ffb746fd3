"""The assessor contract."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

from hyperloom.types import Decision, TrialResult, Verdict, check_mode

__all__ = ["Assessor", "Decision", "Verdict"]


class Assessor(abc.ABC):
    """Decides whether a running trial should stop early.

    Call order and guarantees:

    * ``assess(trial_id, history)`` is called after each intermediate report of a running trial,
      with that trial's whole history so far (values in step order; it only grows between calls,
      and may contain NaN for a value the manager could not use). It returns ``Verdict.STOP`` to
      stop the trial, ``Verdict.CONTINUE`` otherwise. It must be fast (milliseconds).
    * ``observe(result)`` is called once for every ended trial. Only results with status
      SUCCEEDED should teach the rule; failed, stopped or canceled trials must not poison it.
    * An assessor never sees the manager, the store or a process.
    * On resume, ``observe()`` is replayed for every ended trial in order.

    Args:
        mode: "maximize" or "minimize" the metric.
    """

    def __init__(self, *, mode: str = "maximize") -> None:
        self.mode = check_mode(mode)
        self.last_reason: str = ""

    @abc.abstractmethod
    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict | Decision:
        """Judges a running trial from its intermediate values so far."""

    def observe(self, result: TrialResult) -> None:  # noqa: B027
        """A trial ended. Default: ignored."""

    def forget(self, trial_id: str) -> None:  # noqa: B027
        """A lost attempt of this trial is started again: forget its reports. Default: no-op."""

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` in this assessor's mode."""
        return a > b if self.mode == "maximize" else a < b

    @staticmethod
    def clean(history: Sequence[float | None]) -> list[float]:
        """The finite values of a history (NaN, inf and None dropped)."""
        return [float(v) for v in history if v is not None and math.isfinite(v)]
