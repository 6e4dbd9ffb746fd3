"""Compares the best architectures of finished nas-digits experiments with the hand-designed
baseline, each retrained the same way with several seeds. Prints a Markdown table.

    python compare.py EXPERIMENT_ID_OR_DIR [...] [--seeds 0 1 2] [--workers 2]

The search itself reports validation accuracy of one training run per architecture, which
favours lucky runs; retraining with fresh seeds, and reporting the held-out test split that the
search never saw, gives the fair comparison.
"""

from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from hyperloom import open_experiment
from train import BASELINE, train

NAS_KEYS = ("normal_", "reduce_")


def _job(args: tuple[dict[str, Any], int]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return train(*args)


def _cell(arch: dict[str, Any]) -> str:
    nodes = sorted({k.split("_")[1] for k in arch if k.startswith("normal_n")})
    parts = []
    for n in nodes:
        a = f"{arch[f'normal_{n}_op0']}({arch[f'normal_{n}_in0']})"
        b = f"{arch[f'normal_{n}_op1']}({arch[f'normal_{n}_in1']})"
        parts.append(f"{n}: {a} + {b}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("experiments", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("hand-designed baseline", BASELINE, {})
    ]
    for exp in args.experiments:
        view = open_experiment(exp)
        best = view.best(1)[0]
        tuner = view.reader.experiment()["config"]["tuner"]["name"]
        info = {"trials": view.counts().get("SUCCEEDED", 0), "search_val": best.value}
        arch = {k: v for k, v in best.params.items() if k.startswith(NAS_KEYS)}
        rows.append((f"best found by `{tuner}` ({exp})", arch, info))
    jobs = [(arch, seed) for _, arch, _ in rows for seed in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_job, jobs))
    k = len(args.seeds)
    print(
        "| architecture | finished search trials | val acc in search | retrained val acc | retrained test acc | params | MACs/image | cell |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, (label, arch, info) in enumerate(rows):
        rs = results[i * k : (i + 1) * k]
        val = [r["val_acc"] for r in rs]
        test = [r["test_acc"] for r in rs]
        sv = f"{info['search_val']:.3f}" if info else "-"
        trials_n = str(info.get("trials", "-")) if info else "-"

        def fmt(xs: list[float]) -> str:
            return f"{statistics.mean(xs):.3f} ± {statistics.pstdev(xs):.3f}"

        print(
            f"| {label} | {trials_n} | {sv} | {fmt(val)} | {fmt(test)} | {rs[0]['params']} | "
            f"{rs[0]['macs']} | {_cell(arch)} |"
        )


if __name__ == "__main__":
    main()
