"""Retries of trials lost with their node (``maxTrialRetries``), for the manager.

An executor reports a trial whose node or runner was lost with ``exit_code`` None and a reason
that starts with :data:`~hyperloom.executor.NODE_LOST`. While retries are left, the manager
starts the same trial (same id, sequence and parameters) again instead of recording it FAILED.
The lost attempt is forgotten, not observed: its reports leave the store and the manager's
memory, so the trial's series is that of the attempt that ends it, and neither the tuner nor the
assessor ever sees the lost one. An event ``trial_retry`` keeps what was dropped.
"""

from __future__ import annotations

from typing import Any

from hyperloom._manager_types import RunningTrial
from hyperloom.executor import NODE_LOST

__all__ = ["RETRY_EVENT", "attempts_so_far", "forget_attempt", "is_retriable"]

RETRY_EVENT = "trial_retry"


def is_retriable(rt: RunningTrial, exit_code: int | None, reason: str | None, retries: int) -> bool:
    """Whether a trial's exit is a lost node that may be retried: not stopped by the manager,
    no final value seen (its result is known then), and fewer than ``retries`` retries made."""
    return (
        exit_code is None
        and (reason or "").startswith(NODE_LOST)
        and rt.stop_status is None
        and not rt.final_seen
        and rt.attempt <= retries
    )


def forget_attempt(rt: RunningTrial, store: Any, reason: str | None, t: float) -> None:
    """Records the lost attempt as a ``trial_retry`` event, then clears what it reported (store
    rows and the manager's copy); ``rt.attempt`` counts the new one."""
    store.add_event(
        RETRY_EVENT,
        rt.trial_id,
        {
            "attempt": rt.attempt,
            "reason": (reason or "")[:500],
            "started": rt.started,
            "steps": len(rt.intermediate),
            "last_value": rt.intermediate[-1] if rt.intermediate else None,
        },
        t,
    )
    store.clear_metrics(rt.trial_id)
    rt.attempt += 1
    rt.intermediate.clear()
    rt.seen.clear()
    rt.report_metrics.clear()
    rt.next_step = 0
    rt.final, rt.final_metrics = None, {}
    rt.pids.clear()


def attempts_so_far(store: Any, trial_id: str) -> int:
    """The attempt a re-attached trial is on (1 + its recorded retries)."""
    return 1 + len(store.events(trial_id=trial_id, kind=RETRY_EVENT))
