"""Hindsight bound for rank-based early stopping: what a rule that knew every run's rank could do.

For each dataset, every run's best value so far is ranked at each step against the *whole*
population (the fraction of runs strictly better). A schedule ``q(s) = q0 * s ** -a`` keeps a run
at step ``s`` while that fraction is at most ``q(s)``; a run stops at the first step it is not.
Printed per schedule: epochs used (no concurrency, no startup: a lower bound for any online rule
of this shape) and the top 5 kept (as ``replay.py`` ranks them). This is the check behind "about
20% of the epochs buys 4.0 of the top 5" in docs/notes/assessors.md.

Usage::

    .venv/bin/python benchmarks/assessors/oracle_ranks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import DATA_DIR, load_curves

DATASETS = ("mnist1d_curves.npz", "digits_mlp_curves.npz", "fashion_sgd_curves.npz")


def evaluate(curves: np.ndarray, q: np.ndarray) -> tuple[float, int, int]:
    """Epochs used, whether the best run is kept, and top-5 kept under the schedule ``q``."""
    final, steady = curves[:, -1], curves[:, -5:].mean(axis=1)
    top = np.lexsort((-steady, -final))[:5]
    best = np.maximum.accumulate(curves, axis=1)
    better = (best[None, :, :] > best[:, None, :]).mean(axis=1)  # run x step
    alive = np.cumprod(better <= q[None, :], axis=1).astype(bool)
    trained = np.concatenate([np.ones((len(curves), 1), bool), alive[:, :-1]], axis=1)
    return trained.sum() / curves.size, int(alive[top[0], -1]), int(alive[top, -1].sum())


def main() -> None:
    data = {name: load_curves(DATA_DIR / name) for name in DATASETS}
    print(f"{'q0':>5s} {'a':>5s} {'mean epochs':>12s} {'top5':>5s} | per dataset: epochs best top5")
    for q0 in (0.35, 0.4, 0.45, 0.5):
        for a in (0.25, 0.35, 0.45):
            rows = []
            for curves in data.values():
                s = np.arange(1, curves.shape[1] + 1, dtype=float)
                rows.append(evaluate(curves, q0 * s**-a))
            ep = float(np.mean([r[0] for r in rows]))
            top5 = float(np.mean([r[2] for r in rows]))
            cells = "  ".join(f"{e:5.1%} {b} {t}" for e, b, t in rows)
            print(f"{q0:5.2f} {a:5.2f} {ep:12.1%} {top5:5.2f} | {cells}")


if __name__ == "__main__":
    main()
