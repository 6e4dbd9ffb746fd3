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


def lr_drift(params: dict[str, Any], step: int) -> tuple[float, float]:
    """A curve whose best learning rate falls as training goes on (PBT follows it)."""
    import math

    target = -1.5 - step / 12
    q = math.exp(-((math.log10(float(params["lr"])) - target) ** 2))
    return 0.5 + 0.45 * q * (1 - math.exp(-(step + 1) / 6)), 1.0


def accuracy_latency(params: dict[str, Any], step: int) -> tuple[float, float, dict[str, Any]]:
    """Bigger networks are more accurate and slower; ``params`` and ``energy`` as metrics."""
    import math

    w, d = int(params["width"]), int(params["depth"])
    size = w * w * d
    acc = 0.6 + 0.35 * (1 - math.exp(-size / 60000)) - 0.02 * ((w * 7919 + d) % 5) / 5
    lat = 0.5 + size / 20000 + ((w * 31 + d * 17) % 13) / 8
    energy = lat * (0.6 + ((w + 3 * d) % 9) / 10)
    extra = {"latency_ms": lat, "params": float(size), "energy": energy}
    return acc * (step + 1) / 5, 1.0, extra
