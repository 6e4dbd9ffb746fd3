"""Does hyperparameter importance find the parameters that matter?

Synthetic problems with six parameters of mixed types (uniform, log-uniform, integer, two
choices, a wide uniform), of which two matter and four do not. For each seed, WHICH two
matter is drawn at random, and so are the problem's constants; the value is one of several
functional forms of the two (additive bowls, a product, steps, waves, a V-shaped valley with a
cubic), plus noise of 5% of the function's spread. The constants are drawn again until each
of the two explains at least 10% of the clean value's variance between its own groups (a step
whose threshold leaves every option of a choice on one side does not make that choice matter).
Trials are drawn at random (``--trials``).

For each form and seed it asks: are the two that matter ranked first and second? It compares,
side by side on the same trials:

- ``hyperloom``: ``hyperloom.importance`` (fANOVA on a numpy forest, no scikit-learn);
- ``optuna-fanova``: Optuna's ``FanovaImportanceEvaluator`` (scikit-learn forest);
- ``optuna-pedanova``: Optuna's ``PedAnovaImportanceEvaluator``;
- ``spearman``: |Spearman rho| of each parameter with the value (choices by their mean value's
  rank), a baseline any notebook would try.

A second table runs a conditional space (a nested choice with per-option sub-parameters):
the parent choice and one top-level number matter, the sub-parameters do not. Only hyperloom
is run there (the Optuna evaluators take the intersection of the trials' spaces, which drops
the conditional parameters).

Usage:
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_importance.py \
        [--seeds 10] [--trials 100 50]

Writes bench_importance.json next to this script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

SPACE: dict[str, Any] = {
    "x_uniform": {"_type": "uniform", "_value": [0.0, 1.0]},
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "layers": {"_type": "randint", "_value": [1, 9]},
    "optimizer": {"_type": "choice", "_value": ["sgd", "adam", "rmsprop", "adagrad"]},
    "x_wide": {"_type": "uniform", "_value": [-5.0, 5.0]},
    "batch": {"_type": "choice", "_value": [16, 32, 64, 128]},
}
NAMES = list(SPACE)


def unit(name: str, v: Any, cat_effects: dict[str, dict[Any, float]]) -> float:
    """A parameter's value mapped to [0, 1] (a choice: its random per-option effect)."""
    spec = SPACE[name]
    if spec["_type"] == "choice":
        return cat_effects[name][v]
    lo, hi = spec["_value"]
    if spec["_type"] == "loguniform":
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    if spec["_type"] == "randint":
        return (v - lo) / (hi - 1 - lo)
    return (v - lo) / (hi - lo)


#: each of the two must explain at least this share of the clean value's variance between its
#: groups (options, or 8 quantile bins): else the constants are drawn again
MIN_SHARE = 0.10

Form = Callable[[float, float, np.ndarray], float]
FORMS: dict[str, Form] = {
    # c: constants drawn per seed in [0, 1]
    "additive": lambda u, v, c: (1 + c[2]) * (u - c[0]) ** 2 + (0.4 + c[3]) * (v - c[1]) ** 2,
    "product": lambda u, v, c: (0.3 + u) * (0.3 + v) * (1 + c[0]),
    "steps": lambda u, v, c: (
        float(u > 0.25 + 0.5 * c[0]) + (0.4 + 0.4 * c[2]) * float(v > 0.25 + 0.5 * c[1])
    ),
    "waves": lambda u, v, c: (
        math.sin(2 * math.pi * (u + c[0])) + 0.7 * math.cos(math.pi * (v + c[1]))
    ),
    "valley": lambda u, v, c: abs(u - c[0]) + (0.5 + c[2]) * (v - c[1]) ** 3,
}


def problem(seed: int, form: str, n: int) -> tuple[list[dict[str, Any]], list[float], set[str]]:
    """Random trials of one problem; returns (params, values, the two names that matter)."""
    from hyperloom.space import SearchSpace

    rng = np.random.default_rng(seed * 1000 + list(FORMS).index(form))
    space = SearchSpace.from_nni(SPACE)
    i, j = rng.choice(len(NAMES), 2, replace=False)
    which = (NAMES[int(i)], NAMES[int(j)])
    params = [space.sample(rng) for _ in range(n)]
    f = FORMS[form]
    # redraw the constants until both parameters really change the value (a step whose
    # threshold leaves every option of a choice on one side would make the "truth" wrong)
    for _attempt in range(50):
        consts = rng.uniform(size=4)
        cat_effects = {
            k: {o: float(rng.uniform()) for o in s["_value"]}
            for k, s in SPACE.items()
            if s["_type"] == "choice"
        }
        clean = np.array(
            [
                f(
                    unit(which[0], p[which[0]], cat_effects),
                    unit(which[1], p[which[1]], cat_effects),
                    consts,
                )
                for p in params
            ]
        )
        if all(_share(params, clean, name) >= MIN_SHARE for name in which):
            break
    noise = 0.05 * (float(clean.std()) or 1.0)
    values = list(clean + rng.normal(0.0, noise, n))
    return params, values, set(which)


def _share(params: list[dict[str, Any]], clean: np.ndarray, name: str) -> float:
    """The share of the clean value's variance between groups of one parameter (its options,
    or eight quantile bins of a number): 0 when the value does not depend on it."""
    total = float(clean.var())
    if total <= 0:
        return 0.0
    x = [p[name] for p in params]
    if SPACE[name]["_type"] == "choice":
        keys = np.array([str(v) for v in x])
    else:
        xs = np.array(x, float)
        keys = np.digitize(xs, np.quantile(xs, np.linspace(0, 1, 9)[1:-1])).astype(str)
    between = sum(
        float((keys == k).mean()) * (float(clean[keys == k].mean()) - float(clean.mean())) ** 2
        for k in set(keys.tolist())
    )
    return between / total


def rank_hyperloom(params: list[dict[str, Any]], values: list[float], seed: int) -> list[str]:
    from hyperloom.importance import importance

    return importance(params, values, SPACE, seed=seed).ranking()


def _optuna_study(params: list[dict[str, Any]], values: list[float]) -> Any:
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dists: dict[str, Any] = {}
    for k, s in SPACE.items():
        t, v = s["_type"], s["_value"]
        if t == "choice":
            dists[k] = CategoricalDistribution(v)
        elif t == "randint":
            dists[k] = IntDistribution(v[0], v[1] - 1)
        else:
            dists[k] = FloatDistribution(v[0], v[1], log=t == "loguniform")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    for p, y in zip(params, values, strict=True):
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=y))
    return study


def rank_optuna(kind: str) -> Callable[[list[dict[str, Any]], list[float], int], list[str]]:
    def run(params: list[dict[str, Any]], values: list[float], seed: int) -> list[str]:
        import optuna

        study = _optuna_study(params, values)
        ev = (
            optuna.importance.FanovaImportanceEvaluator(seed=seed)
            if kind == "fanova"
            else optuna.importance.PedAnovaImportanceEvaluator()
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, evaluator=ev)
        return sorted(imp, key=lambda k: -imp[k])

    return run


def rank_spearman(params: list[dict[str, Any]], values: list[float], seed: int) -> list[str]:
    from scipy.stats import spearmanr

    y = np.array(values)
    score = {}
    for k, s in SPACE.items():
        x = [p[k] for p in params]
        if s["_type"] == "choice":
            means = {o: float(np.mean(y[[xi == o for xi in x]])) for o in set(x)}
            x = [means[xi] for xi in x]
        rho = spearmanr(x, y).statistic
        score[k] = abs(float(rho)) if math.isfinite(rho) else 0.0
    return sorted(score, key=lambda k: -score[k])


METHODS: dict[str, Callable[[list[dict[str, Any]], list[float], int], list[str]]] = {
    "hyperloom": rank_hyperloom,
    "optuna-fanova": rank_optuna("fanova"),
    "optuna-pedanova": rank_optuna("pedanova"),
    "spearman": rank_spearman,
}

COND_SPACE: dict[str, Any] = {
    "optimizer": {
        "_type": "choice",
        "_value": [
            {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0.0, 0.99]}},
            {"_name": "adam", "beta1": {"_type": "uniform", "_value": [0.8, 0.999]}},
            {"_name": "lamb"},
        ],
    },
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "layers": {"_type": "randint", "_value": [1, 9]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.5]},
}


def conditional_case(seed: int, n: int) -> bool:
    """The parent choice and lr matter; momentum, beta1, layers and dropout do not."""
    from hyperloom.importance import importance
    from hyperloom.space import SearchSpace

    rng = np.random.default_rng(10_000 + seed)
    space = SearchSpace.from_nni(COND_SPACE)
    effect = dict(zip(["sgd", "adam", "lamb"], rng.permutation([0.0, 0.5, 1.0]), strict=True))
    c = rng.uniform(0.2, 0.8)
    params = [space.sample(rng) for _ in range(n)]
    clean = np.array(
        [
            effect[p["optimizer"]["_name"]] + 1.5 * ((math.log10(p["lr"]) + 5) / 4 - c) ** 2
            for p in params
        ]
    )
    values = list(clean + rng.normal(0, 0.05 * clean.std(), n))
    top = importance(params, values, COND_SPACE, seed=seed).ranking()[:2]
    return set(top) == {"optimizer", "lr"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, nargs="+", default=[100, 50])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--out", default="bench_importance.json", help="results file, next to this")
    ap.add_argument("--no-conditional", action="store_true", help="skip the conditional case")
    args = ap.parse_args()
    results: dict[str, Any] = {"seeds": args.seeds, "trials": args.trials, "cases": {}}
    for n in args.trials:
        for form in FORMS:
            for method in args.methods:
                hits, secs = 0, []
                for seed in range(args.seeds):
                    params, values, truth = problem(seed, form, n)
                    t = time.perf_counter()
                    ranking = METHODS[method](params, values, seed)
                    secs.append(time.perf_counter() - t)
                    hits += set(ranking[:2]) == truth
                key = f"{n}:{form}:{method}"
                results["cases"][key] = {"hits": hits, "median_s": statistics.median(secs)}
                print(
                    f"n={n:4d} {form:9s} {method:16s} {hits:2d}/{args.seeds}  "
                    f"{statistics.median(secs):.2f} s",
                    flush=True,
                )
        if not args.no_conditional:
            cond = sum(conditional_case(s, n) for s in range(args.seeds))
            results["cases"][f"{n}:conditional:hyperloom"] = {"hits": cond}
            print(
                f"n={n:4d} {'conditional':9s} {'hyperloom':16s} {cond:2d}/{args.seeds}", flush=True
            )

    print()
    header = f"{'trials':>6s} {'form':12s} " + " ".join(f"{m:>16s}" for m in args.methods)
    print(header)
    for n in args.trials:
        for form in [*FORMS, "conditional"]:
            cells = []
            for m in args.methods:
                r = results["cases"].get(f"{n}:{form}:{m}")
                cells.append(f"{r['hits']:>2d}/{args.seeds}".rjust(16) if r else "n/a".rjust(16))
            print(f"{n:6d} {form:12s} " + " ".join(cells))
    with open("/proc/loadavg") as f:
        results["load"] = f.read().split()[0] + f" on {os.cpu_count()} CPUs"
    out = Path(__file__).with_name(args.out)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
