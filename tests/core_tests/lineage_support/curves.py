"""Curves for the simulate executor in the lineage tests."""

from __future__ import annotations

from typing import Any


def linear(params: dict[str, Any], step: int) -> tuple[float, float]:
    """A running sum of x + 1 per step, one virtual second each."""
    return (float(params["x"]) + 1.0) * (step + 1), 1.0


def with_size(params: dict[str, Any], step: int) -> tuple[float, float, dict[str, Any]]:
    """Like linear, with a model size metric (missing for x == 3)."""
    extra = {} if params["x"] == 3 else {"size": params["x"] * 10}
    return (float(params["x"]) + 1.0) * (step + 1), 1.0, extra


def tradeoff(params: dict[str, Any], step: int) -> tuple[float, float, dict[str, Any]]:
    """acc grows with x; size grows with x (x=4 is dominated: bigger than x=5 and less accurate)."""
    x = int(params["x"])
    acc = {0: 0.5, 1: 0.6, 2: 0.7, 3: 0.8, 4: 0.75, 5: 0.9}[x] * (step + 1) / 3
    size = x * 10 + (50 if x == 4 else 0)
    return acc, 1.0, {"size": size}


def x_matters(params: dict[str, Any], step: int) -> tuple[float, float]:
    """The final value depends on x only; y is noise-free and irrelevant."""
    return -((float(params["x"]) - 0.3) ** 2) * (step + 1), 1.0
