"""One NAS trial: build the sampled cell network, train it a few epochs on sklearn's 8x8 digits
on the CPU, report validation accuracy after every epoch.

Run alone (``python train.py``) it trains the hand-designed baseline cell (the default outside
an experiment; ``--arch baseline`` forces it, ``--arch FILE.json`` trains a saved architecture)
and prints its reports. ``--seed`` changes the weight
initialisation and batch order, never the data split.

Reported: ``report(val_acc, step=epoch)`` per epoch, then ``report_final(val_acc, ...)`` with
extra metrics: held-out test accuracy, parameter count, multiply-accumulates per image, training
seconds, and ``score``, a size-aware objective (accuracy minus 0.02 per doubling of the
parameter count above 10k) that a config may optimise instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hyperloom import trials
from hyperloom.plugins.nas import build_model
from sklearn.datasets import load_digits

torch.set_num_threads(1)

#: A hand-designed cell in the spirit of DARTS: separable convs on the cell inputs, a pooled and
#: a dilated path, an identity shortcut.
BASELINE = {
    "normal_n0_in0": 0, "normal_n0_op0": "sep_conv_3x3", "normal_n0_in1": 1, "normal_n0_op1": "sep_conv_3x3",
    "normal_n1_in0": 1, "normal_n1_op0": "sep_conv_3x3", "normal_n1_in1": 2, "normal_n1_op1": "identity",
    "normal_n2_in0": 2, "normal_n2_op0": "dil_conv_3x3", "normal_n2_in1": 1, "normal_n2_op1": "avg_pool_3x3",
}  # fmt: skip

EPOCHS = int(os.environ.get("NAS_DIGITS_EPOCHS", "5"))  # the tests train for 1
CHANNELS = 8
LAYERS = 3
BATCH = 128
LR = 0.02


def data() -> tuple[torch.Tensor, ...]:
    """A fixed split of the 1797 digits: 1197 train, 300 validation (searched on), 300 test."""
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.tensor(np.random.default_rng(0).permutation(len(y)))
    x, y = x[order], y[order]
    return x[:1197], y[:1197], x[1197:1497], y[1197:1497], x[1497:], y[1497:]


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train()
    return acc


def train(
    arch: dict[str, Any], seed: int = 0, report: Callable[[float, int], bool] | None = None
) -> dict[str, Any]:
    """Trains ``arch`` for ``EPOCHS`` epochs; ``report(val_acc, epoch)`` after each one returns
    True to stop early. Returns the final validation and test accuracy, size and cost."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr, x_va, y_va, x_te, y_te = data()
    model = build_model(arch, (1, 8, 8), 10, channels=CHANNELS, layers=LAYERS)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    start = time.perf_counter()
    val = 0.0
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(y_tr), generator=gen)
        for i in range(0, len(perm), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        sched.step()
        val = accuracy(model, x_va, y_va)
        if report is not None and report(val, epoch):
            break
    n_params = model.num_parameters()
    return {
        "val_acc": val,
        "test_acc": accuracy(model, x_te, y_te),
        "params": n_params,
        "macs": model.flops(),
        "train_seconds": round(time.perf_counter() - start, 2),
        "score": val - 0.02 * max(0.0, math.log2(n_params / 10_000)),
    }


def _report(value: float, epoch: int) -> bool:
    trials.report(value, step=epoch)
    return trials.should_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--arch",
        default="params",
        help="'params' (the trial's parameters; the baseline outside an experiment), "
        "'baseline', or a JSON file holding an architecture",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.arch == "baseline":
        arch = BASELINE
    elif args.arch == "params":
        arch = trials.get_params(defaults=BASELINE)
    else:
        with open(args.arch, encoding="utf-8") as f:
            arch = json.load(f)
    result = train(arch, args.seed, _report)
    trials.report_final(result.pop("val_acc"), **result)


if __name__ == "__main__":
    main()
