"""Makes a held-out learning-curve dataset of another kind: gradient-boosted trees on Fashion-MNIST.

The other datasets are neural networks trained by epochs. Here the fidelity is boosting rounds:
scikit-learn's ``HistGradientBoostingClassifier`` is fitted once for 3 rounds per step, and its
staged predictions give the test accuracy and the test cross-entropy after every step (3 rounds);
a step's seconds are the fit's time spread evenly over the steps. Boosting curves differ in shape from SGD curves: a
small learning rate climbs slowly and steadily, a large one saturates in a few steps and then
overfits, and leaf count and regularization shift where the curve bends, so a rule tuned on
neural-network curves is checked on curves it was not tuned on.

The data are the Fashion-MNIST subsets of ``make_fashion_curves.py`` (6,000 training and 2,000
test images from the Debian package ``dataset-fashion-mnist``, pooled to 14x14), projected on
their first 30 principal components (a configuration: about 11 s of one loaded core, 0.4 s a step).

Searched: learning rate 10^-2.5..10^0, max leaf nodes 4..128, min samples per leaf 2..64, L2
regularization 10^-4..10^1, the share of features per split 0.1..1, and max bins 16..255.

Output: ``benchmarks/data/gbdt_curves.npz`` with the keys of the other datasets (``accuracy``,
``logloss``, ``params``, ``meta``, ``seconds``), so ``benchmarks/assessors/replay.py --data`` and
``replay_sim.py --data`` read it. Usage (22 minutes on the 2 shared cores of the recording)::

    .venv/bin/python benchmarks/data/make_gbdt_curves.py --configs 160 --epochs 27 --workers 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import functools  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _curves_io import main as curves_main  # noqa: E402  (this folder, on sys.path as the script's)
from make_fashion_curves import load_numpy  # noqa: E402

OUT = Path(__file__).with_name("gbdt_curves.npz")
COMPONENTS = 30
ROUNDS_PER_STEP = 3
LOSS_CAP = 50.0


def sample_config(rng: np.random.Generator) -> dict[str, Any]:
    """One random configuration of the boosted trees."""
    return {
        "learning_rate": float(10 ** rng.uniform(-2.5, 0.0)),
        "max_leaf_nodes": int(2 ** rng.integers(2, 8)),  # 4 .. 128
        "min_samples_leaf": int(2 ** rng.integers(1, 7)),  # 2 .. 64
        "l2_regularization": float(10 ** rng.uniform(-4.0, 1.0)),
        "max_features": float(rng.uniform(0.1, 1.0)),
        "max_bins": int(rng.choice([16, 32, 64, 128, 255])),
        "random_state": int(rng.integers(0, 2**31 - 1)),
    }


@functools.cache
def load_pca() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Fashion-MNIST subsets on their first principal components (fitted on training)."""
    x_tr, y_tr, x_te, y_te = load_numpy()
    mean = x_tr.mean(axis=0)
    _, _, vt = np.linalg.svd(x_tr - mean, full_matrices=False)
    basis = vt[:COMPONENTS].T
    return (x_tr - mean) @ basis, y_tr, (x_te - mean) @ basis, y_te


def train_one(job: tuple[int, dict[str, Any], int]) -> tuple[int, Any, Any, Any]:
    """Boosts one configuration step by step: (index, accuracy, loss, seconds) per step."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    i, cfg, steps = job
    x_tr, y_tr, x_te, y_te = load_pca()
    model = HistGradientBoostingClassifier(
        learning_rate=cfg["learning_rate"],
        max_leaf_nodes=cfg["max_leaf_nodes"],
        min_samples_leaf=cfg["min_samples_leaf"],
        l2_regularization=cfg["l2_regularization"],
        max_features=cfg["max_features"],
        max_bins=cfg["max_bins"],
        random_state=cfg["random_state"],
        early_stopping=False,
        max_iter=ROUNDS_PER_STEP * steps,
    )
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr)
    fit = time.perf_counter() - t0
    acc, loss = np.zeros(steps), np.zeros(steps)
    for r, proba in enumerate(model.staged_predict_proba(x_te), start=1):
        if r % ROUNDS_PER_STEP:
            continue
        step = r // ROUNDS_PER_STEP - 1
        proba = np.clip(proba, 1e-12, 1.0)
        acc[step] = float(np.mean(proba.argmax(axis=1) == y_te))
        loss[step] = min(LOSS_CAP, float(-np.mean(np.log(proba[np.arange(len(y_te)), y_te]))))
    secs = np.full(steps, fit / steps)  # one fit; its time spread evenly over the steps
    return i, acc, loss, secs


if __name__ == "__main__":
    curves_main(
        __doc__.splitlines()[0],
        sample_config,
        train_one,
        {
            "data": "fashion-mnist 6000/2000, 14x14 pooled, PCA 30",
            "model": "sklearn HistGradientBoostingClassifier, staged predictions",
            "rounds_per_step": ROUNDS_PER_STEP,
        },
        configs=160,
        epochs=27,
        seed=0,
        out=OUT,
    )
