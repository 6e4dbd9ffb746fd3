"""Trial functions for the hyperloom.optimize tests (importable: subprocess mode and CLI resume
import them by name)."""

from __future__ import annotations

import os
import time
from typing import Any


def quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 2.0) ** 2


def curve(params: dict[str, Any], trial: Any) -> float:
    """Reports 6 steps rising to x; stops early when asked; returns the last value."""
    v = 0.0
    for step in range(6):
        v = params["x"] * (step + 1) / 6
        trial.report(v, step)
        if trial.should_stop():
            return v
    return v


def fails_when_big(params: dict[str, Any]) -> float:
    if params["x"] > 0.5:
        raise ValueError(f"x={params['x']:.3f} is too big")
    return params["x"]


def two_objectives(params: dict[str, Any]) -> dict[str, Any]:
    x = params["x"]
    return {"acc": x, "cost": x * x, "pid": os.getpid(), "note": "extra"}


def two_objectives_tuple(params: dict[str, Any]) -> tuple[float, float]:
    x = params["x"]
    return (x, (1 - x) ** 2)


def slow(params: dict[str, Any], trial: Any) -> float:
    """Takes about 3 s unless stopped; reports every 0.05 s."""
    for step in range(60):
        if trial.should_stop():
            break
        time.sleep(0.05)
        trial.report(params["x"], step)
    return float(params["x"])


def with_pid(params: dict[str, Any], trial: Any) -> dict[str, Any]:
    trial.report(params["x"] / 2, 0)
    return {"default": params["x"], "pid": os.getpid(), "trial": trial.trial_id}
