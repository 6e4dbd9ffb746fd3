"""Curves for the simulate executor: easy to check from the parameters alone."""

from __future__ import annotations

from typing import Any


def linear(params: dict[str, Any], step: int) -> tuple[float, float]:
    """``(x + 1) * (step + 1) / 10``, one virtual second a step."""
    return (float(params["x"]) + 1.0) * (step + 1) / 10.0, 1.0


def tradeoff(params: dict[str, Any], step: int) -> tuple[float, float, dict[str, Any]]:
    """Accuracy and size both grow with x; x = 4 is much bigger than its neighbours."""
    x = int(params["x"])
    acc = (0.5 + 0.08 * x) * (step + 1) / 3
    return acc, 1.0, {"size": x * 10 + (50 if x == 4 else 0)}
