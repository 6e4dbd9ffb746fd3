"""SPOS (Guo et al. 2020): uniform single-path training of the supernet, then evolution with
inherited-weight evaluations. Imports torch.

The search is an ordinary :class:`~hyperloom.tuners.Tuner` (``evolution`` by default, any
registered tuner by name) driven in-process through its public ``suggest``/``observe``: each
suggestion is validated with the supernet's weights (batch norm recalibrated on two training
batches, as the paper does), which takes milliseconds on a small supernet, and fed back as an
ended trial.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
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
    evaluate_finetuned,
    evaluate_inherited,
    sample_probe,
    tensors,
    tuner_loop_result,
)
from hyperloom.plugins.nas._supernet import Supernet

__all__ = [
    "FairSampler",
    "rerank_finetuned",
    "spos_search",
    "train_single_path",
    "tuner_search",
    "within_free_cap",
]


def within_free_cap(supernet: Supernet, arch: Mapping[str, Any], max_free: int) -> bool:
    """Whether ``arch`` obeys DARTS's collapse cap: no "zero" op and at most ``max_free``
    guarded parameter-free ops (``GUARD_OPS``, normal cell) - the cells a capped DARTS
    derivation can produce, so the single-path methods can be held to the same rule."""
    from hyperloom.plugins.nas._darts import skip_count

    a = dict(arch)
    if any(v == "zero" for k, v in a.items() if k in supernet.decisions and "_op" in k):
        return False
    return skip_count(supernet, a) <= max_free


def rerank_finetuned(
    supernet: Supernet,
    data: Dataset,
    ranked: list[tuple[float, dict[str, Any]]],
    *,
    top: int,
    epochs: int,
    seed: int,
    score: Callable[[dict[str, Any], float], float] | None = None,
    result: SearchResult,
) -> None:
    """Re-ranks the ``top`` best distinct architectures of ``ranked`` (``(value, arch)`` pairs of
    the search's evaluations) by a longer fine-tuning from the inherited weights
    (:func:`evaluate_finetuned` for ``epochs`` epochs, batch order ``seed + 1``, so it is not
    the search's own noise again) and puts the best of them into ``result``.

    The best of many noisy evaluations is the one whose noise was luckiest (the winner's curse);
    a second, more accurate look at a few finalists costs little (``top * epochs`` epochs of
    one small network) and picks among them on a better estimate. The re-ranked accuracies go
    to ``result.reranked``; the scores (``score(arch, acc)`` when given) decide."""
    seen: set[str] = set()
    finalists: list[dict[str, Any]] = []
    for _, arch in sorted(ranked, key=lambda t: -t[0]):
        k = json.dumps(arch, sort_keys=True, default=str)
        if k not in seen:
            seen.add(k)
            finalists.append(arch)
        if len(finalists) >= top:
            break
    if len(finalists) < 2:
        return
    t0 = time.perf_counter()
    best: tuple[float, dict[str, Any], float] | None = None
    for arch in finalists:
        acc = evaluate_finetuned(supernet, arch, data, epochs=epochs, seed=seed + 1)
        result.reranked.append((arch, acc))
        value = acc if score is None else score(arch, acc)
        if best is None or value > best[0]:
            best = (value, arch, acc)
    assert best is not None
    result.arch, result.val_acc = best[1], best[2]
    result.notes.append(
        f"re-ranked the top {len(finalists)} by {epochs}-epoch fine-tuning in "
        f"{time.perf_counter() - t0:.2f}s; kept finalist "
        f"{finalists.index(best[1]) + 1} of {len(finalists)}"
    )


def _lr_factor(step: int, warm: int, total: int) -> float:
    """Linear warmup over ``warm`` steps, then cosine decay to 0 at ``total``."""
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


class FairSampler:
    """Paths with strict fairness (FairNAS, Chu et al. 2021): in each block of ``m`` calls, ``m``
    the largest option count, every option of every decision appears ``m // n`` or
    ``m // n + 1`` times (``n`` its option count), in a random order drawn per block."""

    def __init__(self, supernet: Supernet, rng: np.random.Generator) -> None:
        self.supernet = supernet
        self.rng = rng
        self.m = max(len(v) for v in supernet.decisions.values())
        self.block: list[dict[str, Any]] = []

    def _new_block(self) -> None:
        cols: dict[str, list[Any]] = {}
        for key, opts in self.supernet.decisions.items():
            n = len(opts)
            idx = list(range(n)) * (self.m // n) + list(self.rng.permutation(n)[: self.m % n])
            seq = [opts[int(i)] for i in self.rng.permutation(idx)]
            cols[key] = seq
        self.block = [
            {**{k: cols[k][i] for k in cols}, **self.supernet.fixed} for i in range(self.m)
        ]

    def __call__(self) -> dict[str, Any]:
        if not self.block:
            self._new_block()
        return self.block.pop()


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
    sampler_from: int = 0,
    sampling: str = "uniform",
    warmup_epochs: int = 0,
    after_step: Any = None,
    on_epoch: EpochCallback | None = None,
    max_seconds: float | None = None,
    result: SearchResult,
) -> None:
    """Trains the shared weights one sampled path per step (Adam, cosine schedule: on a budget of
    a few CPU minutes it converges much faster than the papers' SGD).

    ``sampler()`` returns the path of the next step from epoch ``sampler_from`` on; before
    that, or without one, ``sampling`` says how paths are drawn: ``"uniform"`` (SPOS) or
    ``"fair"`` (FairNAS's strict fairness: every option of every decision is trained equally
    often in each block of ``m`` steps, ``m`` the largest option count, in a fresh random order
    per block; unlike FairNAS the weights are updated after every step, not once per block, so
    a fair epoch costs what a uniform one does). ``warmup_epochs`` ramps the learning rate
    linearly from 0 before the cosine decay. ``after_step(arch)`` runs after each step that
    ``sampler`` chose (ENAS's controller update). After every epoch the mean inherited accuracy
    of three fixed random paths is the supernet accuracy given to ``on_epoch``.
    """
    if sampling not in ("uniform", "fair"):
        raise ValueError(f"sampling must be 'uniform' or 'fair', got {sampling!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_tr, y_tr, _, _, _, _ = tensors(data)
    opt = torch.optim.Adam(supernet.weight_parameters(), lr=lr, weight_decay=weight_decay)
    per_epoch = max(1, len(y_tr) // batch_size)
    steps = max(1, epochs * per_epoch)
    warm = min(max(0, warmup_epochs) * per_epoch, steps - 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: _lr_factor(t, warm, steps))
    fair = FairSampler(supernet, rng) if sampling == "fair" else None

    def default_draw() -> dict[str, Any]:
        return fair() if fair is not None else supernet.sample(rng)

    probe = sample_probe(supernet, seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        supernet.train()
        total, n = 0.0, 0
        for idx in batches(len(y_tr), batch_size, gen):
            controlled = sampler is not None and epoch >= sampler_from
            arch = sampler() if controlled else default_draw()
            opt.zero_grad()
            loss = F.cross_entropy(supernet(x_tr[idx], arch), y_tr[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(supernet.weight_parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
            if controlled and after_step is not None:
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
    feasible: Callable[[dict[str, Any]], bool] | None = None,
    score: Callable[[dict[str, Any], float], float] | None = None,
    finetune_epochs: int = 0,
    rerank: int = 0,
    rerank_epochs: int = 3,
    result: SearchResult,
) -> None:
    """Searches the trained supernet with a registered tuner whose evaluations are inherited-
    weight validations; the best evaluated architecture goes into ``result``.

    With ``feasible``, suggestions it refuses are observed with accuracy 0 without being
    evaluated and do not count towards ``n_evals`` (at most ``50 * n_evals`` suggestions).
    With ``score(arch, acc)``, the tuner observes (and the best is chosen by) that score instead
    of the raw accuracy (a refused suggestion then gets the lowest score seen so far).
    With ``rerank`` > 1, the ``rerank`` best distinct evaluated architectures are compared again
    by ``rerank_epochs`` epochs of fine-tuning (:func:`rerank_finetuned`) and the best of those
    is kept."""
    from hyperloom.registry import load_tuner

    space = arch_space(supernet)
    t = load_tuner(tuner, space, mode="maximize", seed=seed, **dict(tuner_args or {}))
    best: tuple[float, dict[str, Any], float] | None = None
    t0 = time.perf_counter()
    refused = 0
    for i in range(50 * n_evals):
        if len(result.evaluations) >= n_evals:
            break
        params = t.suggest(f"e{i}")
        if not isinstance(params, dict):
            break  # exhausted (FINISHED) or "not now" with nothing running
        arch = {**params, **supernet.fixed}
        if feasible is not None and not feasible(arch):
            worst = min(result.scores) if score is not None and result.scores else 0.0
            t.observe(tuner_loop_result(f"e{i}", params, worst))
            refused += 1
            continue
        if finetune_epochs > 0:
            acc = evaluate_finetuned(supernet, arch, data, epochs=finetune_epochs, seed=seed)
        else:
            acc = evaluate_inherited(supernet, arch, data, n_val=n_val, bn_batches=bn_batches)
        value = acc if score is None else score(arch, acc)
        t.observe(tuner_loop_result(f"e{i}", params, value))
        result.evaluations.append((arch, acc))
        if score is not None:
            result.scores.append(value)
        if best is None or value > best[0]:
            best = (value, arch, acc)
    if best is not None:
        result.arch, result.val_acc = best[1], best[2]
    ranked = (
        list(zip(result.scores, (a for a, _ in result.evaluations), strict=True))
        if score is not None
        else [(acc, arch) for arch, acc in result.evaluations]
    )
    result.notes.append(
        f"{tuner}: {len(result.evaluations)} "
        f"{'fine-tuned' if finetune_epochs > 0 else 'inherited-weight'} evaluations in "
        f"{time.perf_counter() - t0:.2f}s"
        + (f", {refused} infeasible suggestions" if refused else "")
    )
    if rerank > 1:
        rerank_finetuned(
            supernet, data, ranked, top=rerank, epochs=rerank_epochs, seed=seed, score=score,
            result=result,
        )  # fmt: skip


def _both(
    a: Callable[[dict[str, Any]], bool] | None, b: Callable[[dict[str, Any]], bool] | None
) -> Callable[[dict[str, Any]], bool] | None:
    if a is None or b is None:
        return a or b
    return lambda arch: a(arch) and b(arch)


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
    sampling: str = "uniform",
    warmup_epochs: int = 0,
    bn_batches: int = 2,
    n_val: int | None = 500,
    max_free: int | None = None,
    size_calibration: int = 0,
    calibration_epochs: int = 4,
    size_metric: str = "params",
    feasible: Callable[[dict[str, Any]], bool] | None = None,
    finetune_epochs: int = 1,
    rerank: int = 5,
    rerank_epochs: int = 3,
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
        sampling: ``"uniform"`` (SPOS) or ``"fair"`` (FairNAS strict fairness) path sampling.
        warmup_epochs: Linear learning-rate warmup before the cosine decay.
        bn_batches: Training batches of 128 that recalibrate batch norm per evaluated path.
        n_val: Validation rows per evaluation (None: all).
        max_free: Search only cells that DARTS's derivation with ``max_skip=max_free`` could
            give (:func:`within_free_cap`: no "zero", at most this many parameter-free ops);
            None searches everything.
        size_calibration: When > 0, this many random cells are retrained from scratch for
            ``calibration_epochs`` (inside the search, which pays for them) and the evolution
            ranks by ``w_acc * inherited_acc + w_size * log(size)`` fitted on them
            (:class:`~hyperloom.plugins.nas._calibrate.SizeCalibration`) instead of the raw
            inherited accuracy; ``size_metric`` is ``"params"`` or ``"flops"``.
        feasible: Search only the cells it accepts (with ``max_free``: both must), e.g. a
            parameter budget; refused suggestions are not evaluated and do not count.
        finetune_epochs: When > 0, every evaluation of the search trains a copy of the path
            for this many epochs from the inherited weights and takes its validation accuracy
            (:func:`~hyperloom.plugins.nas._oneshot.evaluate_finetuned`; about 0.6 CPU s per
            evaluation on the example's setting instead of 0.05, and a far better ranking
            there) instead of the inherited accuracy. The default since session 7 (0: the
            inherited accuracy, as in the paper).
        rerank, rerank_epochs: When ``rerank`` > 1, the ``rerank`` best distinct evaluated
            cells are compared again by ``rerank_epochs`` epochs of fine-tuning from the
            inherited weights (:func:`rerank_finetuned`), and the best of those is the result.
        seed: Seeds everything.
        max_seconds: Stop supernet training after the epoch that passes this wall time.
        on_epoch: Called with ``(epoch, metrics)`` during training; True stops training.
    """
    start = time.perf_counter()
    result = SearchResult("spos", supernet.sample(np.random.default_rng(seed)), 0.0)
    calib = None
    if size_calibration > 0:
        from hyperloom.plugins.nas._calibrate import SizeCalibration

        calib = SizeCalibration(
            supernet, data, n_cells=size_calibration, epochs=calibration_epochs,
            metric=size_metric, seed=seed, lr=lr, batch_size=batch_size,
        )  # fmt: skip
    train_single_path(
        supernet, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        seed=seed, sampling=sampling, warmup_epochs=warmup_epochs, on_epoch=on_epoch,
        max_seconds=max_seconds, result=result,
    )  # fmt: skip
    if calib is not None:
        calib.fit(data, n_val=n_val, bn_batches=bn_batches)
        result.notes.append(calib.describe())
    args: dict[str, Any] = {}
    if tuner == "evolution":
        pop = max(2, min(population_size, n_evals))
        args = {"population_size": pop, "sample_size": max(1, min(sample_size, pop))}
    tuner_search(
        supernet, data, tuner=tuner, n_evals=n_evals, seed=seed, n_val=n_val,
        bn_batches=bn_batches, tuner_args=args, result=result,
        feasible=_both(
            None if max_free is None else lambda a: within_free_cap(supernet, a, max_free),
            feasible,
        ),
        score=None if calib is None else calib.score,
        finetune_epochs=finetune_epochs, rerank=rerank, rerank_epochs=rerank_epochs,
    )  # fmt: skip
    if finetune_epochs > 0:
        result.notes.append(
            f"evaluations fine-tuned {finetune_epochs} epoch(s) from inherited weights"
        )
    if calib is not None:
        result.calibration = calib.as_dict()
    result.seconds = time.perf_counter() - start
    return result
