"""A weight-sharing supernet over the ``nas_cell`` and ``nas_chain`` spaces. Imports torch.

Every decision of the space (a ``choice`` key such as ``normal_n1_op0``, ``normal_n1_in1``,
``layer2_op``, ``layer2_skip``, ``depth``) gets an architecture weight vector ``alphas[key]``, one
entry per option. The weights of the candidate operations are shared:

* **cell**: node ``k`` of a cell has one module per (input ``src``, op) pair, shared by the node's
  two input slots (a standalone network whose two slots pick the same input and op gets the same
  weights twice). A mixed node is exactly linear in the slot weights, so it is computed with one
  evaluation per (src, op): ``sum_src sum_op (sum_j w_in[j, src] * w_op[j, op]) * op(s_src)``.
* **chain**: layer ``i`` has one module per op (all at the supernet's width); the skip and the
  depth are mixed over the node outputs they would add or read. The width is fixed per supernet
  (``width=``, default the widest option) and nested spaces (``width_mult``) are refused.

``forward(x)`` runs the continuous relaxation (softmax of the alphas, as in DARTS);
``forward(x, arch)`` runs one path, which is numerically the standalone network that
:meth:`Supernet.extract` builds with inherited weights (same modules, same order).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from hyperloom.errors import SearchSpaceError
from hyperloom.plugins.nas._model import (
    NASNetwork,
    _chain_layers,
    _genotype,
    _reduce_positions,
    build_model,
)
from hyperloom.plugins.nas._ops import FactorizedReduce, ReLUConvBN, make_op
from hyperloom.plugins.nas._spaces import KNOWN_OPS
from torch import nn

__all__ = ["PARAMETER_FREE_OPS", "Supernet"]

#: Ops without weights; DARTS-style collapse drives the search towards these.
PARAMETER_FREE_OPS = frozenset({"identity", "max_pool_3x3", "avg_pool_3x3", "zero"})


_OP_KEY = re.compile(r"_op\d?$")


def _is_op_key(key: str) -> bool:
    return _OP_KEY.search(key) is not None


def _options(space: Mapping[str, Any], key: str) -> list[Any]:
    spec = space.get(key)
    if not isinstance(spec, Mapping) or spec.get("_type") != "choice":
        raise SearchSpaceError(f"supernet: space key {key!r} must be a choice, got {spec!r}")
    values = list(spec["_value"])
    if any(isinstance(v, Mapping) for v in values):
        raise SearchSpaceError(
            f"supernet: {key!r} is a nested choice; build the space with nested=False"
        )
    return values


def _head(c: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.0),
        nn.Linear(c, num_classes),
    )


def _copy(dst: Any, src: Any) -> None:
    """Copies module ``src``'s weights and buffers into the same-shaped module ``dst``."""
    cast(nn.Module, dst).load_state_dict(cast(nn.Module, src).state_dict())


class _SuperCell(nn.Module):
    def __init__(
        self,
        prefix: str,
        num_nodes: int,
        ops: Sequence[str],
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.reduction = reduction
        self.pre0: nn.Module = (
            FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
        )
        self.pre1 = ReLUConvBN(c_p, c, 1)
        self.edges = nn.ModuleList()
        for k in range(num_nodes):
            per_src = nn.ModuleList()
            for src in range(k + 2):
                stride = 2 if reduction and src < 2 else 1
                per_src.append(nn.ModuleList(make_op(op, c, c, stride) for op in ops))
            self.edges.append(per_src)
        self.num_nodes = num_nodes

    def op(self, k: int, src: int, o: int) -> nn.Module:
        return self.candidates(k, src)[o]

    def candidates(self, k: int, src: int) -> list[nn.Module]:
        """The candidate op modules of node ``k``'s edge from state ``src``."""
        per_src = cast(nn.ModuleList, self.edges[k])
        return list(cast(nn.ModuleList, per_src[src]))

    def forward_path(
        self, s0: torch.Tensor, s1: torch.Tensor, path: list[tuple[tuple[int, int], ...]]
    ) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for k, ((src0, op0), (src1, op1)) in enumerate(path):
            a = self.op(k, src0, op0)(states[src0])
            states.append(a + self.op(k, src1, op1)(states[src1]))
        return torch.cat(states[2:], dim=1)

    def forward_mixed(
        self, s0: torch.Tensor, s1: torch.Tensor, w: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        p = self.prefix
        for k in range(self.num_nodes):
            w_in = [w[f"{p}_n{k}_in{j}"] for j in (0, 1)]
            w_op = [w[f"{p}_n{k}_op{j}"] for j in (0, 1)]
            node = torch.zeros((), device=s1.device)
            for src in range(k + 2):
                coef = w_in[0][src] * w_op[0] + w_in[1][src] * w_op[1]
                for o, mod in enumerate(self.candidates(k, src)):
                    node = node + coef[o] * mod(states[src])
            states.append(node)
        return torch.cat(states[2:], dim=1)


class Supernet(nn.Module):
    """All architectures of a ``nas_cell`` or ``nas_chain`` space in one network.

    Args:
        space: The NNI-format dict of :func:`~hyperloom.plugins.nas.cell_space` or
            :func:`~hyperloom.plugins.nas.chain_space` (``nested=False``). Keys that are not
            architecture keys (an ``extra`` learning rate) are ignored.
        input_shape: ``(channels, height, width)``.
        num_classes: Outputs.
        channels: Cell networks: channels of the first cells (as in ``build_model``).
        layers: Cell networks: cells stacked.
        stem_multiplier: Cell networks: stem width as a multiple of ``channels``.
        width: Chain networks: the fixed width (default: the widest option of the space).

    Attributes:
        kind: "cell" or "chain".
        decisions: Each architecture key and its options, in the space's order.
        fixed: Keys of the point that the supernet does not search (the chain width).
        alphas: The architecture weights, one vector per decision.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        input_shape: Sequence[int],
        num_classes: int,
        *,
        channels: int = 16,
        layers: int = 3,
        stem_multiplier: int = 2,
        width: int | None = None,
    ) -> None:
        super().__init__()
        self.input_shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
        self.num_classes = num_classes
        self.fixed: dict[str, Any] = {}
        if "normal_n0_in0" in space:
            self.kind = "cell"
            keys = [k for k in space if k.startswith(("normal_n", "reduce_n"))]
            self.decisions = {k: _options(space, k) for k in keys}
            self._build_cell(channels, layers, stem_multiplier)
        elif "depth" in space:
            self.kind = "chain"
            if any(k.startswith("layer") and not k.endswith(("_op", "_skip")) for k in space):
                raise SearchSpaceError("supernet: nested chain spaces are not supported")
            widths = _options(space, "width")
            self.width = int(width if width is not None else max(widths))
            if self.width not in widths:
                raise SearchSpaceError(f"supernet: width {width} is not an option {widths}")
            self.fixed["width"] = self.width
            keys = ["depth"] + [k for k in space if k.startswith("layer")]
            self.decisions = {k: _options(space, k) for k in keys}
            self._build_chain()
        else:
            raise SearchSpaceError(
                "supernet: the space is neither a nas_cell nor a nas_chain space"
            )
        for key, opts in self.decisions.items():
            if _is_op_key(key):
                bad = [o for o in opts if o not in KNOWN_OPS]
                if bad:
                    raise SearchSpaceError(f"supernet: {key}: unknown ops {bad}")
        self.alphas = nn.ParameterDict(
            {k: nn.Parameter(1e-3 * torch.randn(len(v))) for k, v in self.decisions.items()}
        )

    # construction ----------------------------------------------------------------------------
    def _build_cell(self, channels: int, layers: int, stem_multiplier: int) -> None:
        nodes = sorted({int(k.split("_")[1][1:]) for k in self.decisions})
        self.num_nodes = len(nodes)
        self.ops = list(self.decisions["normal_n0_op0"])
        self.has_reduce = "reduce_n0_in0" in self.decisions
        self.options = {"channels": channels, "layers": layers, "stem_multiplier": stem_multiplier}
        self.positions = _reduce_positions(layers)
        c_stem = stem_multiplier * channels
        c_in = self.input_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(c_in, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, c = c_stem, c_stem, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in self.positions
            if reduction:
                c *= 2
            prefix = "reduce" if reduction and self.has_reduce else "normal"
            self.cells.append(
                _SuperCell(
                    prefix, self.num_nodes, self.ops, c_pp, c_p, c, reduction, reduction_prev
                )
            )
            c_pp, c_p = c_p, self.num_nodes * c
            reduction_prev = reduction
        self.head = _head(c_p, self.num_classes)

    def _build_chain(self) -> None:
        depths = [int(d) for d in self.decisions["depth"]]
        self.max_depth = max(depths)
        self.ops = list(self.decisions["layer0_op"])
        self.options = {}
        w = self.width
        self.stem = nn.Sequential(
            nn.Conv2d(self.input_shape[0], w, 3, padding=1, bias=False), nn.BatchNorm2d(w)
        )
        self.layers = nn.ModuleList(
            nn.ModuleList(make_op(op, w, w) for op in self.decisions[f"layer{i}_op"])
            for i in range(self.max_depth)
        )
        self.head = _head(w, self.num_classes)

    def super_cells(self) -> list[_SuperCell]:
        """The cells of a cell supernet, in order."""
        return [cast(_SuperCell, c) for c in self.cells]

    def layer_ops(self, i: int) -> list[nn.Module]:
        """The candidate op modules of layer ``i`` of a chain supernet."""
        return list(cast(nn.ModuleList, self.layers[i]))

    # parameters ------------------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture weights (the alphas)."""
        return list(self.alphas.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        """The shared operation weights (everything but the alphas)."""
        ids = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def softmax(self, temperature: float = 1.0) -> dict[str, torch.Tensor]:
        """The alphas as probabilities, per decision."""
        return {k: torch.softmax(a / temperature, dim=0) for k, a in self.alphas.items()}

    # architectures ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniformly random architecture (a point of the space)."""
        arch = {k: v[int(rng.integers(len(v)))] for k, v in self.decisions.items()}
        return {**arch, **self.fixed}

    def derive(self, exclude: Iterable[str] = ("zero",)) -> dict[str, Any]:
        """The architecture with the largest alpha per decision; ops in ``exclude`` are passed
        over unless they are the only option (DARTS drops "zero" when it derives a cell)."""
        banned = set(exclude)
        arch: dict[str, Any] = {}
        for key, opts in self.decisions.items():
            order = torch.argsort(self.alphas[key].detach(), descending=True).tolist()
            pick = next((i for i in order if opts[i] not in banned), order[0])
            arch[key] = opts[pick]
        return {**arch, **self.fixed}

    def _index(self, key: str, value: Any) -> int:
        try:
            return self.decisions[key].index(value)
        except (KeyError, ValueError):
            raise SearchSpaceError(
                f"architecture: {key}={value!r} is not an option of the supernet"
            ) from None

    def _cell_path(self, arch: Mapping[str, Any], prefix: str) -> list[tuple[tuple[int, int], ...]]:
        genotype = _genotype(arch, prefix)
        if len(genotype) != self.num_nodes:
            raise SearchSpaceError(
                f"architecture: {len(genotype)} {prefix} nodes, the supernet has {self.num_nodes}"
            )
        return [
            tuple((src, self._index(f"{prefix}_n{k}_op{j}", op)) for j, (src, op) in enumerate(e))
            for k, e in enumerate(genotype)
        ]

    def _chain_path(self, arch: Mapping[str, Any]) -> list[tuple[int, int]]:
        w = arch.get("width", self.width)
        if w != self.width:
            raise SearchSpaceError(f"architecture: width {w!r}, the supernet's is {self.width}")
        plan = _chain_layers(arch, self.width)
        if len(plan) > self.max_depth:
            raise SearchSpaceError(f"architecture: depth {len(plan)} > {self.max_depth}")
        return [(self._index(f"layer{i}_op", op), skip) for i, (op, _, skip) in enumerate(plan)]

    # forward ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, arch: Mapping[str, Any] | None = None) -> torch.Tensor:
        """The mixed network (``arch`` None) or one path of it."""
        if self.kind == "cell":
            return self._forward_cell(x, arch)
        return self._forward_chain(x, arch)

    def _forward_cell(self, x: torch.Tensor, arch: Mapping[str, Any] | None) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        if arch is None:
            w = self.softmax()
            for cell in self.super_cells():
                s0, s1 = s1, cell.forward_mixed(s0, s1, w)
        else:
            paths = {"normal": self._cell_path(arch, "normal")}
            if self.has_reduce:
                paths["reduce"] = self._cell_path(arch, "reduce")
            for cell in self.super_cells():
                s0, s1 = s1, cell.forward_path(s0, s1, paths[cell.prefix])
        out: torch.Tensor = self.head(s1)
        return out

    def _forward_chain(self, x: torch.Tensor, arch: Mapping[str, Any] | None) -> torch.Tensor:
        nodes = [self.stem(x)]
        if arch is not None:
            for i, (o, skip) in enumerate(self._chain_path(arch)):
                y = self.layer_ops(i)[o](nodes[-1])
                if skip:
                    y = y + nodes[len(nodes) - skip]
                nodes.append(y)
            out: torch.Tensor = self.head(nodes[-1])
            return out
        w = self.softmax()
        for i in range(self.max_depth):
            w_op = w[f"layer{i}_op"]
            mixed = torch.zeros((), device=x.device)
            for o, mod in enumerate(self.layer_ops(i)):
                mixed = mixed + w_op[o] * mod(nodes[-1])
            if f"layer{i}_skip" in w:
                for s, dist in enumerate(self.decisions[f"layer{i}_skip"]):
                    if dist:
                        mixed = mixed + w[f"layer{i}_skip"][s] * nodes[len(nodes) - int(dist)]
            nodes.append(mixed)
        feats = torch.zeros((), device=x.device)
        for d, depth in enumerate(self.decisions["depth"]):
            feats = feats + w["depth"][d] * nodes[int(depth)]
        out = self.head(feats)
        return out

    # extraction ------------------------------------------------------------------------------
    def extract(self, arch: Mapping[str, Any], inherit: bool = True) -> NASNetwork:
        """``arch`` as a standalone ``build_model`` network, with the supernet's weights
        (``inherit=True``) or freshly initialised ones."""
        point = {**self.fixed, **dict(arch)}
        if inherit and self.kind == "chain":
            self._chain_path(point)  # refuses another width before anything is built
        net = build_model(point, self.input_shape, self.num_classes, kind=self.kind, **self.options)
        if not inherit:
            return net
        _copy(net.stem, self.stem)
        _copy(net.head, self.head)
        if self.kind == "cell":
            paths = {"normal": self._cell_path(point, "normal")}
            if self.has_reduce:
                paths["reduce"] = self._cell_path(point, "reduce")
            for dst, sup in zip(cast(nn.ModuleList, net.cells), self.super_cells(), strict=True):
                _copy(dst.pre0, sup.pre0)
                _copy(dst.pre1, sup.pre1)
                for k, edge_pair in enumerate(paths[sup.prefix]):
                    for j, (src, o) in enumerate(edge_pair):
                        _copy(cast(nn.ModuleList, dst.edges)[2 * k + j], sup.op(k, src, o))
        else:
            for i, (o, _) in enumerate(self._chain_path(point)):
                _copy(cast(nn.ModuleList, net.ops)[i], self.layer_ops(i)[o])
        return net

    def count_op(self, arch: Mapping[str, Any], ops: Iterable[str]) -> int:
        """How many of the architecture's op choices are among ``ops`` (e.g. "identity")."""
        wanted = set(ops)
        return sum(1 for k, v in arch.items() if _is_op_key(k) and v in wanted)

    def entropy(self) -> float:
        """Mean entropy of the alpha softmaxes, in nats (log of the option count at the start)."""
        total = 0.0
        for p in self.softmax().values():
            total += float(-(p * torch.log(p.clamp_min(1e-12))).sum().detach())
        return total / max(1, len(self.alphas))

    def max_entropy(self) -> float:
        """The entropy of uniform alphas, for scale."""
        return sum(math.log(len(v)) for v in self.decisions.values()) / max(1, len(self.decisions))
