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
