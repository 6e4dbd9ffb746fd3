"""Makes the third learning-curve dataset: torch softmax regressions and MLPs on Fashion-MNIST.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) is read from the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``, idx files; no download). To
keep one configuration under a few seconds on a shared CPU, the images are average-pooled 2x2 to
14x14 (196 features, standardized) and the script uses a fixed random subset: 6,000 training
images and 2,000 test images. The space differs from the two other datasets in kind: depth 0 (a
multinomial logistic regression, whose curves are smooth and saturate early) to 3 hidden layers,
widths 16-512, relu/tanh/gelu, SGD (momentum 0-0.99, optional Nesterov) or Adam or AdamW,
learning rate 10^-4.5..10^0.5 (so some runs diverge and some barely move), weight decay, batch
32-1024, dropout and label smoothing.

Each configuration is trained with torch on one CPU thread, one pass over the shuffled training
subset per epoch; after every epoch the script records the test accuracy, the test
cross-entropy and the wall seconds the epoch took (training only), so the simulate executor can
replay real timings.

Output: ``benchmarks/data/fashion_mlp_curves.npz`` with the keys of the other datasets
(``accuracy``, ``logloss``, ``params``, ``meta``) and ``seconds`` (float32, per epoch).

Usage (about 15 minutes on 2 cores)::

    .venv/bin/python benchmarks/data/make_fashion_curves.py --configs 160 --epochs 30 --workers 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import functools  # noqa: E402
import gzip  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _curves_io import main as curves_main  # noqa: E402  (this folder, on sys.path as the script's)

OUT = Path(__file__).with_name("fashion_mlp_curves.npz")
SOURCE = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 6000, 2000
LOSS_CAP = 50.0


def sample_config(rng: np.random.Generator) -> dict[str, Any]:
    """One random hyperparameter configuration."""
    optimizer = str(rng.choice(["sgd", "adam", "adamw"]))
    depth = int(rng.choice([0, 1, 1, 2, 2, 3]))
    return {
        "depth": depth,
        "width": int(2 ** rng.integers(4, 10)),  # 16 .. 512
        "activation": str(rng.choice(["relu", "tanh", "gelu"])),
        "optimizer": optimizer,
        "lr": float(10 ** rng.uniform(-4.5, 0.5)),
        "momentum": float(rng.uniform(0.0, 0.99)) if optimizer == "sgd" else 0.0,
        "nesterov": bool(rng.random() < 0.5) if optimizer == "sgd" else False,
        "weight_decay": float(10 ** rng.uniform(-7.0, -1.0)),
        "batch_size": int(2 ** rng.integers(5, 11)),  # 32 .. 1024
        "dropout": float(rng.uniform(0.0, 0.5)),
        "label_smoothing": float(rng.choice([0.0, 0.0, 0.1])),
        "init_seed": int(rng.integers(0, 2**31 - 1)),
    }


def _idx(name: str) -> np.ndarray:
    with gzip.open(SOURCE / name, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@functools.cache
def load_data() -> tuple[Any, Any, Any, Any]:
    """The pooled, standardized subsets as tensors (built once per worker process)."""
    import torch

    return tuple(torch.tensor(a) for a in load_numpy())  # type: ignore[return-value]


@functools.cache
def load_numpy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pooled, standardized subsets as numpy arrays: x_train, y_train, x_test, y_test."""
    rng = np.random.default_rng(0)
    x_tr, y_tr = _idx("train-images-idx3-ubyte.gz"), _idx("train-labels-idx1-ubyte.gz")
    x_te, y_te = _idx("t10k-images-idx3-ubyte.gz"), _idx("t10k-labels-idx1-ubyte.gz")
    tr = rng.choice(len(y_tr), N_TRAIN, replace=False)
    te = rng.choice(len(y_te), N_TEST, replace=False)

    def pool(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32) / 255.0
        return x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(x), 196)

    a, b = pool(x_tr[tr]), pool(x_te[te])
    mean, std = a.mean(axis=0), a.std(axis=0) + 1e-3
    return (
        (a - mean) / std,
        y_tr[tr].astype(np.int64),
        (b - mean) / std,
        y_te[te].astype(np.int64),
    )


def build_model(cfg: dict[str, Any]) -> Any:
    """The torch module a configuration describes (input: (batch, 196))."""
    from torch import nn

    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[cfg["activation"]]
    layers: list[nn.Module] = []
    width_in = 196
    for _ in range(cfg["depth"]):
        layers += [nn.Linear(width_in, cfg["width"]), act(), nn.Dropout(cfg["dropout"])]
        width_in = cfg["width"]
    layers.append(nn.Linear(width_in, 10))
    return nn.Sequential(*layers)


def train_one(
    job: tuple[int, dict[str, Any], int],
) -> tuple[int, list[float], list[float], list[float]]:
    """Trains one configuration; returns its index and per-epoch accuracy, loss and seconds."""
    index, cfg, epochs = job
    import torch

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = load_data()
    torch.manual_seed(cfg["init_seed"])
    model = build_model(cfg)
    params = model.parameters()
    if cfg["optimizer"] == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params,
            lr=cfg["lr"],
            momentum=cfg["momentum"],
            nesterov=cfg["nesterov"] and cfg["momentum"] > 0,
            weight_decay=cfg["weight_decay"],
        )
    elif cfg["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    generator = torch.Generator().manual_seed(cfg["init_seed"])
    acc: list[float] = []
    loss: list[float] = []
    secs: list[float] = []
    diverged = False
    for _ in range(epochs):
        t0 = time.perf_counter()
        if not diverged:
            model.train()
            order = torch.randperm(len(y_tr), generator=generator)
            for start in range(0, len(order), cfg["batch_size"]):
                batch = order[start : start + cfg["batch_size"]]
                opt.zero_grad()
                batch_loss = torch.nn.functional.cross_entropy(
                    model(x_tr[batch]), y_tr[batch], label_smoothing=cfg["label_smoothing"]
                )
                if not torch.isfinite(batch_loss):
                    diverged = True
                    break
                batch_loss.backward()
                opt.step()
        secs.append(time.perf_counter() - t0)
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
    return index, acc, loss, secs


def main() -> None:
    import torch

    meta = {
        "dataset": f"Fashion-MNIST ({SOURCE}), 2x2 average-pooled to 14x14, standardized",
        "split": f"random subsets (seed 0): {N_TRAIN} of train, {N_TEST} of t10k (the curves)",
        "model": "torch softmax regression or MLP (0-3 hidden layers), one pass per epoch",
        "torch": torch.__version__,
    }
    curves_main(
        __doc__.splitlines()[0],
        sample_config,
        train_one,
        meta,
        configs=160,
        epochs=30,
        seed=2028,
        out=OUT,
    )


if __name__ == "__main__":
    main()
