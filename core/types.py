"""Value types shared by the manager, tuners and assessors."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialResult", "TrialStatus", "Verdict"]


class TrialStatus(enum.Enum):
    """The life cycle of a trial. The last five are final."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EARLY_STOPPED = "EARLY_STOPPED"
    CANCELED = "CANCELED"
    TIMEOUT = "TIMEOUT"

    @property
    def is_final(self) -> bool:
        return self not in (TrialStatus.WAITING, TrialStatus.RUNNING)


class Verdict(enum.Enum):
    """An assessor's decision about a running trial."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"


@dataclass(frozen=True)
class TrialResult:
    """An ended trial, as tuners and assessors see it.

    Attributes:
        trial_id: The trial's id.
        params: The parameters the trial ran with.
        status: How it ended.
        value: The final metric, or None when the trial reported none (failed, stopped, ...).
        intermediate: The intermediate metric values, in step order.
        sequence: The trial's sequence number in its experiment (0 when unknown).
        metrics: Extra named metrics given with the final report.
    """

    trial_id: str
    params: dict[str, Any]
    status: TrialStatus
    value: float | None
    intermediate: tuple[float, ...] = ()
    sequence: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
