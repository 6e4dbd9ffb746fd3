"""Makes the third learning-curve dataset: scikit-learn linear models (SGD) on Fashion-MNIST.

The data are ``make_fashion_curves.py``'s (Fashion-MNIST from the Debian package
``dataset-fashion-mnist``, no download), pooled further to 7x7 (49 features) and cut to the
first 2,000 training and 1,000 test images of that fixed subset, so that an epoch costs
milliseconds even on a crowded machine. The models differ in kind from the two other datasets'
neural networks: ``SGDClassifier`` linear models (logistic, hinge, modified-Huber or squared-hinge
loss; L2, L1 or elastic-net penalty; constant, optimal, inverse-scaling or adaptive learning
rates; with or without averaging), one ``partial_fit`` pass over the shuffled training subset per
epoch. Their curves are noisy and often non-monotone (a constant large step keeps jumping; an
averaged model is smooth), and many saturate within a few epochs.

After every epoch the script records the test accuracy, the test log-loss of the
probability-calibrated decision (a softmax of the decision function; clipped at 50), and the
seconds the epoch took.

Output: ``benchmarks/data/fashion_sgd_curves.npz`` with the keys of the other datasets
(``accuracy``, ``logloss``, ``params``, ``meta``) and ``seconds`` (float32, per epoch).

Usage (about 2 minutes on 2 idle cores)::

    .venv/bin/python benchmarks/data/make_fashion_linear_curves.py --configs 160 --epochs 30
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _curves_io import main as curves_main  # noqa: E402  (this folder, on sys.path as the script's)
from make_fashion_curves import N_TEST, N_TRAIN, SOURCE, load_numpy  # noqa: E402

OUT = Path(__file__).with_name("fashion_sgd_curves.npz")
LOSS_CAP = 50.0
N_SMALL_TRAIN, N_SMALL_TEST = 2000, 1000


def small_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 7x7 pooled subsets: 2,000 training and 1,000 test images."""
    x_tr, y_tr, x_te, y_te = load_numpy()

    def pool(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), 7, 2, 7, 2).mean(axis=(2, 4)).reshape(len(x), 49)

    return (
        pool(x_tr[:N_SMALL_TRAIN]),
        y_tr[:N_SMALL_TRAIN],
        pool(x_te[:N_SMALL_TEST]),
        y_te[:N_SMALL_TEST],
    )


def sample_config(rng: np.random.Generator) -> dict[str, Any]:
    """One random hyperparameter configuration."""
    schedule = str(rng.choice(["constant", "optimal", "invscaling", "adaptive"]))
    return {
        "loss": str(rng.choice(["log_loss", "hinge", "modified_huber", "squared_hinge"])),
        "penalty": str(rng.choice(["l2", "l1", "elasticnet"])),
        "alpha": float(10 ** rng.uniform(-7.0, -1.0)),
        "l1_ratio": float(rng.uniform(0.0, 1.0)),
        "learning_rate": schedule,
        "eta0": float(10 ** rng.uniform(-5.0, 0.0)),
        "power_t": float(rng.uniform(0.1, 0.9)),
        "average": bool(rng.random() < 0.3),
        "init_seed": int(rng.integers(0, 2**31 - 1)),
    }


def train_one(
    job: tuple[int, dict[str, Any], int],
) -> tuple[int, list[float], list[float], list[float]]:
    """Trains one configuration; returns its index and per-epoch accuracy, loss and seconds."""
    index, cfg, epochs = job
    from sklearn.linear_model import SGDClassifier

    x_tr, y_tr, x_te, y_te = small_data()
    classes = np.arange(10)
    model = SGDClassifier(
        loss=cfg["loss"],
        penalty=cfg["penalty"],
        alpha=cfg["alpha"],
        l1_ratio=cfg["l1_ratio"],
        learning_rate=cfg["learning_rate"],
        eta0=cfg["eta0"],
        power_t=cfg["power_t"],
        average=cfg["average"],
        random_state=cfg["init_seed"] % (2**31),
    )
    rng = np.random.default_rng(cfg["init_seed"])
    acc: list[float] = []
    loss: list[float] = []
    secs: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            t0 = time.perf_counter()
            order = rng.permutation(len(y_tr))
            model.partial_fit(x_tr[order], y_tr[order], classes=classes)
            secs.append(time.perf_counter() - t0)
            with np.errstate(all="ignore"):
                d = model.decision_function(x_te)
            if not np.all(np.isfinite(d)):
                acc.append(0.1)
                loss.append(LOSS_CAP)
                continue
            acc.append(float(np.mean(classes[np.argmax(d, axis=1)] == y_te)))
            z = d - d.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss.append(float(min(LOSS_CAP, -logp[np.arange(len(y_te)), y_te].mean())))
    return index, acc, loss, secs


def main() -> None:
    import sklearn

    meta = {
        "dataset": f"Fashion-MNIST ({SOURCE}), standardized 14x14 pooled again to 7x7",
        "split": (
            f"the first {N_SMALL_TRAIN} / {N_SMALL_TEST} of make_fashion_curves.py's random "
            f"subsets (seed 0) of train ({N_TRAIN}) and t10k ({N_TEST}); the curves are test"
        ),
        "model": "sklearn.linear_model.SGDClassifier, one partial_fit pass per epoch",
        "sklearn": sklearn.__version__,
    }
    curves_main(
        __doc__.splitlines()[0],
        sample_config,
        train_one,
        meta,
        configs=160,
        epochs=30,
        seed=2029,
        out=OUT,
    )


if __name__ == "__main__":
    main()
