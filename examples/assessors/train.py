"""A small real training script for the assessor examples: a one-hidden-layer MLP written in
numpy, trained by mini-batch SGD with momentum on scikit-learn's handwritten digits, with the
training images augmented by one-pixel shifts (5 x 1250 images, so that an epoch takes a
noticeable time, as real epochs do, rather than a few milliseconds).

It reads its hyperparameters with hyperloom.trials.get_params(), reports the validation accuracy
after every epoch with hyperloom.trials.report(value, step=epoch), stops when the assessor asks
(hyperloom.trials.should_stop()), and reports the last accuracy as the final result.
Run alone (`python train.py`) it uses the defaults and prints its reports.
"""

import numpy as np
from hyperloom import trials
from sklearn.datasets import load_digits

params = trials.get_params(
    defaults={"lr": 0.05, "hidden": 32, "batch_size": 64, "l2": 1e-4, "momentum": 0.9, "epochs": 30}
)
rng = np.random.default_rng(0)
X, y = load_digits(return_X_y=True)
X = X / 16.0
order = rng.permutation(len(y))
X, y = X[order], y[order]
x_tr, y_tr, x_va, y_va = X[:1250], y[:1250], X[1250:], y[1250:]
images = x_tr.reshape(-1, 8, 8)
shifted = [np.roll(images, s, axis=a) for a in (1, 2) for s in (-1, 1)]
x_tr = np.concatenate([x_tr] + [im.reshape(-1, 64) for im in shifted])
y_tr = np.tile(y_tr, 5)
onehot = np.eye(10)[y_tr]

hidden, lr, l2, mom = (
    int(params["hidden"]),
    float(params["lr"]),
    float(params["l2"]),
    float(params["momentum"]),
)
w1 = rng.normal(0, 1 / 8, (64, hidden))
w2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 10))
v1, v2 = np.zeros_like(w1), np.zeros_like(w2)
acc = 0.0
for epoch in range(1, int(params["epochs"]) + 1):
    perm = rng.permutation(len(y_tr))
    for start in range(0, len(perm), int(params["batch_size"])):
        idx = perm[start : start + int(params["batch_size"])]
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
    trials.report(acc, step=epoch)
    if trials.should_stop():
        break

trials.report_final(acc)
