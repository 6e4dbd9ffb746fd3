"""A small training script: logistic regression by mini-batch SGD on a synthetic two-moons set.

It reads its hyperparameters with hyperloom.trials.get_params(), reports validation accuracy
after every epoch, and a final accuracy at the end. Run it alone (`python train.py`) and it uses
the defaults and prints its reports.
"""

import numpy as np
from hyperloom import trials

params = trials.get_params(
    defaults={"lr": 0.1, "epochs": 10, "batch_size": 32, "l2": 1e-4, "features": "poly2"}
)
rng = np.random.default_rng(0)

# Two interleaving half-moons with noise.
n = 600
t = rng.uniform(0, np.pi, n)
upper = rng.random(n) < 0.5
x = np.where(upper, np.cos(t), 1 - np.cos(t))
y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
X = np.stack([x, y], axis=1) + rng.normal(0, 0.2, (n, 2))
labels = upper.astype(float)


def featurize(X: np.ndarray, kind: str) -> np.ndarray:
    cols = [np.ones(len(X)), X[:, 0], X[:, 1]]
    if kind in ("poly2", "poly3"):
        cols += [X[:, 0] ** 2, X[:, 1] ** 2, X[:, 0] * X[:, 1]]
    if kind == "poly3":
        cols += [X[:, 0] ** 3, X[:, 1] ** 3, X[:, 0] ** 2 * X[:, 1], X[:, 0] * X[:, 1] ** 2]
    return np.stack(cols, axis=1)


F = featurize(X, params["features"])
train, val = slice(0, 450), slice(450, n)
w = np.zeros(F.shape[1])
for epoch in range(int(params["epochs"])):
    order = rng.permutation(450)
    for start in range(0, 450, int(params["batch_size"])):
        idx = order[start : start + int(params["batch_size"])]
        p = 1 / (1 + np.exp(-F[train][idx] @ w))
        grad = F[train][idx].T @ (p - labels[train][idx]) / len(idx) + params["l2"] * w
        w -= params["lr"] * grad
    acc = float((((F[val] @ w) > 0) == (labels[val] > 0.5)).mean())
    trials.report(acc, step=epoch)
    if trials.should_stop():
        break

trials.report_final(acc)
