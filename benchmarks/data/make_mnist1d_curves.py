"""Makes the second learning-curve dataset: torch MLPs and CNNs on MNIST-1D.

MNIST-1D (Greydanus 2020, the ``mnist1d`` package) is a procedurally generated, 40-sample 1-D
analogue of MNIST that the package builds locally from ten templates (no download): 4,000
training and 1,000 test sequences, 10 classes. Unlike the 8x8 digits, it separates models: a
well-tuned MLP stays near 60-70% while a small CNN reaches 90% and more, so the search space here
(architecture, width/depth or channels/kernel, activation, optimizer, learning rate, momentum,
weight decay, batch size, dropout) looks like a real HPO run: a few configurations are good,
many are mediocre, and a wide learning-rate range makes some diverge.

Each configuration is trained with torch on one CPU thread, one pass over the shuffled training
set per epoch; after every epoch the script records the test accuracy and the test cross-entropy.

Output: ``benchmarks/data/mnist1d_curves.npz`` with the same keys as ``digits_mlp_curves.npz``
(``accuracy``, ``logloss``, ``params``, ``meta``), so ``benchmarks/assessors/replay.py --data``
replays either.

Needs the benchmark-only package ``mnist1d`` (``pip install mnist1d``). Usage (about 20 minutes
on 2 cores)::

    .venv/bin/python benchmarks/data/make_mnist1d_curves.py --configs 240 --epochs 50 --workers 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import functools  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _curves_io import main as curves_main  # noqa: E402  (this folder, on sys.path as the script's)

OUT = Path(__file__).with_name("mnist1d_curves.npz")
LOSS_CAP = 50.0


def sample_config(rng: np.random.Generator) -> dict[str, Any]:
    """One random hyperparameter configuration from a wide, NNI-example-like space."""
    arch = str(rng.choice(["mlp", "cnn"]))
    optimizer = str(rng.choice(["sgd", "adam"]))
    cfg: dict[str, Any] = {
        "arch": arch,
        "activation": str(rng.choice(["relu", "tanh", "elu"])),
        "optimizer": optimizer,
        "lr": float(10 ** rng.uniform(-4.0, 0.0)),
        "momentum": float(rng.uniform(0.0, 0.99)) if optimizer == "sgd" else 0.0,
        "weight_decay": float(10 ** rng.uniform(-6.0, -1.0)),
        "batch_size": int(2 ** rng.integers(5, 10)),  # 32 .. 512
        "dropout": float(rng.uniform(0.0, 0.5)),
        "init_seed": int(rng.integers(0, 2**31 - 1)),
    }
    if arch == "mlp":
        cfg["width"] = int(2 ** rng.integers(5, 9))  # 32 .. 256
        cfg["depth"] = int(rng.integers(1, 4))
    else:
        cfg["channels"] = int(2 ** rng.integers(3, 6))  # 8 .. 32
        cfg["conv_layers"] = int(rng.integers(2, 4))
        cfg["kernel"] = int(rng.choice([3, 5]))
    return cfg


def build_model(cfg: dict[str, Any]) -> Any:
    """The torch module a configuration describes (input: (batch, 1, 40))."""
    from torch import nn

    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}[cfg["activation"]]
    layers: list[nn.Module] = []
    if cfg["arch"] == "mlp":
        layers.append(nn.Flatten())
        width_in = 40
        for _ in range(cfg["depth"]):
            layers += [nn.Linear(width_in, cfg["width"]), act(), nn.Dropout(cfg["dropout"])]
            width_in = cfg["width"]
        layers.append(nn.Linear(width_in, 10))
    else:
        channels_in, length = 1, 40
        kernel = cfg["kernel"]
        for _ in range(cfg["conv_layers"]):
            layers += [
                nn.Conv1d(channels_in, cfg["channels"], kernel, stride=2, padding=kernel // 2),
                act(),
            ]
            channels_in = cfg["channels"]
            length = (length + 2 * (kernel // 2) - kernel) // 2 + 1
        layers += [nn.Flatten(), nn.Dropout(cfg["dropout"]), nn.Linear(channels_in * length, 10)]
    return nn.Sequential(*layers)


@functools.cache
def load_data() -> tuple[Any, Any, Any, Any]:
    """MNIST-1D as tensors, built once per worker process (about 5 s)."""
    import torch
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    return (
        torch.tensor(data["x"], dtype=torch.float32).unsqueeze(1),
        torch.tensor(data["y"], dtype=torch.long),
        torch.tensor(data["x_test"], dtype=torch.float32).unsqueeze(1),
        torch.tensor(data["y_test"], dtype=torch.long),
    )


def train_one(job: tuple[int, dict[str, Any], int]) -> tuple[int, list[float], list[float]]:
    """Trains one configuration; returns its index and its per-epoch accuracy and loss."""
    index, cfg, epochs = job
    import torch

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = load_data()
    torch.manual_seed(cfg["init_seed"])
    model = build_model(cfg)
    if cfg["optimizer"] == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(),
            lr=cfg["lr"],
            momentum=cfg["momentum"],
            weight_decay=cfg["weight_decay"],
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    generator = torch.Generator().manual_seed(cfg["init_seed"])
    acc: list[float] = []
    loss: list[float] = []
    diverged = False
    for _ in range(epochs):
        if not diverged:
            model.train()
            order = torch.randperm(len(y_tr), generator=generator)
            for start in range(0, len(order), cfg["batch_size"]):
                batch = order[start : start + cfg["batch_size"]]
                opt.zero_grad()
                batch_loss = torch.nn.functional.cross_entropy(model(x_tr[batch]), y_tr[batch])
                if not torch.isfinite(batch_loss):
                    diverged = True
                    break
                batch_loss.backward()
                opt.step()
        if diverged:
            acc.append(0.1)  # a diverged net: chance level, worst loss, for the rest of the run
            loss.append(LOSS_CAP)
            continue
        model.eval()
        with torch.no_grad():
            logits = model(x_te)
            test_loss = float(torch.nn.functional.cross_entropy(logits, y_te))
            test_acc = float((logits.argmax(dim=1) == y_te).float().mean())
        if not math.isfinite(test_loss):
            diverged = True
            acc.append(0.1)
            loss.append(LOSS_CAP)
            continue
        acc.append(test_acc)
        loss.append(min(LOSS_CAP, test_loss))
    return index, acc, loss


def main() -> None:
    import torch

    meta = {
        "dataset": "mnist1d.data.make_dataset(get_dataset_args()): 4000 train / 1000 test",
        "split": "the package's own train/test split; the curves are test accuracy and loss",
        "model": "torch MLP or 1-D CNN, one pass over the shuffled training set per epoch",
        "torch": torch.__version__,
    }
    curves_main(
        __doc__.splitlines()[0],
        sample_config,
        train_one,
        meta,
        configs=240,
        epochs=50,
        seed=2027,
        out=OUT,
    )


if __name__ == "__main__":
    main()
