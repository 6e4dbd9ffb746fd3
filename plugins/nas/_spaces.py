"""The NAS search spaces, written as plain NNI-format dicts (no torch needed).

Two families:

* **cell** (micro), as in NASNet, ENAS and DARTS: a cell has ``num_nodes`` intermediate nodes.
  Node ``k`` takes two inputs among the cell's two inputs (ids 0 and 1: the outputs of the two
  previous cells) and the earlier nodes (ids ``2 .. k+1``), applies one operation to each and sums
  them. A cell's output concatenates all its intermediate nodes. With ``reduction=True`` the
  reduction cells (stride 2) get their own architecture, otherwise they reuse the normal one.
  Keys: ``normal_n{k}_in{j}`` (an input id) and ``normal_n{k}_op{j}`` (an op name), ``j`` in
  {0, 1}; the same with ``reduce_`` for the reduction cell.
* **chain** (macro): ``depth`` layers in sequence; layer ``i`` has ``layer{i}_op`` and, from the
  second layer on, ``layer{i}_skip``: 0 for no skip connection, or ``d >= 2`` to add the output of
  the layer ``d`` steps back (distance 1 is its own input; the stem counts as a layer). ``width``
  is the number of channels. Layers at or beyond ``depth`` are sampled but unused. With
  ``nested=True`` each layer is a nested choice instead, so that a ``width_mult`` sub-choice
  exists only under convolution ops.

Both accept ``extra``: more NNI-format parameters (a learning rate, ...) merged into the space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hyperloom.errors import SearchSpaceError

__all__ = [
    "CELL_OPS",
    "CHAIN_OPS",
    "CONV_OPS",
    "KNOWN_OPS",
    "cell_space",
    "chain_space",
]

#: Every operation :func:`hyperloom.plugins.nas.build_model` knows.
KNOWN_OPS: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "conv_1x1",
    "conv_3x3",
    "conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "identity",
    "zero",
)
#: The ops that carry weights (and a width).
CONV_OPS: frozenset[str] = frozenset(op for op in KNOWN_OPS if "conv" in op)
#: The default operations of the cell space (the DARTS set).
CELL_OPS: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "identity",
    "zero",
)
#: The default operations of the chain space ("zero" would cut the chain, so it is left out).
CHAIN_OPS: tuple[str, ...] = (
    "conv_3x3",
    "conv_5x5",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "max_pool_3x3",
    "avg_pool_3x3",
    "identity",
)


def _choice(values: Sequence[Any]) -> dict[str, Any]:
    return {"_type": "choice", "_value": list(values)}


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SearchSpaceError(
            f"NAS space option {name!r} must be an integer in [{low}, {high}], got {value!r}"
        )
    return value


def _check_ops(name: str, ops: Any, allow_zero: bool = True) -> list[str]:
    if isinstance(ops, str) or not isinstance(ops, Sequence) or not ops:
        raise SearchSpaceError(
            f"NAS space option {name!r} must be a non-empty list of op names, got {ops!r}"
        )
    out: list[str] = []
    for op in ops:
        if op not in KNOWN_OPS:
            raise SearchSpaceError(
                f"NAS space option {name!r}: unknown op {op!r}; known ops: {', '.join(KNOWN_OPS)}"
            )
        if op == "zero" and not allow_zero:
            raise SearchSpaceError(f"NAS space option {name!r}: 'zero' is not allowed here")
        if op not in out:
            out.append(op)
    return out


def _check_widths(name: str, widths: Any) -> list[int]:
    if isinstance(widths, int) and not isinstance(widths, bool):
        widths = [widths]
    if isinstance(widths, str) or not isinstance(widths, Sequence) or not widths:
        raise SearchSpaceError(
            f"NAS space option {name!r} must be a list of positive ints, got {widths!r}"
        )
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w <= 0:
            raise SearchSpaceError(f"NAS space option {name!r}: {w!r} is not a positive int")
    return list(dict.fromkeys(widths))


def _merge_extra(space: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    if extra is None:
        return space
    if not isinstance(extra, Mapping):
        raise SearchSpaceError(
            f"NAS space option 'extra' must be a mapping of NNI-format parameters, got {extra!r}"
        )
    clash = sorted(set(extra) & set(space))
    if clash:
        raise SearchSpaceError(
            f"NAS space option 'extra': parameters {clash} clash with architecture keys; rename them"
        )
    return {**space, **extra}


def _cell_keys(prefix: str, num_nodes: int, ops: list[str]) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for k in range(num_nodes):
        for j in (0, 1):
            space[f"{prefix}_n{k}_in{j}"] = _choice(range(k + 2))
            space[f"{prefix}_n{k}_op{j}"] = _choice(ops)
    return space


def cell_space(
    num_nodes: int = 4,
    ops: Sequence[str] = CELL_OPS,
    reduction: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The micro (cell) space as an NNI-format dict.

    Args:
        num_nodes: Intermediate nodes per cell (1 to 8).
        ops: Candidate operations for every input of every node; see :data:`KNOWN_OPS`.
        reduction: Whether reduction cells get their own architecture (``reduce_*`` keys).
        extra: More NNI-format parameters merged into the space (e.g. a learning rate).

    Returns:
        The space; ``4 * num_nodes`` choices per searched cell type.

    Raises:
        SearchSpaceError: An option is invalid; the message names it.
    """
    n = _check_int("num_nodes", num_nodes, 1, 8)
    op_list = _check_ops("ops", ops)
    if not isinstance(reduction, bool):
        raise SearchSpaceError(
            f"NAS space option 'reduction' must be true or false, got {reduction!r}"
        )
    space = _cell_keys("normal", n, op_list)
    if reduction:
        space.update(_cell_keys("reduce", n, op_list))
    return _merge_extra(space, extra)


def chain_space(
    max_depth: int = 6,
    min_depth: int = 2,
    ops: Sequence[str] = CHAIN_OPS,
    widths: Sequence[int] | int = (16, 32, 64),
    skip: bool = True,
    nested: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The macro (chain) space as an NNI-format dict.

    Args:
        max_depth: The most layers (1 to 20).
        min_depth: The fewest layers (1 to ``max_depth``).
        ops: Candidate operations per layer; see :data:`KNOWN_OPS` ("zero" is not allowed).
        widths: Candidate channel counts (``width``); one int fixes it.
        skip: Whether to search skip connections (``layer{i}_skip``).
        nested: Make each layer a nested choice, with a ``width_mult`` sub-choice (1 or 2) only
            under weighted ops.
        extra: More NNI-format parameters merged into the space.

    Returns:
        The space.

    Raises:
        SearchSpaceError: An option is invalid; the message names it.
    """
    hi = _check_int("max_depth", max_depth, 1, 20)
    lo = _check_int("min_depth", min_depth, 1, hi)
    op_list = _check_ops("ops", ops, allow_zero=False)
    width_list = _check_widths("widths", widths)
    for name, flag in (("skip", skip), ("nested", nested)):
        if not isinstance(flag, bool):
            raise SearchSpaceError(f"NAS space option {name!r} must be true or false, got {flag!r}")
    space: dict[str, Any] = {"depth": _choice(range(lo, hi + 1)), "width": _choice(width_list)}
    for i in range(hi):
        if nested:
            options: list[dict[str, Any]] = []
            for op in op_list:
                opt: dict[str, Any] = {"_name": op}
                if op in CONV_OPS:
                    opt["width_mult"] = _choice([1, 2])
                options.append(opt)
            space[f"layer{i}"] = {"_type": "choice", "_value": options}
        else:
            space[f"layer{i}_op"] = _choice(op_list)
        if skip and i >= 1:
            space[f"layer{i}_skip"] = _choice([0, *range(2, i + 2)])
    return _merge_extra(space, extra)
