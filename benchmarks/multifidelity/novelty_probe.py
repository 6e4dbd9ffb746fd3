"""What the novelty check of bohb (or asha_gp) rejects on the recorded-curve datasets, counted against the table.

Each dataset of ``_problems.py`` answers a configuration with its *nearest recorded run*, so two
configurations that map to the same recorded run are one trial twice. For every model suggestion
that the scheduler checks (``LevelModelScheduler._too_close``) this script records whether the check
rejected it and whether the suggestion maps to a recorded run that a trial of this search already
maps to (a copy on the table). Run as ``anytime.py`` runs the method (defaults, 4 workers, budget
30).

Usage::

    .venv/bin/python benchmarks/multifidelity/novelty_probe.py --seeds 20 [--dataset fashion_sgd] [--method asha_gp]

Per dataset, sums over the seeds: model suggestions checked; rejected; rejected although the
table would have answered with a recorded run not yet tried; accepted although it is a copy of a
tried recorded run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drive import replay
from _problems import Problem, available
from anytime import WORKERS, make


def probe(data: str, seed: int, budget: float, method: str = "bohb") -> list[tuple[bool, bool]]:
    """(rejected, copy of a tried recorded run) for each model suggestion the method checked."""
    from hyperloom.tuners.bohb import LevelModelScheduler

    problem = Problem(data)
    out: list[tuple[bool, bool]] = []
    orig = LevelModelScheduler._too_close

    def spy(self: LevelModelScheduler, params: dict[str, Any]) -> bool:
        rejected = orig(self, params)
        tried = {problem.lookup(st.params) for st in self._trials.values() if st.params}
        out.append((rejected, problem.lookup(params) in tried))
        return rejected

    LevelModelScheduler._too_close = spy  # type: ignore[method-assign]
    try:
        replay(problem, make(method, problem, seed), int(budget * problem.n_epochs), WORKERS)
    finally:
        LevelModelScheduler._too_close = orig  # type: ignore[method-assign]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--method", default="bohb", choices=["bohb", "asha_gp"])
    parser.add_argument("--dataset", action="append", help="default: mnist1d, fashion_sgd, digits")
    args = parser.parse_args(argv)
    datasets = args.dataset or [d for d in ("mnist1d", "fashion_sgd", "digits") if d in available()]
    print(
        f"{args.method}: dataset  seeds | checked | rejected | rejected, a new recorded run | accepted, a copy"
    )
    for data in datasets:
        recs = [r for s in range(args.seeds) for r in probe(data, s, args.budget, args.method)]
        rej = sum(r for r, _ in recs)
        rej_new = sum(r and not c for r, c in recs)
        acc_copy = sum(c and not r for r, c in recs)
        print(
            f"{data:12s} {args.seeds:5d} | {len(recs):7d} | {rej:8d} | {rej_new:28d} | "
            f"{acc_copy:7d} of {len(recs) - rej}",
            flush=True,
        )


if __name__ == "__main__":
    main()
