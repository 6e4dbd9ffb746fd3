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

One-shot NAS (weight sharing) lives here too, imported lazily (torch only when used)::

    from hyperloom.plugins.nas import Supernet, load_dataset, one_shot_search
    data = load_dataset("fashion_mnist", downsample=4)
    net = Supernet(cell_space(3, reduction=False), data.input_shape, 10, channels=8, layers=2)
    result = one_shot_search("spos", net, data, epochs=10)   # or "darts", "enas"
    model = net.extract(result.arch, inherit=False)           # a build_model network

See ``docs/notes/nas-oneshot.md`` for the strategies, the collapse guard and the figures.
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
    from hyperloom.plugins.nas._darts import darts_search
    from hyperloom.plugins.nas._data import Dataset, load_dataset, load_fashion_mnist, load_mnist1d
    from hyperloom.plugins.nas._enas import enas_search
    from hyperloom.plugins.nas._latency import expected_latency, measure_latency, op_latency_table
    from hyperloom.plugins.nas._model import NASNetwork
    from hyperloom.plugins.nas._oneshot import (
        SearchResult,
        evaluate_finetuned,
        evaluate_inherited,
        recalibrate_bn,
        train_standalone,
    )
    from hyperloom.plugins.nas._proxies import (
        CurveExtrapolator,
        kendall_tau,
        size_corrected,
    )
    from hyperloom.plugins.nas._spos import spos_search
    from hyperloom.plugins.nas._supernet import Supernet

#: Lazily imported public names (most need torch) and the private module holding each.
_LAZY = {
    "Dataset": "_data",
    "load_dataset": "_data",
    "load_fashion_mnist": "_data",
    "load_mnist1d": "_data",
    "Supernet": "_supernet",
    "SearchResult": "_oneshot",
    "evaluate_finetuned": "_oneshot",
    "evaluate_inherited": "_oneshot",
    "recalibrate_bn": "_oneshot",
    "train_standalone": "_oneshot",
    "darts_search": "_darts",
    "enas_search": "_enas",
    "spos_search": "_spos",
    "measure_latency": "_latency",
    "op_latency_table": "_latency",
    "expected_latency": "_latency",
    "CurveExtrapolator": "_proxies",
    "kendall_tau": "_proxies",
    "size_corrected": "_proxies",
}

#: The one-shot strategies :func:`one_shot_search` knows.
ONE_SHOT_METHODS = ("darts", "enas", "spos")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperloom.plugins.nas' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"hyperloom.plugins.nas.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CELL_OPS",
    "CHAIN_OPS",
    "CONV_OPS",
    "KNOWN_OPS",
    "ONE_SHOT_METHODS",
    "CurveExtrapolator",
    "Dataset",
    "SearchResult",
    "Supernet",
    "build_model",
    "cell_space",
    "chain_space",
    "count_parameters",
    "darts_search",
    "enas_search",
    "estimate_flops",
    "evaluate_finetuned",
    "evaluate_inherited",
    "expected_latency",
    "kendall_tau",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist1d",
    "measure_latency",
    "one_shot_search",
    "op_latency_table",
    "recalibrate_bn",
    "size_corrected",
    "spos_search",
    "train_standalone",
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


def one_shot_search(method: str, supernet: Supernet, data: Dataset, **options: Any) -> SearchResult:
    """Runs one one-shot strategy on ``supernet`` (trained in place).

    Args:
        method: "darts" (:func:`darts_search`), "enas" (:func:`enas_search`) or "spos"
            (:func:`spos_search`).
        supernet: A :class:`Supernet`.
        data: A :class:`Dataset`.
        **options: The strategy's keyword arguments (``epochs``, ``lr``, ``on_epoch``, ...).

    Raises:
        ValueError: ``method`` is unknown.
    """
    _require_torch("hyperloom.plugins.nas.one_shot_search")
    if method not in ONE_SHOT_METHODS:
        raise ValueError(f"unknown one-shot method {method!r}; use one of {ONE_SHOT_METHODS}")
    import importlib

    fn = getattr(importlib.import_module(f"hyperloom.plugins.nas._{method}"), f"{method}_search")
    result: SearchResult = fn(supernet, data, **options)
    return result
