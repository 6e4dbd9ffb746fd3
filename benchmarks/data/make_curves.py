"""Makes the learning-curve dataset that the assessor benchmark replays.

Each configuration is a real scikit-learn ``MLPClassifier`` trained on the handwritten-digits
dataset that ships with scikit-learn (1797 8x8 images, 10 classes), one ``partial_fit`` pass over
the shuffled training split per epoch. After every epoch the script records the validation
accuracy and the validation log-loss. The hyperparameters are drawn at random from a wide space
(width, depth, activation, solver, learning rate, L2, batch size, momentum), so the curves range
from runs that never learn to runs that reach about 99%, with slow starters, plateaus and
diverging runs among them.

Output: ``benchmarks/data/digits_mlp_curves.npz`` with

* ``accuracy``: float32 array (n_configs, n_epochs), validation accuracy after each epoch;
* ``logloss``: float32 array (n_configs, n_epochs), validation log-loss (clipped at 50);
* ``params``: JSON string, the list of hyperparameter dicts;
* ``meta``: JSON string (dataset, split, seed, epochs, sklearn version, wall time).

Usage (about 5 minutes on 2 cores)::

    .venv/bin/python benchmarks/data/make_curves.py --configs 220 --epochs 40 --workers 2
"""

from __future__ import annotations

import os

# One BLAS thread per worker process; set before numpy loads BLAS (the machine is shared).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _curves_io import main as curves_main  # noqa: E402  (this folder, on sys.path as the script's)

OUT = Path(__file__).with_name("digits_mlp_curves.npz")


def sample_config(rng: np.random.Generator) -> dict[str, Any]:
    """One random hyperparameter configuration."""
    depth = int(rng.integers(1, 3))
    width = int(2 ** rng.integers(3, 8))  # 8 .. 128
    solver = str(rng.choice(["sgd", "adam"]))
    return {
        "hidden_layer_sizes": [width] * depth,
        "activation": str(rng.choice(["relu", "tanh", "logistic"])),
        "solver": solver,
        "learning_rate_init": float(10 ** rng.uniform(-4.5, 0.0)),
        "alpha": float(10 ** rng.uniform(-6, 0.5)),
        "batch_size": int(2 ** rng.integers(5, 9)),  # 32 .. 256
        "momentum": float(rng.uniform(0.0, 0.99)) if solver == "sgd" else 0.9,
        "init_seed": int(rng.integers(0, 2**31 - 1)),
    }


def train_one(job: tuple[int, dict[str, Any], int]) -> tuple[int, list[float], list[float]]:
    """Trains one configuration; returns its index and its per-epoch accuracy and log-loss."""
    index, cfg, epochs = job
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_va = scaler.transform(x_tr), scaler.transform(x_va)
    classes = np.arange(10)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(cfg["hidden_layer_sizes"]),
        activation=cfg["activation"],
        solver=cfg["solver"],
        learning_rate_init=cfg["learning_rate_init"],
        alpha=cfg["alpha"],
        batch_size=cfg["batch_size"],
        momentum=cfg["momentum"],
        random_state=cfg["init_seed"],
    )
    rng = np.random.default_rng(cfg["init_seed"])
    acc: list[float] = []
    loss: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            order = rng.permutation(len(y_tr))
            model.partial_fit(x_tr[order], y_tr[order], classes=classes)
            proba = model.predict_proba(x_va)
            if not np.all(np.isfinite(proba)):
                acc.append(0.1)  # a diverged net: chance level, worst loss
                loss.append(50.0)
                continue
            acc.append(float(np.mean(classes[np.argmax(proba, axis=1)] == y_va)))
            loss.append(float(min(50.0, log_loss(y_va, proba, labels=classes))))
    return index, acc, loss


def main() -> None:
    import sklearn

    meta = {
        "dataset": "sklearn.datasets.load_digits",
        "split": "train_test_split(test_size=0.3, random_state=0, stratify=y), StandardScaler",
        "model": "sklearn.neural_network.MLPClassifier, one partial_fit pass per epoch",
        "sklearn": sklearn.__version__,
    }
    curves_main(
        __doc__.splitlines()[0],
        sample_config,
        train_one,
        meta,
        configs=220,
        epochs=40,
        seed=2026,
        out=OUT,
    )


if __name__ == "__main__":
    main()
