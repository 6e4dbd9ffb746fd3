"""Prints the results of ``quality.py`` as Markdown tables (median regret at each checkpoint), with
the ratio of our TPE to Optuna's and a win count of evolution and rl against random search, and our evolution against NNI's
(``nni_evolution``, merged in by ``nni_baseline.py``).

    .venv/bin/python benchmarks/tuners/report.py benchmarks/tuners/quality_results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


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
            "\nOur TPE vs Optuna's multivariate TPE: ratio of median regrets (< 1: ours better).\n"
        )
        print("| problem | @25 | @50 | @100 |")
        print("|---|---|---|---|")
        for prob, by_tuner in runs.items():
            cells = []
            for c in cps:
                ours = _median([r[c - 1] for r in by_tuner["tpe"]])
                theirs = _median([r[c - 1] for r in by_tuner["optuna"]])
                cells.append(
                    "=" if ours == theirs else (f"{ours / theirs:.2f}" if theirs > 0 else "inf")
                )
            print(f"| {prob} | " + " | ".join(cells) + " |")
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
