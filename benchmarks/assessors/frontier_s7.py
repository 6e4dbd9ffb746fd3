"""Session-7 frontier checks behind docs/notes/assessors.md (why no rule reaches NNI's fraction
at 4.5 of the top 5 on these curves). Three parts, on every dataset of ``benchmarks/data``:

* ``envelope``: hindsight envelopes. Each dataset's own worst top-5 rank (share of all runs
  whose best so far is strictly better) at each step, made non-increasing; the epochs a rule
  that lets exactly that share through would spend (no startup, no concurrency), on its own
  dataset and with the one envelope that covers all four.
* ``regression``: whether a cross-trial predictor of the final value from (best so far, last
  value, slopes over 1, 2 and 4 steps), 5-fold gradient boosting fitted with hindsight on all
  runs, ranks the top 5 higher than the best so far does, at steps 1-12.
* ``where``: where ``curve_fitting`` (defaults) and NNI's rule spend their epochs, by the
  runs' final rank (top 5, 6-15, 16-40, 41-100, below), 3 orders, ``replay.py``'s loop.

Usage::

    .venv/bin/python benchmarks/assessors/frontier_s7.py envelope regression where
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import DATASETS, load_curves, make_rule, replay

NNI = (
    'median_stop:{"start_step": 1, "n_startup_trials": 1, "reference": "completed", '
    '"percentile": 50, "percentile_growth": 0}'
)


def _top5(curves: np.ndarray) -> np.ndarray:
    return np.lexsort((-curves[:, -5:].mean(axis=1), -curves[:, -1]))[:5]


def _shares_ahead(curves: np.ndarray) -> np.ndarray:
    best = np.maximum.accumulate(curves, axis=1)
    return (best[None, :, :] > best[:, None, :]).mean(axis=1)  # run x step


def _spend(curves: np.ndarray, ahead: np.ndarray, allowed: np.ndarray) -> tuple[float, int]:
    alive = np.cumprod(ahead <= allowed[None, : curves.shape[1]] + 1e-12, axis=1).astype(bool)
    trained = np.concatenate([np.ones((len(curves), 1), bool), alive[:, :-1]], axis=1)
    return float(trained.sum() / curves.size), int(alive[_top5(curves), -1].sum())


def envelope() -> None:
    data = {d.stem: load_curves(d) for d in DATASETS}
    own = {}
    for name, c in data.items():
        worst = _shares_ahead(c)[_top5(c)].max(axis=0)
        own[name] = np.maximum.accumulate(worst[::-1])[::-1]
    width = max(c.shape[1] for c in data.values())
    common = np.zeros(width)
    for e in own.values():
        padded = np.concatenate([e, np.full(width - e.size, e[-1])])
        common = np.maximum(common, padded)
    print("hindsight envelope (keep all of the top 5): epochs, top-5 kept")
    for name, c in data.items():
        ahead = _shares_ahead(c)
        mine, common_cost = _spend(c, ahead, own[name]), _spend(c, ahead, common)
        print(
            f"  {name:22s} own {mine[0]:6.1%} {mine[1]}   common {common_cost[0]:6.1%} {common_cost[1]}"
        )


def regression() -> None:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold

    print("worst top-5 share ahead: best so far vs a cross-trial regression (hindsight, 5-fold)")
    for d in DATASETS:
        c = load_curves(d)
        final, top = c[:, -1], _top5(c)
        cells = []
        for t in (1, 2, 3, 5, 8, 12):
            best = np.maximum.accumulate(c[:, :t], axis=1)[:, -1]
            x = np.stack(
                [best, c[:, t - 1]] + [c[:, t - 1] - c[:, max(t - 1 - k, 0)] for k in (1, 2, 4)],
                axis=1,
            )
            pred = np.zeros(len(c))
            for train, test in KFold(5, shuffle=True, random_state=0).split(x):
                model = (
                    Ridge(alpha=1e-3)
                    if t == 1
                    else GradientBoostingRegressor(n_estimators=100, max_depth=2)
                )
                pred[test] = model.fit(x[train], final[train]).predict(x[test])
            by_best = max(float((best > best[i]).mean()) for i in top)
            by_pred = max(float((pred > pred[i]).mean()) for i in top)
            cells.append(f"t{t} {by_best:.2f}/{by_pred:.2f}")
        print(f"  {d.stem:22s} " + "  ".join(cells))


def where() -> None:
    bins = [(0, 5), (5, 15), (15, 40), (40, 100), (100, 10**6)]
    print("epochs by final rank (top 5 / 6-15 / 16-40 / 41-100 / below), 3 orders")
    for d in DATASETS:
        c = load_curves(d)
        rank = np.empty(len(c), int)
        rank[np.lexsort((-c[:, -5:].mean(axis=1), -c[:, -1]))] = np.arange(len(c))
        for label, spec in (("curve_fitting", "curve_fitting"), ("NNI's rule", NNI)):
            spent = np.zeros(len(bins))
            for seed in range(3):
                used: dict[int, int] = {}
                order = np.random.default_rng(seed).permutation(len(c))
                replay(c, order, make_rule(spec, "maximize"), used)
                for k, (lo, hi) in enumerate(bins):
                    spent[k] += sum(v for t, v in used.items() if lo <= rank[t] < hi)
            cells = " / ".join(f"{x / 3 / c.size:.1%}" for x in spent)
            print(f"  {d.stem:22s} {label:14s} {cells}  (sum {spent.sum() / 3 / c.size:.1%})")


if __name__ == "__main__":
    parts = {"envelope": envelope, "regression": regression, "where": where}
    for part in sys.argv[1:] or list(parts):
        parts[part]()
