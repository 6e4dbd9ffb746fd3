"""Size and cost of a network: parameter count and a FLOPs estimate. Imports torch lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["count_parameters", "estimate_flops"]


def count_parameters(model: Any) -> int:
    """The number of trainable parameters of a ``torch.nn.Module``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def estimate_flops(model: Any, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one input of ``input_shape`` (C, H, W).

    Counts convolutions (``out_elements * in_channels / groups * kernel area``) and linear layers
    (``in_features * out_features``), the terms that dominate; batch norm, activations, pools and
    additions are left out, as is usual when papers quote "FLOPs" for cells. The model is run
    once in eval mode on zeros, then put back in the mode it was in.
    """
    import torch
    from torch import nn

    total = 0

    def conv_hook(mod: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += int(out.numel()) * (mod.in_channels // mod.groups) * kh * kw

    def linear_hook(mod: nn.Linear, inp: Any, _out: torch.Tensor) -> None:
        nonlocal total
        rows = int(inp[0].numel()) // mod.in_features
        total += rows * mod.in_features * mod.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total
