"""SPOS (Guo et al. 2020): uniform single-path training of the supernet, then evolution with
inherited-weight evaluations. Imports torch.

The search is an ordinary :class:`~hyperloom.tuners.Tuner` (``evolution`` by default, any
registered tuner by name) driven in-process through its public ``suggest``/``observe``: each
suggestion is validated with the supernet's weights (batch norm recalibrated on two training
batches, as the paper does), which takes milliseconds on a small supernet, and fed back as an
ended trial.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hyperloom.plugins.nas._data import Dataset
from hyperloom.plugins.nas._oneshot import (
    EpochCallback,
    SearchResult,
    arch_space,
    batches,
    evaluate_inherited,
    sample_probe,
    tensors,
    tuner_loop_result,
)
from hyperloom.plugins.nas._supernet import Supernet

__all__ = ["spos_search", "train_single_path", "tuner_search"]


def train_single_path(
    supernet: Supernet,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    sampler: Any = None,
    after_step: Any = None,
    on_epoch: EpochCallback | None = None,
    max_seconds: float | None = None,
    result: SearchResult,
) -> None:
    """Trains the shared weights one sampled path per step (Adam, cosine schedule: on a budget of
    a few CPU minutes it converges much faster than the papers' SGD).

    ``sampler()`` returns the path of the next step (uniform by default); ``after_step(arch)``
    runs after each step (ENAS's controller update). After every epoch the mean inherited
    accuracy of three fixed random paths is the supernet accuracy given to ``on_epoch``.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_tr, y_tr, _, _, _, _ = tensors(data)
    opt = torch.optim.Adam(supernet.weight_parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * max(1, len(y_tr) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    probe = sample_probe(supernet, seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        supernet.train()
        total, n = 0.0, 0
        for idx in batches(len(y_tr), batch_size, gen):
            arch = sampler() if sampler is not None else supernet.sample(rng)
            opt.zero_grad()
            loss = F.cross_entropy(supernet(x_tr[idx], arch), y_tr[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(supernet.weight_parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
            if after_step is not None:
                after_step(arch)
        accs = [evaluate_inherited(supernet, a, data, n_val=500) for a in probe]
        metrics = {
            "epoch": float(epoch),
            "supernet_acc": float(np.mean(accs)),
            "train_loss": total / max(1, n),
            "seconds": time.perf_counter() - start,
        }
        result.history.append(metrics)
        if on_epoch is not None and on_epoch(epoch, metrics):
            break
        if max_seconds is not None and metrics["seconds"] > max_seconds:
            result.notes.append(f"time budget {max_seconds}s reached after epoch {epoch}")
            break


def tuner_search(
    supernet: Supernet,
    data: Dataset,
    *,
    tuner: str = "evolution",
    n_evals: int = 50,
    seed: int = 0,
    n_val: int | None = 500,
    bn_batches: int = 2,
    tuner_args: Mapping[str, Any] | None = None,
    result: SearchResult,
) -> None:
    """Searches the trained supernet with a registered tuner whose evaluations are inherited-
    weight validations; the best evaluated architecture goes into ``result``."""
    from hyperloom.registry import load_tuner

    space = arch_space(supernet)
    t = load_tuner(tuner, space, mode="maximize", seed=seed, **dict(tuner_args or {}))
    best: tuple[float, dict[str, Any]] | None = None
    t0 = time.perf_counter()
    for i in range(n_evals):
        params = t.suggest(f"e{i}")
        if not isinstance(params, dict):
            break  # exhausted (FINISHED) or "not now" with nothing running
        arch = {**params, **supernet.fixed}
        acc = evaluate_inherited(supernet, arch, data, n_val=n_val, bn_batches=bn_batches)
        t.observe(tuner_loop_result(f"e{i}", params, acc))
        result.evaluations.append((arch, acc))
        if best is None or acc > best[0]:
            best = (acc, arch)
    if best is not None:
        result.arch, result.val_acc = best[1], best[0]
    result.notes.append(
        f"{tuner}: {len(result.evaluations)} inherited-weight evaluations in "
        f"{time.perf_counter() - t0:.2f}s"
    )


def spos_search(
    supernet: Supernet,
    data: Dataset,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    tuner: str = "evolution",
    n_evals: int = 50,
    population_size: int = 10,
    sample_size: int = 3,
    seed: int = 0,
    max_seconds: float | None = None,
    on_epoch: EpochCallback | None = None,
) -> SearchResult:
    """Uniform single-path training, then ``tuner`` (evolution by default) over inherited-weight
    evaluations.

    Args:
        supernet: Trained in place.
        data: Training rows train the weights; validation rows rank the architectures.
        epochs, batch_size, lr, weight_decay: Supernet training.
        tuner: The search tuner's registered name.
        n_evals: Architectures evaluated.
        population_size, sample_size: Evolution's settings (ignored for other tuners).
        seed: Seeds everything.
        max_seconds: Stop supernet training after the epoch that passes this wall time.
        on_epoch: Called with ``(epoch, metrics)`` during training; True stops training.
    """
    start = time.perf_counter()
    result = SearchResult("spos", supernet.sample(np.random.default_rng(seed)), 0.0)
    train_single_path(
        supernet, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        seed=seed, on_epoch=on_epoch, max_seconds=max_seconds, result=result,
    )  # fmt: skip
    args: dict[str, Any] = {}
    if tuner == "evolution":
        pop = max(2, min(population_size, n_evals))
        args = {"population_size": pop, "sample_size": max(1, min(sample_size, pop))}
    tuner_search(
        supernet, data, tuner=tuner, n_evals=n_evals, seed=seed, tuner_args=args, result=result
    )
    result.seconds = time.perf_counter() - start
    return result
