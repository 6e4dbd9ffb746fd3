"""Networks built from sampled architectures. Imports torch: only import this lazily."""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from hyperloom.errors import SearchSpaceError
from hyperloom.plugins.nas._ops import FactorizedReduce, ReLUConvBN, make_op
from hyperloom.plugins.nas._spaces import KNOWN_OPS
from hyperloom.plugins.nas._stats import count_parameters, estimate_flops
from torch import nn

__all__ = ["CellNetwork", "ChainNetwork", "NASNetwork", "build_model"]

_CELL_KEY = re.compile(r"^(normal|reduce)_n(\d+)_(in|op)([01])$")
Shape = tuple[int, int, int]


def _int(value: Any) -> int | None:
    """``value`` as an int when it is an integer (numpy ones included, bools not), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


class NASNetwork(nn.Module):
    """Base of the built networks: remembers its architecture and input shape, and reports its
    size and cost."""

    arch: dict[str, Any]
    input_shape: Shape

    def num_parameters(self) -> int:
        """The number of trainable parameters."""
        return int(count_parameters(self))

    def flops(self) -> int:
        """Multiply-accumulates of one forward pass on one input (convolutions and linear layers)."""
        return int(estimate_flops(self, self.input_shape))


# ---------------------------------------------------------------------------------------------
# micro (cell) networks

Genotype = list[tuple[tuple[int, str], tuple[int, str]]]


def _genotype(arch: Mapping[str, Any], prefix: str) -> Genotype:
    nodes = sorted(
        {int(m.group(2)) for k in arch if (m := _CELL_KEY.match(k)) and m.group(1) == prefix}
    )
    if nodes != list(range(len(nodes))) or not nodes:
        raise SearchSpaceError(
            f"architecture: {prefix} cell nodes must be numbered 0..N-1, got {nodes}"
        )
    out: Genotype = []
    for k in nodes:
        edges = []
        for j in (0, 1):
            kin, kop = f"{prefix}_n{k}_in{j}", f"{prefix}_n{k}_op{j}"
            if kin not in arch or kop not in arch:
                raise SearchSpaceError(
                    f"architecture: missing key {kin if kin not in arch else kop!r}"
                )
            src, op = _int(arch[kin]), arch[kop]
            if src is None or not 0 <= src < k + 2:
                raise SearchSpaceError(
                    f"architecture: {kin} must be an input id in [0, {k + 1}], got {arch[kin]!r}"
                )
            if op not in KNOWN_OPS:
                raise SearchSpaceError(f"architecture: {kop}: unknown op {op!r}")
            edges.append((src, str(op)))
        out.append((edges[0], edges[1]))
    return out


class _Cell(nn.Module):
    def __init__(
        self, genotype: Genotype, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.pre0: nn.Module = (
            FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
        )
        self.pre1 = ReLUConvBN(c_p, c, 1)
        self.genotype = genotype
        self.edges = nn.ModuleList()
        for edge_pair in genotype:
            for src, op in edge_pair:
                stride = 2 if reduction and src < 2 else 1
                self.edges.append(make_op(op, c, c, stride))
        self.multiplier = len(genotype)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for k, ((src0, _), (src1, _)) in enumerate(self.genotype):
            states.append(self.edges[2 * k](states[src0]) + self.edges[2 * k + 1](states[src1]))
        return torch.cat(states[2:], dim=1)


def _reduce_positions(layers: int) -> set[int]:
    if layers >= 3:
        return {layers // 3, 2 * layers // 3}
    return {1} if layers == 2 else set()


class CellNetwork(NASNetwork):
    """A stem, ``layers`` stacked cells (reduction cells double the channels and halve the
    resolution) and a classifier on globally pooled features."""

    def __init__(
        self,
        arch: Mapping[str, Any],
        input_shape: Shape,
        num_classes: int,
        channels: int = 16,
        layers: int = 3,
        stem_multiplier: int = 2,
        reduce_at: Sequence[int] | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.arch = dict(arch)
        self.input_shape = input_shape
        normal = _genotype(arch, "normal")
        has_reduce = any(k.startswith("reduce_n") for k in arch)
        reduce = _genotype(arch, "reduce") if has_reduce else normal
        positions = set(reduce_at) if reduce_at is not None else _reduce_positions(layers)
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, c = c_stem, c_stem, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in positions
            if reduction:
                c *= 2
            cell = _Cell(reduce if reduction else normal, c_pp, c_p, c, reduction, reduction_prev)
            self.cells.append(cell)
            c_pp, c_p = c_p, cell.multiplier * c
            reduction_prev = reduction
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_p, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        out: torch.Tensor = self.head(s1)
        return out


# ---------------------------------------------------------------------------------------------
# macro (chain) networks


def _chain_layers(arch: Mapping[str, Any], width: int) -> list[tuple[str, int, int]]:
    depth = _int(arch.get("depth"))
    if depth is None or depth < 1:
        raise SearchSpaceError(
            f"architecture: 'depth' must be a positive int, got {arch.get('depth')!r}"
        )
    layers: list[tuple[str, int, int]] = []
    for i in range(depth):
        if f"layer{i}" in arch:
            spec = arch[f"layer{i}"]
            if not isinstance(spec, Mapping) or "_name" not in spec:
                raise SearchSpaceError(
                    f"architecture: layer{i} must be a nested choice value, got {spec!r}"
                )
            op, mult = spec["_name"], spec.get("width_mult", 1)
        elif f"layer{i}_op" in arch:
            op, mult = arch[f"layer{i}_op"], 1
        else:
            raise SearchSpaceError(f"architecture: depth is {depth} but layer{i}_op is missing")
        if op not in KNOWN_OPS or op == "zero":
            raise SearchSpaceError(f"architecture: layer{i}: unknown or unusable op {op!r}")
        skip = _int(arch.get(f"layer{i}_skip", 0))
        if skip is None or skip == 1 or not 0 <= skip <= i + 1:
            raise SearchSpaceError(
                f"architecture: layer{i}_skip must be 0 or in [2, {i + 1}], "
                f"got {arch.get(f'layer{i}_skip')!r}"
            )
        layers.append((str(op), int(width * mult), skip))
    return layers


class ChainNetwork(NASNetwork):
    """A stem, ``depth`` layers in sequence with optional skip connections (summed, through a 1x1
    projection when the widths differ), and a classifier on globally pooled features."""

    def __init__(
        self,
        arch: Mapping[str, Any],
        input_shape: Shape,
        num_classes: int,
        channels: int = 16,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.arch = dict(arch)
        self.input_shape = input_shape
        width = _int(arch.get("width", channels))
        if width is None or width < 1:
            raise SearchSpaceError(
                f"architecture: 'width' must be a positive int, got {arch.get('width')!r}"
            )
        self.plan = _chain_layers(arch, width)
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        )
        widths = [width]
        self.ops = nn.ModuleList()
        self.skips = nn.ModuleList()
        for op, c_out, skip in self.plan:
            self.ops.append(make_op(op, widths[-1], c_out))
            if skip:
                c_src = widths[len(widths) - skip]
                self.skips.append(nn.Identity() if c_src == c_out else ReLUConvBN(c_src, c_out, 1))
            else:
                self.skips.append(nn.Identity())
            widths.append(c_out)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(widths[-1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [self.stem(x)]
        for (_, _, skip), op, proj in zip(self.plan, self.ops, self.skips, strict=True):
            y = op(nodes[-1])
            if skip:
                y = y + proj(nodes[len(nodes) - skip])
            nodes.append(y)
        out: torch.Tensor = self.head(nodes[-1])
        return out


def _shape(input_shape: Sequence[int]) -> Shape:
    dims = [int(d) for d in input_shape]
    if len(dims) == 2:
        dims = [1, *dims]
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(
            f"input_shape must be (channels, height, width) or (height, width), got {input_shape!r}"
        )
    return (dims[0], dims[1], dims[2])


def build_model(
    arch: Mapping[str, Any],
    input_shape: Sequence[int],
    num_classes: int,
    *,
    kind: str | None = None,
    channels: int = 16,
    layers: int = 3,
    dropout: float = 0.0,
    **options: Any,
) -> NASNetwork:
    """See :func:`hyperloom.plugins.nas.build_model`."""
    shape = _shape(input_shape)
    if kind is None:
        if any(_CELL_KEY.match(k) for k in arch):
            kind = "cell"
        elif "depth" in arch:
            kind = "chain"
        else:
            raise SearchSpaceError(
                "architecture: cannot tell cell from chain (no 'normal_n0_in0' or 'depth' key); "
                "pass kind='cell' or kind='chain'"
            )
    if kind == "cell":
        return CellNetwork(
            arch, shape, num_classes, channels=channels, layers=layers, dropout=dropout, **options
        )
    if kind == "chain":
        return ChainNetwork(arch, shape, num_classes, channels=channels, dropout=dropout, **options)
    raise ValueError(f"kind must be 'cell' or 'chain', got {kind!r}")
