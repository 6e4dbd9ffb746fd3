"""Prints the results of ``quality.py`` as Markdown tables (median regret at each checkpoint), with
the ratio of our TPE to Optuna's (with a bootstrap interval, since 20-seed medians are noisy) and a win count of evolution and rl against random search, and our evolution against NNI's
(``nni_evolution``, merged in by ``nni_baseline.py``).

    .venv/bin/python benchmarks/tuners/report.py benchmarks/tuners/quality_results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/tuners/quality_results.json")
    data = json.loads(path.read_text())
    runs = data["runs"]
    cps = [25, 50, 100]
    tuners = list(next(iter(runs.values())))
    n_seeds = len(next(iter(next(iter(runs.values())).values())))
    print(f"Median regret over {n_seeds} seeds, at 25 / 50 / 100 trials (lower is better).\n")
    print("| problem | " + " | ".join(tuners) + " |")
    print("|---|" + "---|" * len(tuners))
    for prob, by_tuner in runs.items():
        cells = []
        for t in tuners:
            meds = [_median([r[c - 1] for r in by_tuner[t]]) for c in cps]
            cells.append(" / ".join(f"{m:.3g}" for m in meds))
        print(f"| {prob} | " + " | ".join(cells) + " |")
    if "tpe" in tuners and "optuna" in tuners:
        print(
            "\nOur TPE vs Optuna's multivariate TPE: ratio of median regrets (< 1: ours better),"
            " with its 80% bootstrap interval (seeds resampled, 1000 times) and P(win), the chance"
            " that one of our runs ends below one of Optuna's (ties count half; 0.5: level).\n"
        )
        print("| problem | @25 | @50 | @100 | P(win) @100 |")
        print("|---|---|---|---|---|")
        rng = np.random.default_rng(0)
        for prob, by_tuner in runs.items():
            cells = []
            for c in cps:
                a = np.array([r[c - 1] for r in by_tuner["tpe"]])
                b = np.array([r[c - 1] for r in by_tuner["optuna"]])
                ours, theirs = _median(list(a)), _median(list(b))
                if ours == theirs:
                    cells.append("=")
                    continue
                if theirs <= 0:
                    cells.append("inf")
                    continue
                ra = np.median(a[rng.integers(0, len(a), (1000, len(a)))], axis=1)
                rb = np.median(b[rng.integers(0, len(b), (1000, len(b)))], axis=1)
                lo, hi = np.percentile(ra / np.maximum(rb, 1e-300), [10, 90])
                cells.append(f"{ours / theirs:.2f} [{lo:.2f}, {hi:.2f}]")
            a, b = (np.array([r[-1] for r in by_tuner[t]]) for t in ("tpe", "optuna"))
            win = (a[:, None] < b).mean() + 0.5 * (a[:, None] == b).mean()
            print(f"| {prob} | " + " | ".join(cells) + f" | {win:.2f} |")
    for t in ("evolution", "rl", "anneal"):
        if t in tuners and "random" in tuners:
            better = []
            for prob, by_tuner in runs.items():
                a = _median([r[99] for r in by_tuner[t]])
                b = _median([r[99] for r in by_tuner["random"]])
                better.append(f"{prob}: {a:.3g} vs {b:.3g}")
            print(f"\n{t} vs random @100: " + "; ".join(better))
    if "evolution" in tuners and "nni_evolution" in tuners:
        cells = []
        for prob, by_tuner in runs.items():
            a = _median([r[99] for r in by_tuner["evolution"]])
            b = _median([r[99] for r in by_tuner["nni_evolution"]])
            cells.append(f"{prob}: {a:.3g} vs {b:.3g}")
        print("\nevolution vs nni_evolution @100: " + "; ".join(cells))


if __name__ == "__main__":
    main()
