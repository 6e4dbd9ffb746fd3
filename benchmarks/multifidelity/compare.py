"""Reads the issue's two anytime targets off an ``anytime.py`` results file.

For each dataset and each candidate (``bohb``, ``asha_gp``, ... whatever the file holds):

* **compute to match**: the fraction of Optuna-TPE+HyperbandPruner's budget the candidate's
  median regret (over seeds) needs to reach Optuna-HB's final median regret (target: <= 0.5);
* **against random + ASHA**: at 10/25/50/75/100% of the budget, the difference of median
  regrets (candidate minus random+asha) with a 90% bootstrap interval over seeds (2,000
  resamples of each method's seeds, independently: the seeds of two methods are independent
  runs, not pairs), and the one-sided Mann-Whitney U p-value of "the candidate's regrets are
  larger" (a rank test, robust to the many tied regrets).

**Noise, as used for the target.** The candidate "loses by more than noise" at a budget when the
whole 90% bootstrap interval of the median difference is above zero (equivalently, a one-sided
95% bound). Where the bootstrap and the rank test disagree, both are printed; a run where no
method finished any trial in most seeds (NaN median) counts as the worst regret. Each budget is
tested on its own (5 correlated tests per dataset, no multiplicity correction). The A/A check
(``asha-stopping``, random ASHA inside the scheduler, against random + ASHA: the same algorithm)
shows that the bootstrap of medians of these tied, discrete regrets is anti-conservative: on
fashion_sgd at 10% of the wall time it flags a "loss" of +0.0545 [+0.0045, +0.0880] between the
two (rank test p = 0.11). The rank test (one-sided Mann-Whitney U, p < 0.05) is the second
verdict printed; a method meets the target only when neither verdict shows a loss.

Usage::

    .venv/bin/python benchmarks/multifidelity/compare.py [anytime_results.json] [--candidate bohb]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import Problem
from anytime import FRACTIONS, match_fraction


def _regrets(rows: list[dict[str, Any]], i: int, key: str = "regret_epochs") -> np.ndarray:
    v = np.array([r[key][i] for r in rows], dtype=float)
    return np.where(np.isnan(v), np.inf, v)  # nothing finished yet: worst


def interval(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """median(a) - median(b) and its 90% bootstrap interval (NaN where neither had finished a
    trial in most seeds)."""
    with np.errstate(invalid="ignore"):
        d = float(np.median(a) - np.median(b))
        ra = rng.choice(a, size=(2000, a.size)).astype(float)
        rb = rng.choice(b, size=(2000, b.size)).astype(float)
        diffs = np.median(ra, axis=1) - np.median(rb, axis=1)
        diffs = np.where(np.isnan(diffs), 0.0, diffs)  # both unfinished: no difference
        lo, hi = np.quantile(diffs, [0.05, 0.95], method="nearest")
    return d, float(lo), float(hi)


def _p_larger(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value of "``a`` tends to be larger than ``b``" (inf = worst)."""
    if not a.size or not b.size:
        return math.nan
    big = 10.0  # a finite stand-in for "nothing finished", larger than any regret
    a2, b2 = np.where(np.isinf(a), big, a), np.where(np.isinf(b), big, b)
    if np.all(a2 == a2[0]) and np.all(b2 == a2[0]):
        return 1.0
    return float(mannwhitneyu(a2, b2, alternative="greater").pvalue)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", type=Path, default=Path(__file__).with_name(
        "anytime_results.json"))  # fmt: skip
    parser.add_argument("--candidate", action="append")
    parser.add_argument("--baseline", default="random+asha")
    parser.add_argument(
        "--axis",
        choices=["epochs", "time"],
        default="epochs",
        help="budgets as fractions of the epochs or of the virtual wall-time horizon",
    )
    args = parser.parse_args(argv)
    rows = json.loads(args.json.read_text())["rows"]
    rng = np.random.default_rng(0)
    methods = sorted({r["method"] for r in rows})
    cands = args.candidate or [m for m in methods if m in ("bohb", "asha_gp", "bohb-asha")]
    for data in sorted({r["data"] for r in rows}):
        problem = Problem(data)
        here = [r for r in rows if r["data"] == data]
        base = [r for r in here if r["method"] == args.baseline]
        n = len(base)
        print(f"{data} ({n} seeds of {args.baseline}; budgets on the {args.axis} axis)")
        for m in methods:
            mf = match_fraction(here, m, "optuna-tpe+hyperband", problem)
            line = f"  {m:22s} compute to match Optuna-HB: {mf:5.2f}"
            mine = [r for r in here if r["method"] == m]
            if m in cands and base and mine:
                parts = []
                worst = False
                ranked = False
                for i, f in enumerate(FRACTIONS):
                    key = f"regret_{args.axis}"
                    a, b = _regrets(mine, i, key), _regrets(base, i, key)
                    d, lo, hi = interval(a, b, rng)
                    worst |= lo > 0 and math.isfinite(lo)
                    p = _p_larger(a, b)
                    ranked |= p < 0.05
                    parts.append(f"{f:.0%}: {d:+.4f} [{lo:+.4f}, {hi:+.4f}] p={p:.2f}")
                line += (
                    f"\n    vs {args.baseline} ({len(mine)} seeds; median diff, 90% CI, "
                    "one-sided Mann-Whitney p): " + "; ".join(parts)
                )
                line += "\n    bootstrap: " + (
                    "LOSES beyond noise somewhere" if worst else "within noise or better"
                )
                line += "; rank test: " + (
                    "LOSES (p < 0.05) somewhere" if ranked else "no loss at p < 0.05"
                )
            print(line)
        print()


if __name__ == "__main__":
    main()
