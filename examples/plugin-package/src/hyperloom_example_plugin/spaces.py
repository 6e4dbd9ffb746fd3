"""A parameterized search space: a small MLP's architecture and training settings."""

from __future__ import annotations

from typing import Any


def mlp_space(max_layers: int = 3, max_width: int = 256, tune_lr: bool = True) -> dict[str, Any]:
    """An NNI-format space for an MLP.

    Args:
        max_layers: The most hidden layers (at least 1).
        max_width: The widest layer, a power of two (at least 16).
        tune_lr: Whether to search the learning rate too.

    Raises:
        ValueError: An option is out of range (hyperloom names the option in its error).
    """
    if not isinstance(max_layers, int) or max_layers < 1:
        raise ValueError(f"max_layers must be an int >= 1, got {max_layers!r}")
    if not isinstance(max_width, int) or max_width < 16 or max_width & (max_width - 1):
        raise ValueError(f"max_width must be a power of two >= 16, got {max_width!r}")
    space: dict[str, Any] = {
        "layers": {"_type": "randint", "_value": [1, max_layers + 1]},
        "width": {"_type": "pow2", "_value": [16, max_width]},
        "activation": {"_type": "choice", "_value": ["relu", "tanh"]},
    }
    if tune_lr:
        space["lr"] = {"_type": "loguniform", "_value": [1e-4, 1e-1]}
    return space
