"""ENAS (Pham et al. 2018): a reinforcement-learning controller samples the paths of a shared
supernet. Imports torch.

The controller is hyperloom's own ``rl`` tuner (an LSTM policy updated with PPO), driven
in-process through its public ``suggest``/``observe``: every weight step trains the path the
controller suggests, and that path's accuracy on one validation batch (the shared weights as
they are, batch statistics) is observed as its reward, so the policy and the shared weights
improve together, as in the paper (which alternates whole phases; we interleave at step
granularity, which is simpler and no worse on a small budget). At the end ``n_candidates``
paths are drawn from the policy and the best by full inherited-weight validation is kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from hyperloom.plugins.nas._data import Dataset
from hyperloom.plugins.nas._oneshot import (
    EpochCallback,
    SearchResult,
    arch_space,
    evaluate_finetuned,
    evaluate_inherited,
    tensors,
    tuner_loop_result,
)
from hyperloom.plugins.nas._spos import rerank_finetuned, train_single_path, within_free_cap
from hyperloom.plugins.nas._supernet import Supernet

__all__ = ["enas_search"]


def enas_search(
    supernet: Supernet,
    data: Dataset,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    controller: str = "rl",
    controller_args: Mapping[str, Any] | None = None,
    reward_batch: int = 128,
    n_candidates: int = 50,
    warmup_paths: int = 0,
    max_free: int | None = None,
    size_calibration: int = 0,
    calibration_epochs: int = 4,
    size_metric: str = "params",
    finetune_epochs: int = 1,
    rerank: int = 5,
    rerank_epochs: int = 3,
    seed: int = 0,
    max_seconds: float | None = None,
    on_epoch: EpochCallback | None = None,
) -> SearchResult:
    """Trains the supernet on controller-sampled paths and derives the best sampled path.

    Args:
        supernet: Trained in place.
        data: Training rows train the weights; validation rows give the rewards.
        epochs, batch_size, lr, weight_decay: Supernet training.
        controller: The controller tuner's registered name (``rl``: LSTM + PPO).
        controller_args: Its class arguments (default ``{"batch_size": 8}``).
        reward_batch: Validation rows per reward.
        n_candidates: Paths drawn from the final policy and validated in full (50 since
            session 7, SPOS's ``n_evals``: with fine-tuned evaluations both searches then
            evaluate the same number of cells).
        warmup_paths: Epochs of fair (FairNAS) path sampling before the controller takes over:
            a controller that starts on untrained shared weights learns to prefer the paths
            that train fastest (parameter-free ones), then keeps training only those.
        max_free: Derive only cells within DARTS's collapse cap (see
            :func:`~hyperloom.plugins.nas._spos.within_free_cap`): after the ``n_candidates``
            policy samples, up to ``n_candidates`` more that obey the cap are validated (from at
            most ``50 * n_candidates`` draws) and the best of those is kept.
        size_calibration: When > 0, this many random cells are retrained from scratch for
            ``calibration_epochs`` before the search (which pays for them); at the end of the
            warm-up a score ``w_acc * acc + w_size * log(size)`` is fitted on them
            (:class:`~hyperloom.plugins.nas._calibrate.SizeCalibration`) and the controller's
            reward is that score of its batch accuracy; at the end it is refitted on the trained
            supernet and the candidates are ranked by it. ``size_metric``: ``"params"`` or
            ``"flops"``.
        finetune_epochs: When > 0 (the default since session 7), each candidate is validated
            after this many epochs of fine-tuning a copy from the inherited weights
            (:func:`~hyperloom.plugins.nas._oneshot.evaluate_finetuned`) instead of with the
            inherited weights as they are, and that accuracy is also observed by the
            controller as the candidate's reward, so the policy keeps learning from the better
            signal while the candidates are drawn. Repeated policy samples are not evaluated
            twice: up to ``n_candidates`` distinct cells from at most ``5 * n_candidates``
            draws. 0: the paper's inherited-weight validation.
        rerank, rerank_epochs: When ``rerank`` > 1, the ``rerank`` best distinct candidates are
            compared again by ``rerank_epochs`` epochs of fine-tuning
            (:func:`~hyperloom.plugins.nas._spos.rerank_finetuned`) and the best of those is the
            result.
        seed: Seeds everything.
        max_seconds: Stop training after the epoch that passes this wall time.
        on_epoch: Called with ``(epoch, metrics)``; True stops training.
    """
    from hyperloom.registry import load_tuner

    start = time.perf_counter()
    space = arch_space(supernet)
    args = {"batch_size": 8, **dict(controller_args or {})}
    ctl = load_tuner(controller, space, mode="maximize", seed=seed, **args)
    _, _, x_va, y_va, _, _ = tensors(data)
    rng = np.random.default_rng(seed + 1)
    state: dict[str, Any] = {"i": 0, "params": {}}  # the controller's current suggestion
    result = SearchResult("enas", supernet.sample(np.random.default_rng(seed)), 0.0)
    warm = max(0, min(int(warmup_paths), epochs))
    if warm:
        result.notes.append(f"{warm} epochs of fair path sampling before the controller")
    calib = None
    if size_calibration > 0:
        from hyperloom.plugins.nas._calibrate import SizeCalibration

        calib = SizeCalibration(
            supernet, data, n_cells=size_calibration, epochs=calibration_epochs,
            metric=size_metric, seed=seed, lr=lr, batch_size=batch_size,
        )  # fmt: skip
        if warm == 0:
            calib.fit(data)

    def epoch_done(epoch: int, metrics: dict[str, float]) -> bool | None:
        if calib is not None and warm and epoch == warm - 1:
            calib.fit(data)  # the controller's reward from here on
            result.notes.append("warm-up " + calib.describe())
        return on_epoch(epoch, metrics) if on_epoch is not None else None

    def value(arch: dict[str, Any], acc: float) -> float:
        return acc if calib is None else calib.score(arch, acc)

    def sampler() -> dict[str, Any]:
        state["i"] = int(state["i"]) + 1
        params = ctl.suggest(f"s{state['i']}")
        if not isinstance(params, dict):  # exhausted tiny space: fall back to uniform
            params = {k: v for k, v in supernet.sample(rng).items() if k in supernet.decisions}
        state["params"] = params
        return {**params, **supernet.fixed}

    def after_step(arch: dict[str, Any]) -> None:
        idx = torch.from_numpy(
            rng.choice(len(y_va), size=min(reward_batch, len(y_va)), replace=False)
        )
        with torch.no_grad():
            acc = float((supernet(x_va[idx], arch).argmax(1) == y_va[idx]).float().mean())
        reward = value(arch, acc)
        ctl.observe(tuner_loop_result(f"s{state['i']}", dict(state["params"]), reward))

    train_single_path(
        supernet, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        seed=seed, sampler=sampler, sampler_from=warm, sampling="fair", after_step=after_step,
        on_epoch=epoch_done, max_seconds=max_seconds, result=result,
    )  # fmt: skip
    if calib is not None:
        calib.fit(data)
        result.notes.append(calib.describe())
    best: tuple[float, dict[str, Any], float] | None = None
    cache: dict[str, float] = {}

    def evaluate(arch: dict[str, Any]) -> float:
        k = json.dumps(arch, sort_keys=True, default=str)
        if k not in cache:
            if finetune_epochs > 0:
                cache[k] = evaluate_finetuned(
                    supernet, arch, data, epochs=finetune_epochs, seed=seed
                )
            else:
                cache[k] = evaluate_inherited(supernet, arch, data, n_val=500)
            result.evaluations.append((arch, cache[k]))
            v = value(arch, cache[k])
            if calib is not None:
                result.scores.append(v)
        return cache[k]

    draws = 0
    limit = n_candidates if finetune_epochs <= 0 else 5 * n_candidates
    while len(cache) < n_candidates and draws < limit:
        draws += 1
        arch = sampler()
        acc = evaluate(arch)
        v = value(arch, acc)
        if finetune_epochs > 0:  # the controller learns from the fine-tuned reward too
            ctl.observe(tuner_loop_result(f"s{state['i']}", dict(state["params"]), v))
        if best is None or v > best[0]:
            best = (v, arch, acc)
    if finetune_epochs > 0:
        result.notes.append(
            f"{len(cache)} distinct candidates of {draws} policy draws, fine-tuned "
            f"{finetune_epochs} epoch(s) from inherited weights (also the controller's reward)"
        )
    if max_free is not None:
        capped: tuple[float, dict[str, Any], float] | None = None
        found = 0
        for _ in range(50 * n_candidates):
            if found >= n_candidates:
                break
            arch = sampler()
            if not within_free_cap(supernet, arch, max_free):
                continue
            found += 1
            acc = evaluate(arch)
            v = value(arch, acc)
            if capped is None or v > capped[0]:
                capped = (v, arch, acc)
        result.notes.append(f"cap {max_free}: {found} policy samples within it")
        if capped is not None:
            best = capped
        else:
            result.notes.append("no policy sample within the cap: kept the uncapped best")
    if best is not None:
        result.arch, result.val_acc = best[1], best[2]
    if rerank > 1:
        pool = [
            (value(a, acc), a)
            for a, acc in result.evaluations
            if max_free is None or within_free_cap(supernet, a, max_free)
        ]
        rerank_finetuned(
            supernet, data, pool, top=rerank, epochs=rerank_epochs, seed=seed,
            score=None if calib is None else calib.score, result=result,
        )  # fmt: skip
    if calib is not None:
        result.calibration = calib.as_dict()
    result.seconds = time.perf_counter() - start
    return result
