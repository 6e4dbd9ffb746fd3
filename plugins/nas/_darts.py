"""DARTS (Liu et al. 2019), first and second order, in plain torch. Imports torch.

Weights and alphas are updated alternately: the alphas on a validation batch (Adam), the weights
on a training batch (SGD with momentum, cosine schedule). ``order=2`` uses the unrolled gradient
of the paper: one virtual SGD step ``w' = w - xi * grad_w L_train(w, a)`` (momentum and weight
decay of the real optimiser left out of the virtual step), ``grad_a L_val(w', a)``, and the
Hessian-vector product by central finite differences,
``- xi * (grad_a L_train(w+, a) - grad_a L_train(w-, a)) / (2 eps)``, ``w± = w ± eps grad_w'
L_val``, ``eps = 0.01 / ||grad_w' L_val||``.

**Skip-connection collapse guard.** DARTS drifts towards parameter-free ops (identity, and on
short CPU budgets pooling too: they help the mixed network before the convolutions have
learned anything). Two guards, both from the literature:

* *derivation cap* (P-DARTS, Chen et al. 2019, on by default): the derived cell keeps at most
  ``max_skip`` parameter-free ops of ``guard_ops`` (identity and the pools by default; the normal
  cell only, for cell spaces); the surplus ones, lowest alpha first, take their best op that
  carries weights. Deterministic and free.
* *early stopping* (DARTS+, Liang et al. 2019, ``early_stop=True``): after every epoch past the
  warm-up the unconstrained architecture is derived; once it holds more than ``max_skip`` guarded
  ops the search stops and the last architecture within the limit (capped as above) is kept.

We default to the cap rather than DARTS-PT's perturbation selection because it needs no extra
evaluations and its outcome is easy to state.
Optional ProxylessNAS latency term: ``latency_weight * E[lat] /
E0[lat]`` (``E0``: the expectation under uniform alphas) added to the alpha loss.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from hyperloom.plugins.nas._data import Dataset
from hyperloom.plugins.nas._latency import expected_latency
from hyperloom.plugins.nas._oneshot import (
    EpochCallback,
    SearchResult,
    accuracy,
    batches,
    evaluate_inherited,
    tensors,
)
from hyperloom.plugins.nas._supernet import Supernet

__all__ = ["GUARD_OPS", "capped_skips", "darts_search", "skip_count"]


#: The ops the collapse guard limits by default.
GUARD_OPS = ("identity", "max_pool_3x3", "avg_pool_3x3")


def _guarded_keys(supernet: Supernet, arch: dict[str, Any], ops: Iterable[str]) -> list[str]:
    wanted = set(ops)
    return [
        k
        for k, v in arch.items()
        if v in wanted
        and k in supernet.decisions
        and "_op" in k
        and (supernet.kind != "cell" or k.startswith("normal_"))
    ]


def skip_count(supernet: Supernet, arch: dict[str, Any], ops: Iterable[str] = GUARD_OPS) -> int:
    """Guarded (parameter-free) ops in the architecture (the normal cell only, for cells)."""
    return len(_guarded_keys(supernet, arch, ops))


def capped_skips(
    supernet: Supernet, arch: dict[str, Any], max_skip: int, ops: Iterable[str] = GUARD_OPS
) -> dict[str, Any]:
    """``arch`` with its guarded ops beyond ``max_skip`` (those of lowest alpha) replaced by the
    best op outside ``ops`` and "zero"."""
    banned = {*ops, "zero"}
    keys = _guarded_keys(supernet, arch, ops)
    if len(keys) <= max_skip:
        return arch
    with torch.no_grad():
        probs = supernet.softmax()
    opts = supernet.decisions
    keys.sort(key=lambda k: -float(probs[k][opts[k].index(arch[k])]))
    out = dict(arch)
    for k in keys[max_skip:]:
        order = torch.argsort(probs[k], descending=True).tolist()
        out[k] = next((opts[k][i] for i in order if opts[k][i] not in banned), arch[k])
    return out


def _loss(
    net: Supernet, x: torch.Tensor, y: torch.Tensor, lat: Any, lat_weight: float, lat0: float
) -> torch.Tensor:
    loss = F.cross_entropy(net(x), y)
    if lat is not None and lat_weight > 0:
        loss = loss + lat_weight * expected_latency(net, lat) / lat0
    return loss


def _second_order_grads(
    net: Supernet,
    xt: torch.Tensor,
    yt: torch.Tensor,
    xv: torch.Tensor,
    yv: torch.Tensor,
    xi: float,
    lat: Any,
    lat_weight: float,
    lat0: float,
) -> list[torch.Tensor]:
    weights, alphas = net.weight_parameters(), net.arch_parameters()
    saved = [p.detach().clone() for p in weights]
    g_train = torch.autograd.grad(F.cross_entropy(net(xt), yt), weights, allow_unused=True)
    with torch.no_grad():
        for p, g in zip(weights, g_train, strict=True):
            if g is not None:
                p.sub_(xi * g)
    val_loss = _loss(net, xv, yv, lat, lat_weight, lat0)
    grads = torch.autograd.grad(val_loss, [*alphas, *weights], allow_unused=True)
    d_alpha = [
        g if g is not None else torch.zeros_like(a) for g, a in zip(grads, alphas, strict=False)
    ]
    d_w = grads[len(alphas) :]
    norm = torch.sqrt(torch.stack([(g * g).sum() for g in d_w if g is not None]).sum() + 1e-24)
    eps = 0.01 / float(norm)
    hessian: list[list[torch.Tensor]] = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for p, s, g in zip(weights, saved, d_w, strict=True):
                p.copy_(s)
                if g is not None:
                    p.add_(sign * eps * g)
        ga = torch.autograd.grad(F.cross_entropy(net(xt), yt), alphas, allow_unused=True)
        hessian.append(
            [g if g is not None else torch.zeros_like(a) for g, a in zip(ga, alphas, strict=True)]
        )
    with torch.no_grad():
        for p, s in zip(weights, saved, strict=True):
            p.copy_(s)
    return [
        da - xi * (hp - hn) / (2 * eps)
        for da, hp, hn in zip(d_alpha, hessian[0], hessian[1], strict=True)
    ]


def darts_search(
    supernet: Supernet,
    data: Dataset,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 3e-4,
    arch_lr: float = 3e-3,
    arch_weight_decay: float = 1e-3,
    order: int = 1,
    grad_clip: float = 5.0,
    max_skip: int | None = 2,
    guard_ops: Iterable[str] = GUARD_OPS,
    early_stop: bool = False,
    warmup_epochs: int = 0,
    latency_table: dict[tuple[int, int, int], float] | None = None,
    latency_weight: float = 0.0,
    seed: int = 0,
    max_seconds: float | None = None,
    on_epoch: EpochCallback | None = None,
) -> SearchResult:
    """Runs DARTS on ``supernet`` and derives an architecture.

    Args:
        supernet: The supernet (its weights and alphas are trained in place).
        data: Training rows train the weights, validation rows the alphas.
        epochs: Passes over the training rows.
        batch_size: Rows per step (one training and one validation batch per step).
        lr, momentum, weight_decay: The weights' SGD (cosine-annealed ``lr``).
        arch_lr, arch_weight_decay: The alphas' Adam.
        order: 1 (first order) or 2 (unrolled second order; ``xi`` = the current ``lr``).
        grad_clip: Gradient-norm clip of the weights.
        max_skip: The collapse guard's limit on ``guard_ops`` in the derived cell (None: off).
        guard_ops: The ops the guard counts.
        early_stop: Also stop the search once the unconstrained derivation exceeds the limit.
        warmup_epochs: Epochs that train the weights only (alphas frozen).
        latency_table: Per-op latencies (:func:`~hyperloom.plugins.nas.op_latency_table`).
        latency_weight: Weight of the expected-latency term (0: off).
        seed: Seeds batching and initialisation.
        max_seconds: Stop after the epoch that passes this wall time.
        on_epoch: Called with ``(epoch, metrics)``; True stops the search.

    Returns:
        The derived architecture, its inherited-weight validation accuracy and the history.
    """
    if order not in (1, 2):
        raise ValueError(f"darts: order must be 1 or 2, got {order!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr, x_va, y_va, _, _ = tensors(data)
    w_opt = torch.optim.SGD(
        supernet.weight_parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    steps_per_epoch = max(1, len(y_tr) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, epochs * steps_per_epoch)
    a_opt = torch.optim.Adam(
        supernet.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999), weight_decay=arch_weight_decay
    )
    lat0 = 1.0
    if latency_table is not None and latency_weight > 0:
        with torch.no_grad():
            lat0 = float(expected_latency(supernet, latency_table)) or 1.0
    start = time.perf_counter()
    result = SearchResult("darts", supernet.derive(), 0.0)
    last_ok: dict[str, Any] | None = None
    for epoch in range(epochs):
        supernet.train()
        total, n = 0.0, 0
        val_iter = batches(len(y_va), batch_size, gen)
        for idx in batches(len(y_tr), batch_size, gen):
            if epoch >= warmup_epochs:
                v_idx = next(val_iter, None)
                if v_idx is None:
                    val_iter = batches(len(y_va), batch_size, gen)
                    v_idx = next(val_iter)
                xv, yv = x_va[v_idx], y_va[v_idx]
                a_opt.zero_grad()
                if order == 1:
                    loss_a = _loss(supernet, xv, yv, latency_table, latency_weight, lat0)
                    grads = torch.autograd.grad(loss_a, supernet.arch_parameters())
                else:
                    xi = float(w_opt.param_groups[0]["lr"])
                    grads = tuple(
                        _second_order_grads(
                            supernet, x_tr[idx], y_tr[idx], xv, yv, xi,
                            latency_table, latency_weight, lat0,
                        )
                    )  # fmt: skip
                for a, g in zip(supernet.arch_parameters(), grads, strict=True):
                    a.grad = g.detach()
                a_opt.step()
            w_opt.zero_grad()
            loss = F.cross_entropy(supernet(x_tr[idx]), y_tr[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            for a in supernet.arch_parameters():
                a.grad = None
            torch.nn.utils.clip_grad_norm_(supernet.weight_parameters(), grad_clip)
            w_opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        arch = supernet.derive()
        skips = skip_count(supernet, arch, guard_ops)
        metrics = {
            "epoch": float(epoch),
            "supernet_acc": accuracy(supernet, x_va, y_va),
            "train_loss": total / max(1, n),
            "skips": float(skips),
            "entropy": supernet.entropy(),
            "seconds": time.perf_counter() - start,
        }
        if latency_table is not None:
            with torch.no_grad():
                metrics["expected_latency_ms"] = float(expected_latency(supernet, latency_table))
        result.history.append(metrics)
        stop = bool(on_epoch(epoch, metrics)) if on_epoch is not None else False
        over = max_skip is not None and skips > max_skip and epoch >= warmup_epochs
        if early_stop and over:
            result.notes.append(
                f"early stop: {skips} guarded ops > max_skip={max_skip} at epoch {epoch}; "
                + ("kept the previous epoch's architecture" if last_ok else "capped them")
            )
            break
        last_ok = arch
        if stop:
            break
        if max_seconds is not None and metrics["seconds"] > max_seconds:
            result.notes.append(f"time budget {max_seconds}s reached after epoch {epoch}")
            break
    final = last_ok if last_ok is not None else supernet.derive()
    if max_skip is not None:
        capped = capped_skips(supernet, final, max_skip, guard_ops)
        if capped != final:
            result.notes.append(
                f"cap: {skip_count(supernet, final, guard_ops)} guarded ops cut to {max_skip}"
            )
        final = capped
    result.arch = final
    result.val_acc = evaluate_inherited(supernet, final, data)
    result.seconds = time.perf_counter() - start
    return result
