"""The multi-fidelity benchmark problems: the recorded learning-curve datasets of
``benchmarks/data`` as searchable spaces.

Each dataset holds a few hundred random configurations with their whole validation curves. A
problem exposes the dataset's main hyperparameters as a search space (numbers on their natural
scale, log ones as log10, choices as choices) and answers a point with the curve of the nearest
recorded configuration (1-nearest neighbour, numbers scaled to [0, 1], a differing choice counts
as distance 1): a surrogate made only of real runs, so a method that learns where good
configurations are is rewarded, and no value is ever invented.

``gbdt`` (session 7, the lead's ``make_gbdt_curves.py``): gradient-boosted trees on
Fashion-MNIST, a step is 3 boosting rounds; held out, only to check final defaults.

Fashion-MNIST MLPs (``fashion``) are read from ``record_fashion_mlp.py``'s JSON (engineer F2's
recording), the others from ``.npz`` files.

Seconds per epoch: the Fashion-MNIST sets recorded them (on a crowded shared machine, so they
carry its noise); for the two others (not recorded) an
epoch costs ``1 + width-or-channels / 64`` seconds (a proxy of a bigger model's longer epoch).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Dim:
    """One searched hyperparameter: ``kind`` is "float", "int" or "choice"."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[Any, ...] = ()


def _log2(v: float) -> float:
    return math.log2(max(float(v), 1e-12))


def _digits_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "log_lr": math.log10(p["learning_rate_init"]),
        "log_alpha": math.log10(p["alpha"]),
        "width_log2": round(_log2(p["hidden_layer_sizes"][0])),
        "depth": len(p["hidden_layer_sizes"]),
        "activation": p["activation"],
        "solver": p["solver"],
        "batch_log2": round(_log2(p["batch_size"])),
        "momentum": p["momentum"],
    }


def _mnist1d_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "arch": p["arch"],
        "activation": p["activation"],
        "optimizer": p["optimizer"],
        "log_lr": math.log10(p["lr"]),
        "momentum": p["momentum"],
        "log_wd": math.log10(p["weight_decay"]),
        "batch_log2": round(_log2(p["batch_size"])),
        "dropout": p["dropout"],
    }


def _fashion_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "depth": p["depth"],
        "width_log2": round(_log2(p["width"])),
        "activation": p["activation"],
        "optimizer": p["optimizer"],
        "log_lr": math.log10(p["lr"]),
        "momentum": p["momentum"],
        "log_wd": math.log10(p["weight_decay"]),
        "batch_log2": round(_log2(p["batch_size"])),
        "dropout": p["dropout"],
    }


def _sgd_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "loss": p["loss"],
        "penalty": p["penalty"],
        "log_alpha": math.log10(p["alpha"]),
        "l1_ratio": p["l1_ratio"],
        "learning_rate": p["learning_rate"],
        "log_eta0": math.log10(p["eta0"]),
        "power_t": p["power_t"],
        "average": "yes" if p["average"] else "no",
    }


def _gbdt_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "log_lr": math.log10(p["learning_rate"]),
        "leaves_log2": round(_log2(p["max_leaf_nodes"])),
        "min_leaf_log2": round(_log2(p["min_samples_leaf"])),
        "log_l2": math.log10(p["l2_regularization"]),
        "max_features": p["max_features"],
        "max_bins": int(p["max_bins"]),
    }  # random_state is not searched: a nuisance of the recording


SPACES: dict[str, tuple[Any, list[Dim]]] = {
    "fashion_sgd": (
        _sgd_row,
        [
            Dim("loss", "choice", choices=("log_loss", "hinge", "modified_huber", "squared_hinge")),
            Dim("penalty", "choice", choices=("l2", "l1", "elasticnet")),
            Dim("log_alpha", "float", -7.0, -1.0),
            Dim("l1_ratio", "float", 0.0, 1.0),
            Dim(
                "learning_rate", "choice", choices=("constant", "optimal", "invscaling", "adaptive")
            ),
            Dim("log_eta0", "float", -5.0, 0.0),
            Dim("power_t", "float", 0.1, 0.9),
            Dim("average", "choice", choices=("no", "yes")),
        ],
    ),
    "digits": (
        _digits_row,
        [
            Dim("log_lr", "float", -4.5, 0.0),
            Dim("log_alpha", "float", -6.0, 0.5),
            Dim("width_log2", "int", 3, 7),
            Dim("depth", "int", 1, 2),
            Dim("activation", "choice", choices=("relu", "tanh", "logistic")),
            Dim("solver", "choice", choices=("sgd", "adam")),
            Dim("batch_log2", "int", 5, 8),
            Dim("momentum", "float", 0.0, 0.99),
        ],
    ),
    "mnist1d": (
        _mnist1d_row,
        [
            Dim("arch", "choice", choices=("mlp", "cnn")),
            Dim("activation", "choice", choices=("relu", "tanh", "elu")),
            Dim("optimizer", "choice", choices=("sgd", "adam")),
            Dim("log_lr", "float", -4.0, 0.0),
            Dim("momentum", "float", 0.0, 0.99),
            Dim("log_wd", "float", -6.0, -1.0),
            Dim("batch_log2", "int", 5, 9),
            Dim("dropout", "float", 0.0, 0.5),
        ],
    ),
    "fashion": (
        _fashion_row,
        [
            Dim("depth", "int", 0, 3),
            Dim("width_log2", "int", 4, 9),
            Dim("activation", "choice", choices=("relu", "tanh", "gelu")),
            Dim("optimizer", "choice", choices=("sgd", "adam", "adamw")),
            Dim("log_lr", "float", -4.5, 0.5),
            Dim("momentum", "float", 0.0, 0.99),
            Dim("log_wd", "float", -7.0, -1.0),
            Dim("batch_log2", "int", 5, 10),
            Dim("dropout", "float", 0.0, 0.5),
        ],
    ),
    "gbdt": (
        _gbdt_row,
        [
            Dim("log_lr", "float", -2.5, 0.0),
            Dim("leaves_log2", "int", 2, 7),
            Dim("min_leaf_log2", "int", 1, 6),
            Dim("log_l2", "float", -4.0, 1.0),
            Dim("max_features", "float", 0.1, 1.0),
            Dim("max_bins", "choice", choices=(16, 32, 64, 128, 255)),
        ],
    ),
}

FILES = {
    "digits": "digits_mlp_curves.npz",
    "mnist1d": "mnist1d_curves.npz",
    "fashion": "fashion_mlp_curves.json",
    "fashion_sgd": "fashion_sgd_curves.npz",
    "gbdt": "gbdt_curves.npz",  # held out (session 7): a check of final defaults, not tuned on
}


class Problem:
    """One dataset as a search problem (maximize the validation accuracy).

    Attributes:
        name: The dataset's short name.
        curves: (n_configs, n_epochs) accuracies.
        seconds: (n_configs, n_epochs) seconds of each epoch.
        dims: The searched hyperparameters.
        best: The best final accuracy among the recorded configurations.
    """

    def __init__(self, name: str) -> None:
        to_row, dims = SPACES[name]
        path = DATA / FILES[name]
        secs: np.ndarray | None
        if path.suffix == ".json":  # record_fashion_mlp.py's incremental format
            raw = json.loads(path.read_text())
            self.curves = np.asarray(raw["accuracy"], dtype=float)
            params = list(raw["params"])
            secs = np.asarray(raw["seconds"], dtype=float) if "seconds" in raw else None
        else:
            with np.load(path) as z:
                self.curves = np.asarray(z["accuracy"], dtype=float)
                params = json.loads(str(z["params"]))
                secs = np.asarray(z["seconds"], dtype=float) if "seconds" in z else None
        self.name = name
        self.dims = dims
        self.rows = [to_row(p) for p in params]
        if secs is None:
            size = np.array(
                [
                    float(p["hidden_layer_sizes"][0])
                    if "hidden_layer_sizes" in p
                    else float(p.get("width", p.get("channels", 32)))
                    for p in params
                ]
            )
            secs = np.repeat((1.0 + size / 64.0)[:, None], self.curves.shape[1], axis=1)
        self.seconds = secs
        self.n_epochs = int(self.curves.shape[1])
        self.best = float(self.curves[:, -1].max())
        self._x_num, self._x_cat = self._features(self.rows)

    def nni_space(self) -> dict[str, Any]:
        """The search space in NNI's format."""
        out: dict[str, Any] = {}
        for d in self.dims:
            if d.kind == "float":
                out[d.name] = {"_type": "uniform", "_value": [d.low, d.high]}
            elif d.kind == "int":
                out[d.name] = {"_type": "randint", "_value": [int(d.low), int(d.high) + 1]}
            else:
                out[d.name] = {"_type": "choice", "_value": list(d.choices)}
        return out

    def optuna_params(self, trial: Any) -> dict[str, Any]:
        """Asks an Optuna trial for a point of the same space."""
        out: dict[str, Any] = {}
        for d in self.dims:
            if d.kind == "float":
                out[d.name] = trial.suggest_float(d.name, d.low, d.high)
            elif d.kind == "int":
                out[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high))
            else:
                out[d.name] = trial.suggest_categorical(d.name, list(d.choices))
        return out

    def _features(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        num = [d for d in self.dims if d.kind != "choice"]
        cat = [d for d in self.dims if d.kind == "choice"]
        x_num = np.array(
            [[(float(r[d.name]) - d.low) / max(d.high - d.low, 1e-12) for d in num] for r in rows],
            dtype=float,
        ).reshape(len(rows), len(num))
        x_cat = np.array(
            [
                [d.choices.index(r[d.name]) if r[d.name] in d.choices else -1 for d in cat]
                for r in rows
            ],
            dtype=float,
        ).reshape(len(rows), len(cat))
        return x_num, x_cat

    def lookup(self, params: dict[str, Any]) -> int:
        """The index of the recorded configuration nearest to ``params``."""
        xn, xc = self._features([params])
        d2 = ((self._x_num - xn) ** 2).sum(axis=1) + (self._x_cat != xc).sum(axis=1)
        return int(np.argmin(d2))

    def table(self) -> dict[str, Any]:
        """The dataset as a simulate-executor table over the configuration index."""
        cum = np.cumsum(self.seconds, axis=1)
        return {
            "space": {"config": {"_type": "choice", "_value": list(range(len(self.rows)))}},
            "metric": "accuracy",
            "mode": "maximize",
            "rows": [
                {
                    "params": {"config": i},
                    "curve": [round(float(v), 6) for v in self.curves[i]],
                    "seconds": [round(float(t), 4) for t in cum[i]],
                }
                for i in range(len(self.rows))
            ],
        }


def available() -> list[str]:
    """The datasets present in ``benchmarks/data``."""
    return [n for n, f in FILES.items() if (DATA / f).exists()]
