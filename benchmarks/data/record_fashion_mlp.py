"""Records torch MLP learning curves on Fashion-MNIST as compact JSON (``fashion_mlp_curves.json``).

The training itself is ``make_fashion_curves.py``'s (same space, same 14x14 pooled subset of
6,000 training and 2,000 test images from the Debian package ``dataset-fashion-mnist``, one
thread per worker); this script differs in what it writes and how it runs on a shared machine:

* the JSON file is rewritten after every finished configuration, so a run stopped by
  ``--max-minutes`` (or by hand) leaves a usable dataset of the configurations finished so far
  (``index`` gives each one's position in the drawn list);
* values are rounded (accuracy 4 decimals, loss 4, seconds 3) to keep the file small.

Format (one object)::

    {"meta": {...}, "index": [i, ...], "params": [{...}, ...],
     "accuracy": [[epoch 1, ..., epoch E], ...], "logloss": [[...], ...],
     "seconds": [[...], ...]}

Usage (about 20 minutes on 2 quiet cores)::

    nice -n 10 .venv/bin/python benchmarks/data/record_fashion_mlp.py --configs 120 --epochs 30 \
        --workers 2 --max-minutes 35 > /tmp/fashion_mlp.log 2>&1 &
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from make_fashion_curves import N_TEST, N_TRAIN, SOURCE, sample_config, train_one  # noqa: E402

OUT = Path(__file__).with_name("fashion_mlp_curves.json")


def write(
    out: Path, meta: dict[str, Any], done: dict[int, tuple[Any, ...]], cfgs: list[Any]
) -> None:
    """Writes the finished configurations (in draw order) to ``out`` atomically."""
    keys = sorted(done)
    data = {
        "meta": meta,
        "index": keys,
        "params": [cfgs[i] for i in keys],
        "accuracy": [[round(v, 4) for v in done[i][0]] for i in keys],
        "logloss": [[round(v, 4) for v in done[i][1]] for i in keys],
        "seconds": [[round(v, 3) for v in done[i][2]] for i in keys],
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2029)
    parser.add_argument("--max-minutes", type=float, default=35.0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--resume", action="store_true", help="keep the configurations already in --out"
    )
    args = parser.parse_args()
    import torch

    rng = np.random.default_rng(args.seed)
    cfgs = [sample_config(rng) for _ in range(args.configs)]
    meta: dict[str, Any] = {
        "dataset": f"Fashion-MNIST ({SOURCE}), 2x2 average-pooled to 14x14, standardized",
        "split": f"random subsets (seed 0): {N_TRAIN} of train, {N_TEST} of t10k (the curves)",
        "model": "torch softmax regression or MLP (0-3 hidden layers), one pass per epoch",
        "script": "benchmarks/data/record_fashion_mlp.py (training: make_fashion_curves.py)",
        "torch": torch.__version__,
        "seed": args.seed,
        "configs_drawn": args.configs,
        "epochs": args.epochs,
    }
    done: dict[int, tuple[Any, ...]] = {}
    spent = 0.0
    if args.resume and args.out.exists():
        old = json.loads(args.out.read_text())
        if old["meta"]["seed"] != args.seed or old["meta"]["epochs"] != args.epochs:
            raise SystemExit(f"{args.out} was made with another --seed or --epochs")
        for k, i in enumerate(old["index"]):
            done[i] = (old["accuracy"][k], old["logloss"][k], old["seconds"][k])
        spent = float(old["meta"].get("wall_s", 0.0))
    t0 = time.perf_counter() - spent
    deadline = time.perf_counter() + 60 * args.max_minutes
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        pending = {
            pool.submit(train_one, (i, c, args.epochs)) for i, c in enumerate(cfgs) if i not in done
        }
        while pending:
            finished, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
            for f in finished:
                i, acc, loss, secs = f.result()
                done[i] = (acc, loss, secs)
            if finished:
                meta["wall_s"] = round(time.perf_counter() - t0, 1)
                meta["configs"] = len(done)
                write(args.out, meta, done, cfgs)
                print(f"{len(done)}/{args.configs} configs, {meta['wall_s']:.0f} s", flush=True)
            if deadline and time.perf_counter() > deadline:
                print("time cap reached; cancelling what has not started", flush=True)
                for f in pending:
                    f.cancel()
                pending = {f for f in pending if not f.cancelled()}  # running: still recorded
                deadline = 0.0
    finals = [done[i][0][-1] for i in sorted(done)]
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB), {len(done)} configs; "
        f"final accuracy: median {np.median(finals):.3f}, max {max(finals):.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
