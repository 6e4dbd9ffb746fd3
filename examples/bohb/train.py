"""A BOHB trial: a one-hidden-layer numpy MLP on scikit-learn's digits (augmented by one-pixel
shifts, so that an epoch takes a noticeable time), trained by mini-batch SGD with momentum, that
saves and restores exactly, so the bohb scheduler can PAUSE it at a rung and resume it later.

The checkpoint contract (``hyperloom.trials``):

* at start, ``restore_dir()`` is None for a fresh trial, or this trial's own last checkpoint when
  the scheduler resumes it; ``start_step()`` is the epoch to continue from;
* after every epoch the script saves weights, velocities and the random state into
  ``checkpoint_dir()``, then ``report(accuracy, step=epoch, checkpoint=True)``.

The step is the epoch (0-based), so the scheduler's resource is ``step + 1`` epochs.
Run alone (``python train.py``) it uses the defaults and prints its reports.

Each epoch lasts at least ``EPOCH_FLOOR_S`` seconds (0.25; environment variable
``BOHB_EPOCH_FLOOR_S``, 0 turns it off), about what an epoch of a small real model takes: on an idle
machine this MLP's epochs take 8-15 ms, less than the 20-60 ms from a report to the trial seeing
the scheduler's pause, so without the floor a trial trains 1-4 epochs past its rung before it
pauses (and the dashboard shows pauses at every step). Accuracies do not depend on it.
"""

import os
import pickle
import time

import numpy as np
from hyperloom import trials
from sklearn.datasets import load_digits

params = trials.get_params(
    defaults={"lr": 0.05, "hidden": 32, "batch_size": 64, "l2": 1e-4, "momentum": 0.9}
)
EPOCHS = 27
EPOCH_FLOOR_S = float(os.environ.get("BOHB_EPOCH_FLOOR_S", "0.25"))
data_rng = np.random.default_rng(0)
X, y = load_digits(return_X_y=True)
X = X / 16.0
order = data_rng.permutation(len(y))
X, y = X[order], y[order]
x_tr, y_tr, x_va, y_va = X[:1250], y[:1250], X[1250:], y[1250:]
images = x_tr.reshape(-1, 8, 8)
shifted = [np.roll(images, s, axis=a) for a in (1, 2) for s in (-1, 1)]
x_tr = np.concatenate([x_tr] + [im.reshape(-1, 64) for im in shifted])
y_tr = np.tile(y_tr, 5)
onehot = np.eye(10)[y_tr]
hidden, lr, l2, mom = (int(params["hidden"]), float(params["lr"]), float(params["l2"]),
                       float(params["momentum"]))  # fmt: skip
batch = int(params["batch_size"])

restore = trials.restore_dir()
if restore is not None and (restore / "state.pkl").exists():
    with open(restore / "state.pkl", "rb") as f:
        state = pickle.load(f)
else:
    rng = np.random.default_rng(1)
    state = {
        "w1": rng.normal(0, 1 / 8, (64, hidden)),
        "w2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, 10)),
        "rng": rng,
    }
    state["v1"], state["v2"] = np.zeros_like(state["w1"]), np.zeros_like(state["w2"])
w1, w2, v1, v2, rng = state["w1"], state["w2"], state["v1"], state["v2"], state["rng"]

acc = 0.0
for epoch in range(trials.start_step(), EPOCHS):
    began = time.monotonic()
    perm = rng.permutation(len(y_tr))
    for start in range(0, len(perm), batch):
        idx = perm[start : start + batch]
        h = np.maximum(x_tr[idx] @ w1, 0.0)
        logits = h @ w2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot[idx]) / len(idx)
        g2 = h.T @ g + l2 * w2
        g1 = x_tr[idx].T @ ((g @ w2.T) * (h > 0)) + l2 * w1
        v1, v2 = mom * v1 - lr * g1, mom * v2 - lr * g2
        w1, w2 = w1 + v1, w2 + v2
    with np.errstate(all="ignore"):
        pred = np.argmax(np.maximum(x_va @ w1, 0.0) @ w2, axis=1)
    acc = float(np.mean(pred == y_va))
    with open(trials.checkpoint_dir() / "state.pkl", "wb") as f:
        pickle.dump({"w1": w1, "w2": w2, "v1": v1, "v2": v2, "rng": rng}, f)
    trials.report(acc, step=epoch, checkpoint=True)
    time.sleep(max(0.0, EPOCH_FLOOR_S - (time.monotonic() - began)))  # see EPOCH_FLOOR_S
    if trials.should_stop():
        break

trials.report_final(acc)
