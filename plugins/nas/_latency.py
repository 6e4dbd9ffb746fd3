"""Inference latency on the model's own device, and a ProxylessNAS-style expected latency of a
supernet's mixed ops. Imports torch.

:func:`measure_latency` times whole networks (batch size 1 by default: the latency a deployed
model sees): warm-up runs, then the median of ``runs`` timed forward passes, with a device
synchronisation around each timed pass on CUDA. :func:`op_latency_table` times every candidate op
of a supernet alone on the input it receives there, and :func:`expected_latency` turns the table
into a differentiable expectation under the softmax of the alphas (Cai et al., ProxylessNAS:
``E[lat] = sum_op p(op) * lat(op)`` per edge, summed over edges), which DARTS adds to its loss.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from hyperloom.plugins.nas._supernet import Supernet
from torch import nn

__all__ = ["expected_latency", "measure_latency", "op_latency_table"]


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Any, device: torch.device, warmup: int, runs: int) -> list[float]:
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        _sync(device)
        out = []
        for _ in range(runs):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            out.append((time.perf_counter() - t0) * 1000.0)
    return out


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    batch_size: int = 1,
    warmup: int = 10,
    runs: int = 50,
    arch: Any = None,
) -> dict[str, Any]:
    """Inference latency of ``model`` on the device its parameters live on.

    Args:
        model: The network (a :class:`Supernet` path when ``arch`` is given).
        input_shape: ``(channels, height, width)`` of one input.
        batch_size: Inputs per forward pass.
        warmup: Untimed passes first (allocator, kernels, caches).
        runs: Timed passes; the median is reported.
        arch: For a supernet, the path to time.

    Returns:
        ``{"latency_ms": median, "latency_p90_ms": ..., "device": "cpu" | "cuda:0" | ...,
        "batch_size": ..., "runs": ...}``.
    """
    if runs < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("measure_latency: runs and batch_size must be >= 1, warmup >= 0")
    device = _device_of(model)
    x = torch.zeros((batch_size, *[int(d) for d in input_shape]), device=device)
    was = model.training
    model.eval()
    try:
        times = _time(
            (lambda: model(x, arch)) if arch is not None else (lambda: model(x)),
            device,
            warmup,
            runs,
        )
    finally:
        model.train(was)
    ordered = sorted(times)
    return {
        "latency_ms": statistics.median(times),
        "latency_p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "device": str(device),
        "batch_size": batch_size,
        "runs": runs,
    }


def op_latency_table(
    supernet: Supernet, *, warmup: int = 3, runs: int = 15, batch_size: int = 1
) -> dict[tuple[int, int, int], float]:
    """Milliseconds of every candidate op, alone, on the input it gets in the supernet.

    Keys are ``(position, stride, op_index)``: the cell index (cell supernets) or layer index
    (chain supernets), the op's stride, and the op's index in ``supernet.ops``. The supernet's
    input shapes are found with one mixed forward pass at ``batch_size``.
    """
    device = _device_of(supernet)
    shapes: dict[int, tuple[int, ...]] = {}
    hooks = []
    ops_at: list[tuple[tuple[int, int, int], nn.Module]] = []
    if supernet.kind == "cell":
        for pos, cell in enumerate(supernet.super_cells()):
            for k in range(cell.num_nodes):
                for src in range(k + 2):
                    stride = 2 if cell.reduction and src < 2 else 1
                    for o in range(len(supernet.ops)):
                        ops_at.append(((pos, stride, o), cell.op(k, src, o)))
    else:
        for pos in range(supernet.max_depth):
            for o, mod in enumerate(supernet.layer_ops(pos)):
                ops_at.append(((pos, 1, o), mod))
    first: dict[tuple[int, int, int], nn.Module] = {}
    for key, mod in ops_at:
        first.setdefault(key, mod)

    def hook(mod: nn.Module, inp: Any, _out: Any) -> None:
        shapes.setdefault(id(mod), tuple(inp[0].shape))

    for mod in first.values():
        hooks.append(mod.register_forward_hook(hook))
    was = supernet.training
    supernet.eval()
    try:
        with torch.no_grad():
            supernet(torch.zeros((batch_size, *supernet.input_shape), device=device))
    finally:
        for h in hooks:
            h.remove()
        supernet.train(was)
    table: dict[tuple[int, int, int], float] = {}
    for key, mod in first.items():
        x = torch.zeros(shapes[id(mod)], device=device)
        mod.eval()
        table[key] = statistics.median(_time(lambda m=mod, x=x: m(x), device, warmup, runs))
    supernet.train(was)
    return table


def expected_latency(supernet: Supernet, table: dict[tuple[int, int, int], float]) -> torch.Tensor:
    """The expected latency (ms, summed over edges) of the mixed supernet under the softmax of
    its alphas; differentiable in the alphas. Stem, pre-processing and head are constant and left
    out."""
    w = supernet.softmax()
    device = supernet.arch_parameters()[0].device
    n_ops = len(supernet.ops)

    def row(pos: int, stride: int) -> torch.Tensor:
        return torch.tensor([table[(pos, stride, o)] for o in range(n_ops)], device=device)

    total = torch.zeros((), device=device)
    if supernet.kind == "cell":
        for pos, cell in enumerate(supernet.super_cells()):
            p = cell.prefix
            lat = {s: row(pos, s) for s in ((1, 2) if cell.reduction else (1,))}
            for k in range(cell.num_nodes):
                for j in (0, 1):
                    w_in, w_op = w[f"{p}_n{k}_in{j}"], w[f"{p}_n{k}_op{j}"]
                    for src in range(k + 2):
                        s = 2 if cell.reduction and src < 2 else 1
                        total = total + w_in[src] * (w_op * lat[s]).sum()
        return total
    depths = [int(d) for d in supernet.decisions["depth"]]
    for i in range(supernet.max_depth):
        used = sum(w["depth"][d] for d, depth in enumerate(depths) if depth > i)
        total = total + used * (w[f"layer{i}_op"] * row(i, 1)).sum()
    return total
