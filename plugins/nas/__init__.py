"""Neural architecture search: a first-party search-space plugin.

It is registered through the same entry points as a third-party plugin
(``hyperloom.search_spaces``: ``nas_cell`` and ``nas_chain``), so a config says::

    searchSpace:
      plugin: nas_cell
      options: {num_nodes: 3}

and the trial script turns the parameters it receives back into a network::

    from hyperloom.plugins.nas import build_model
    model = build_model(hyperloom.trials.get_params(), (1, 8, 8), num_classes=10)
    print(model.num_parameters(), model.flops())

The spaces are plain NNI-format dicts and need no torch; :func:`build_model` imports torch when
called and raises :class:`~hyperloom.errors.MissingDependencyError` when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hyperloom.errors import MissingDependencyError
from hyperloom.plugins.nas._spaces import (
    CELL_OPS,
    CHAIN_OPS,
    CONV_OPS,
    KNOWN_OPS,
    cell_space,
    chain_space,
)

if TYPE_CHECKING:
    from hyperloom.plugins.nas._model import NASNetwork

__all__ = [
    "CELL_OPS",
    "CHAIN_OPS",
    "CONV_OPS",
    "KNOWN_OPS",
    "build_model",
    "cell_space",
    "chain_space",
    "count_parameters",
    "estimate_flops",
]


def _require_torch(feature: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingDependencyError("torch", "torch", feature) from None


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
    """Turns a sampled architecture into a ``torch.nn.Module``.

    A cell architecture (keys ``normal_n{k}_in{j}``/``normal_n{k}_op{j}``, from :func:`cell_space`)
    becomes a stem, ``layers`` stacked cells and a classifier; the cells at one and two thirds of
    the depth are reduction cells (stride 2, twice the channels), as in DARTS. A chain architecture
    (``depth``, ``width``, ``layer{i}_op`` or nested ``layer{i}``, ``layer{i}_skip``, from
    :func:`chain_space`) becomes a stem, the layers and a classifier. Keys that belong to neither
    (a learning rate from ``extra``) are ignored.

    Args:
        arch: The parameters a trial received.
        input_shape: ``(channels, height, width)``, or ``(height, width)`` for one channel.
        num_classes: Outputs of the classifier.
        kind: "cell" or "chain"; guessed from the keys when None.
        channels: Cell networks: channels of the first cells. Chain networks: the width when
            ``arch`` has none.
        layers: Cell networks: how many cells to stack.
        dropout: Dropout before the classifier.
        **options: ``stem_multiplier`` and ``reduce_at`` (a list of cell indices) for cells.

    Returns:
        A network with ``num_parameters()`` and ``flops()`` (multiply-accumulates per input).

    Raises:
        MissingDependencyError: torch is not installed.
        SearchSpaceError: ``arch`` is not a point of a NAS space; the message names the key.
    """
    _require_torch("hyperloom.plugins.nas.build_model")
    from hyperloom.plugins.nas._model import build_model as _build

    return _build(
        arch,
        input_shape,
        num_classes,
        kind=kind,
        channels=channels,
        layers=layers,
        dropout=dropout,
        **options,
    )


def count_parameters(model: Any) -> int:
    """The number of trainable parameters of a ``torch.nn.Module``."""
    from hyperloom.plugins.nas._stats import count_parameters as _count

    return int(_count(model))


def estimate_flops(model: Any, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on one input of ``input_shape``
    (convolutions and linear layers)."""
    _require_torch("hyperloom.plugins.nas.estimate_flops")
    from hyperloom.plugins.nas._stats import estimate_flops as _flops

    return int(_flops(model, input_shape))
