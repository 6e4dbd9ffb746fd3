"""Helpers shared by the end-to-end experiment tests (local and Ray executors)."""

from __future__ import annotations

import time
from typing import Any

from hyperloom import open_experiment
from hyperloom.errors import HyperloomError


def fixed(**params: Any) -> dict[str, Any]:
    """A space with these fixed values, plus a continuous dummy so that it never runs out."""
    space: dict[str, Any] = {k: {"_type": "choice", "_value": [v]} for k, v in params.items()}
    space["noise"] = {"_type": "uniform", "_value": [0, 1]}
    return space


def wait_for(pred: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    """Polls ``pred`` until it returns something true, and returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def safe_trials(exp_id: str) -> list[Any]:
    """The experiment's trials, or [] while its store does not exist yet."""
    try:
        with open_experiment(exp_id) as view:
            return list(view.trials())
    except HyperloomError:
        return []
