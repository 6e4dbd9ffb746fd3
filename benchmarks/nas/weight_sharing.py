"""Weight-sharing fidelity and proxies: Kendall's tau between inherited-weight accuracy (an
SPOS-trained supernet) and standalone accuracy (each architecture trained from scratch), for
sampled architectures of the nas-oneshot setting (Fashion-MNIST 7x7, see
examples/nas-oneshot/common.py). The same standalone runs measure the proxies: the rank
correlation with the final accuracy of the early accuracy (after the first epoch), of the early
accuracy corrected by size (beta fitted on the other half of the architectures, 2-fold), and of
learning-curve extrapolation, all from the first half of the standalone curve (8 validation
points per epoch).

    nice -n 10 python benchmarks/nas/weight_sharing.py [--archs 50] [--epochs 2] [--workers 2]

Standalone training is reduced to ``--epochs`` epochs (1 in the figures, on a shared machine) of Adam on the 2,000 training images;
the validation accuracy is recorded 8 times per epoch. Writes weight_sharing.json.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from _setup import common
from hyperloom.plugins.nas import (
    CurveExtrapolator,
    Supernet,
    evaluate_inherited,
    kendall_tau,
    size_corrected,
    spos_search,
)
from hyperloom.plugins.nas._oneshot import accuracy, batches, tensors
from hyperloom.plugins.nas._proxies import fit_size_beta

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent


def standalone_curve(arch: dict, data, epochs: int, seed: int, points: int = 8) -> list[float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr, x_va, y_va, _, _ = tensors(data)
    net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL).extract(arch, inherit=False)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    per_epoch = len(y_tr) // 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * per_epoch)
    marks = {round(per_epoch * (k + 1) / points) for k in range(points)}  # last one: epoch end
    curve = []
    for _ in range(epochs):
        for i, idx in enumerate(batches(len(y_tr), 64, gen)):
            net.train()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
            sched.step()
            if i + 1 in marks:
                curve.append(accuracy(net, x_va, y_va))
    return curve


def _curve_job(job: tuple[dict, int, int]) -> list[float]:
    torch.set_num_threads(1)
    return standalone_curve(job[0], common.data(), job[1], job[2])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--supernet-epochs", type=int, default=common.EPOCHS["spos"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    data = common.data()
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
    spos_search(
        net,
        data,
        epochs=args.supernet_epochs,
        n_evals=2,
        seed=args.seed,
        **{k: v for k, v in common.DEFAULTS["spos"].items() if k != "n_evals"},
    )
    t_super = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed + 100)
    archs = [net.sample(rng) for _ in range(args.archs)]
    t1 = time.perf_counter()
    inherited = [evaluate_inherited(net, a, data) for a in archs]
    t_eval = (time.perf_counter() - t1) / len(archs)
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        curves = pool.map(_curve_job, [(a, args.epochs, args.seed) for a in archs])
        for i, (a, curve) in enumerate(zip(archs, curves, strict=True)):
            size = net.extract(a, inherit=False).num_parameters()
            rows.append({"arch": a, "inherited": inherited[i], "curve": curve, "params": size})
            print(f"{i:3d} inh={inherited[i]:.3f} final={curve[-1]:.3f} params={size}", flush=True)
    final = [r["curve"][-1] for r in rows]
    cut = len(rows[0]["curve"]) // 2  # "early": halfway through the standalone training
    early = [r["curve"][cut - 1] for r in rows]
    sizes = [r["params"] for r in rows]
    horizon = len(rows[0]["curve"])
    extrap = [CurveExtrapolator(horizon).predict(r["curve"][:cut]) for r in rows]
    half = len(rows) // 2
    corrected = np.zeros(len(rows))
    betas = []
    for fit, apply in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        beta = fit_size_beta(early[fit], final[fit], sizes[fit])
        betas.append(beta)
        corrected[apply] = size_corrected(early[apply], sizes[apply], beta)
    out = {
        "archs": len(rows),
        "standalone_epochs": args.epochs,
        "supernet_seconds": t_super,
        "inherited_eval_ms": 1000 * t_eval,
        "tau_inherited_vs_standalone": kendall_tau(inherited, final),
        "tau_params_vs_standalone": kendall_tau(sizes, final),
        "tau_early_vs_final": kendall_tau(early, final),
        "tau_size_corrected_early_vs_final": kendall_tau(corrected, final),
        "size_betas": betas,
        "tau_extrapolated_vs_final": kendall_tau(extrap, final),
        "tau_inherited_size_corrected": None,
        "rows": rows,
    }
    # the size correction applied to the inherited accuracy too (same 2-fold protocol)
    inh_corr = np.zeros(len(rows))
    for fit, apply in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        beta = fit_size_beta(inherited[fit], final[fit], sizes[fit])
        inh_corr[apply] = size_corrected(inherited[apply], sizes[apply], beta)
    out["tau_inherited_size_corrected"] = kendall_tau(inh_corr, final)
    (HERE / "weight_sharing.json").write_text(json.dumps(out, indent=1))
    print("| measure | Kendall tau vs standalone final |")
    print("|---|---|")
    for k, v in out.items():
        if k.startswith("tau_"):
            print(f"| {k[4:]} | {v:.3f} |")
    print(f"inherited eval {out['inherited_eval_ms']:.1f} ms/arch; supernet {t_super:.0f}s")


if __name__ == "__main__":
    main()
