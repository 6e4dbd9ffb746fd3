"""gp before/after session 7's categorical changes, on the problems of ``gp_vs_baselines.py``
that have a categorical parameter (numeric-only spaces give identical suggestions).

"Before" is the cached ``gp`` runs in ``gp_vs_baselines.jsonl`` (session-6 code); "after" runs
the current gp on the same seeds into ``gp_categorical_s7.jsonl`` (skipping runs already there)
and prints, per problem and checkpoint, the medians and how many seeds got lower / higher.

    nice -n 10 python benchmarks/tuners/gp_categorical_s7.py --seeds 4
    python benchmarks/tuners/gp_categorical_s7.py --table
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gp_vs_baselines as gvb  # noqa: E402

CACHE = HERE / "gp_categorical_s7.jsonl"
PROBLEMS = (
    "cat_mixed",
    "conditional",
    "nas_chain",
    "digits_svc",
    "hpolib_naval",
    "hpolib_parkinsons",
    "nb201_cifar10",
)


def _new() -> list[dict]:
    if not CACHE.exists():
        return []
    return [json.loads(x) for x in CACHE.read_text().splitlines() if x.strip()]


def table() -> None:
    old = [r for r in gvb._load() if r["method"] == "gp"]
    new = _new()
    for p in PROBLEMS:
        nr = {r["seed"]: r for r in new if r["problem"] == p}
        orr = {r["seed"]: r for r in old if r["problem"] == p}
        seeds = sorted(set(nr) & set(orr))
        if not seeds:
            continue
        cells = []
        for c in map(str, gvb.CHECKPOINTS):
            a = [nr[s]["regret"][c] for s in seeds]
            b = [orr[s]["regret"][c] for s in seeds]
            lo = sum(x < y for x, y in zip(a, b, strict=True))
            hi = sum(x > y for x, y in zip(a, b, strict=True))
            cells.append(f"@{c} {np.median(a):.3g} vs {np.median(b):.3g} ({lo} lower/{hi} higher)")
        print(f"{p:18s} seeds={len(seeds)}  " + "  ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if not args.table:
        probs = gvb._problems()
        done = {(r["problem"], r["seed"]) for r in _new()}
        for s in range(args.seeds):
            for p in PROBLEMS:
                if (p, s) in done:
                    continue
                rec = gvb.run("gp", probs[p], s, max(gvb.CHECKPOINTS))
                with CACHE.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(p, s, rec["regret"], flush=True)
    print("median regret, after (session 7) vs before (session 6), same seeds")
    table()


if __name__ == "__main__":
    main()
