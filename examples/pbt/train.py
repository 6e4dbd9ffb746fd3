"""A PBT trial: a small MLP on a Fashion-MNIST subset, on CPU, that saves and restores exactly.

The checkpoint contract (``hyperloom.trials``):

* at start, ``restore_dir()`` is None for a fresh trial, this trial's own last checkpoint when
  it is resumed (sync PBT), or a private copy of its parent's when it is warm-started (async
  PBT exploit); ``start_step()`` is the step to continue from (the checkpoint's step + 1);
* after each step, write everything needed to continue (model, optimizer, RNG states, step)
  into ``checkpoint_dir()``, then ``report(value, step=step, checkpoint=True)``.

A warm-started trial loads its parent's weights and optimizer state but trains with its own
(perturbed) ``lr`` and ``weight_decay``: they are set on the optimizer after loading. Saving the
RNG states makes a resumed run exactly the run that was never interrupted.

Runs outside an experiment too: ``python train.py`` (defaults; checkpoints in
``./hyperloom-checkpoint``).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch
from hyperloom import trials

DATA = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
#: PBT_EXAMPLE_SMALL=1 trains on a tenth of the subset (for tests)
SMALL = os.environ.get("PBT_EXAMPLE_SMALL") == "1"
N_TRAIN, N_VAL, BATCH = (600, 200, 64) if SMALL else (6000, 2000, 64)


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2051:  # images
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(raw, np.uint8, offset=8)


def load() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed subset: N_TRAIN training and N_VAL validation images (the same in every trial)."""
    x = _idx(DATA / "train-images-idx3-ubyte.gz")
    y = _idx(DATA / "train-labels-idx1-ubyte.gz")
    order = np.random.default_rng(0).permutation(len(y))[: N_TRAIN + N_VAL]
    xs = torch.tensor(x[order], dtype=torch.float32) / 255.0
    ys = torch.tensor(y[order], dtype=torch.int64)
    return xs[:N_TRAIN], ys[:N_TRAIN], xs[N_TRAIN:], ys[N_TRAIN:]


def main() -> None:
    p = trials.get_params({"lr": 0.05, "weight_decay": 1e-4, "momentum": 0.9, "steps": 12})
    torch.set_num_threads(1)
    torch.manual_seed(int(p.get("seed", 0)))
    x_tr, y_tr, x_va, y_va = load()
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(128, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"])
    gen = torch.Generator().manual_seed(1)

    restore = trials.restore_dir()
    if restore is not None:
        state = torch.load(restore / "state.pt", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch"])
        if trials.start_step() != state["step"] + 1:
            raise SystemExit(f"restored step {state['step']} but start_step {trials.start_step()}")
    for group in opt.param_groups:  # this trial's (possibly perturbed) hyperparameters
        group["lr"], group["momentum"] = float(p["lr"]), float(p["momentum"])

    ckpt = trials.checkpoint_dir()
    for step in range(trials.start_step(), int(p["steps"])):
        model.train()
        for idx in torch.randperm(N_TRAIN, generator=gen).split(BATCH):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            # decoupled L2 on the weights, scaled by this trial's weight_decay
            l2 = sum((w**2).sum() for name, w in model.named_parameters() if "weight" in name)
            (loss + float(p["weight_decay"]) * l2).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(x_va).argmax(1) == y_va).float().mean())
        tmp = ckpt / "state.pt.tmp"
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "gen": gen.get_state(),
                "torch": torch.get_rng_state(),
                "step": step,
            },
            tmp,
        )
        os.replace(tmp, ckpt / "state.pt")  # atomic: a snapshot never sees half a file
        trials.report(acc, step=step, checkpoint=True)
        if trials.should_stop():
            return
    trials.report_final(acc)


if __name__ == "__main__":
    main()
