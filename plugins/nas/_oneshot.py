"""What the one-shot strategies share: batching, accuracy, batch-norm recalibration, inherited-
weight evaluation, standalone training, and the result type. Imports torch."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hyperloom.plugins.nas._data import Dataset
from hyperloom.plugins.nas._supernet import Supernet
from hyperloom.space import SearchSpace
from hyperloom.types import TrialResult, TrialStatus
from torch import nn

__all__ = [
    "EpochCallback",
    "SearchResult",
    "accuracy",
    "arch_space",
    "evaluate_inherited",
    "recalibrate_bn",
    "train_standalone",
    "tuner_loop_result",
]

#: Called after every search epoch with ``(epoch, metrics)``; returning True stops the search.
EpochCallback = Callable[[int, dict[str, float]], bool | None]


@dataclass
class SearchResult:
    """What a one-shot search found.

    Attributes:
        method: "darts", "enas" or "spos".
        arch: The derived architecture, a point of the supernet's space.
        val_acc: Its validation accuracy with inherited weights (batch norm recalibrated), or
            after fine-tuning from them when the search ranks by fine-tuned evaluations.
        history: One dict per epoch (``epoch``, ``supernet_acc``, ``train_loss``, ``seconds``
            and method-specific entries).
        seconds: Wall time of the whole search.
        notes: Events worth knowing (the skip guard stopping DARTS, ...).
        evaluations: Architectures evaluated during the search, with their accuracy.
        scores: When the search ranked by a calibrated score rather than the raw accuracy
            (``size_calibration``), that score per evaluation, in the same order.
        calibration: The size calibration, when one was used: ``w_acc``, ``w_size``,
            ``metric``, ``archs``, ``standalone`` (their retrained validation accuracy),
            ``inherited``, ``sizes``, ``cpu_seconds``.
        reranked: The finalists compared again by a longer fine-tuning, when the search
            re-ranks (``rerank``), with that accuracy.
    """

    method: str
    arch: dict[str, Any]
    val_acc: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    evaluations: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    reranked: list[tuple[dict[str, Any], float]] = field(default_factory=list)


def tensors(data: Dataset) -> tuple[torch.Tensor, ...]:
    """The dataset as torch tensors (cached on the dataset object)."""
    cached = getattr(data, "_torch_cache", None)
    if cached is None:
        cached = data.tensors()
        object.__setattr__(data, "_torch_cache", cached)
    return tuple(cached)


def batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Index tensors of one shuffled epoch over ``n`` rows."""
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n - batch_size + 1 if n >= batch_size else n, batch_size):
        yield perm[i : i + batch_size]


def accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Mapping[str, Any] | None = None,
    batch_size: int = 500,
) -> float:
    """Top-1 accuracy in eval mode; ``arch`` selects a path of a :class:`Supernet`."""
    was = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            xb = x[i : i + batch_size]
            out = model(xb, arch) if arch is not None else model(xb)
            correct += int((out.argmax(dim=1) == y[i : i + batch_size]).sum())
    model.train(was)
    return correct / max(1, len(y))


def recalibrate_bn(
    model: nn.Module,
    x: torch.Tensor,
    arch: Mapping[str, Any] | None = None,
    batches_: int = 4,
    batch_size: int = 128,
) -> None:
    """Re-estimates every batch norm's running statistics on ``batches_`` training batches, for
    the path ``arch`` (SPOS's recalibration: shared statistics belong to no single path)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    was = model.training
    model.train()
    with torch.no_grad():
        for b in range(batches_):
            xb = x[b * batch_size : (b + 1) * batch_size]
            if len(xb) == 0:
                break
            model(xb, arch) if arch is not None else model(xb)
    for bn, m in zip(bns, saved, strict=True):
        bn.momentum = m
    model.train(was)


def evaluate_inherited(
    supernet: Supernet,
    arch: Mapping[str, Any],
    data: Dataset,
    *,
    n_val: int | None = None,
    bn_batches: int = 2,
) -> float:
    """Validation accuracy of ``arch`` with the supernet's weights (milliseconds on a tiny
    supernet): batch norm recalibrated on ``bn_batches`` training batches, then the first
    ``n_val`` validation rows."""
    x_tr, _, x_va, y_va, _, _ = tensors(data)
    if bn_batches:
        recalibrate_bn(supernet, x_tr, arch, bn_batches)
    n = len(y_va) if n_val is None else min(n_val, len(y_va))
    return accuracy(supernet, x_va[:n], y_va[:n], arch)


def evaluate_finetuned(
    supernet: Supernet,
    arch: Mapping[str, Any],
    data: Dataset,
    *,
    epochs: int = 1,
    seed: int = 0,
    lr: float = 3e-3,
    batch_size: int = 64,
) -> float:
    """Validation accuracy of ``arch`` after ``epochs`` epoch(s) of training a copy that
    starts from the supernet's weights (:func:`train_standalone`: Adam, cosine schedule); the
    supernet is not changed, and torch's global random state is restored afterwards.

    About ten times the cost of :func:`evaluate_inherited` on the nas-oneshot setting (0.6 vs
    0.05 CPU s), and a much better ranking there: Kendall's tau 0.50-0.56 against the 4-epoch
    retraining for 50 cells (two supernets), against 0.14-0.24 for the inherited accuracy and
    0.19-0.36 for the same epoch from fresh weights (docs/notes/nas-oneshot.md, session 6)."""
    with torch.random.fork_rng(devices=[]):  # building the copy draws fresh weights too
        model = supernet.extract(arch, inherit=True)
        scores = train_standalone(
            model, data, epochs=epochs, seed=seed, lr=lr, batch_size=batch_size
        )
    return float(scores["val_acc"])


def arch_space(supernet: Supernet) -> SearchSpace:
    """The supernet's decisions as a :class:`SearchSpace`, for tuners (fixed keys left out)."""
    return SearchSpace.from_nni(
        {k: {"_type": "choice", "_value": list(v)} for k, v in supernet.decisions.items()}
    )


def tuner_loop_result(trial_id: str, params: dict[str, Any], value: float) -> TrialResult:
    """An in-process evaluation as the ended trial a tuner's ``observe`` expects."""
    return TrialResult(trial_id, dict(params), TrialStatus.SUCCEEDED, float(value))


def train_standalone(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
) -> dict[str, float]:
    """Trains a network from its current weights with Adam and a cosine schedule; returns
    ``val_acc``, ``test_acc``, ``seconds`` (and calls ``on_epoch`` with ``val_acc`` per epoch)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr, x_va, y_va, x_te, y_te = tensors(data)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * max(1, len(y_tr) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.perf_counter()
    model.train()
    val = 0.0
    for epoch in range(epochs):
        for idx in batches(len(y_tr), batch_size, gen):
            opt.zero_grad()
            F.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
        val = accuracy(model, x_va, y_va)
        if on_epoch is not None and on_epoch(epoch, {"val_acc": val}):
            break
    return {
        "val_acc": val,
        "test_acc": accuracy(model, x_te, y_te),
        "seconds": time.perf_counter() - start,
    }


def sample_probe(supernet: Supernet, seed: int, n: int = 3) -> list[dict[str, Any]]:
    """``n`` fixed random architectures, whose mean inherited accuracy tracks a single-path
    supernet's progress from epoch to epoch."""
    rng = np.random.default_rng(seed + 7919)
    return [supernet.sample(rng) for _ in range(n)]
