"""A toy training run whose best learning rate changes over time, so schedules beat constants.

State: an accuracy ``acc`` in [0, 1). The best learning rate at a given accuracy is
``opt(acc) = 0.3 (1 - acc)^2``: large at first, a hundred times smaller near convergence. A step
gains ``0.06 (1 - acc)`` times a Gaussian bump in ``log10(lr / opt)`` (width 0.35 decades); a
learning rate more than 4x too large loses accuracy instead (instability). ``wd`` (weight decay)
helps late and hurts early, a second schedule. The reported value is ``acc`` plus measurement
noise, so rankings are noisy as with real validation sets.

The same function is every method's trial (hyperloom PBT, Ray Tune PBT, random search, fixed
grid), so the comparison is on the same script and the same total number of steps.
"""

from __future__ import annotations

import math

import numpy as np

SPACE = {
    "lr": {"_type": "loguniform", "_value": [1e-4, 1.0]},
    "wd": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
}
STEPS = 100  # steps of one full training run


def opt_lr(acc: float) -> float:
    """The best learning rate at accuracy ``acc``."""
    return 0.3 * (1.0 - acc) ** 2 + 1e-4


def opt_wd(acc: float) -> float:
    """The best weight decay at accuracy ``acc`` (grows as the model fits)."""
    return 1e-4 * 10 ** (2.5 * acc)


def step(acc: float, lr: float, wd: float) -> float:
    """One training step: the new (noise-free) accuracy."""
    d = math.log10(lr / opt_lr(acc))
    gain = 0.06 * (1.0 - acc) * math.exp(-(d**2) / (2 * 0.35**2))
    if d > math.log10(4.0):
        gain -= 0.03 * (d - math.log10(4.0))
    dw = math.log10(wd / opt_wd(acc))
    gain *= math.exp(-(dw**2) / (2 * 1.0**2))
    return float(min(max(acc + gain, 0.0), 0.999))


def measure(acc: float, rng: np.random.Generator) -> float:
    """The reported (noisy) value of a true accuracy."""
    return float(acc + rng.normal(0.0, 0.004))


def run_fixed(lr: float, wd: float, steps: int = STEPS) -> float:
    """The final accuracy of a run with constant hyperparameters."""
    acc = 0.0
    for _ in range(steps):
        acc = step(acc, lr, wd)
    return acc
