"""What the dataset scripts share: training every configuration in a process pool, and writing
the ``.npz`` file that ``benchmarks/assessors/replay.py`` reads."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

Job = tuple[int, dict[str, Any], int]
# (index, accuracy, loss) or (index, accuracy, loss, seconds per epoch)
TrainOne = Callable[[Job], tuple[Any, ...]]


def train_all(
    train_one: TrainOne, configs: list[dict[str, Any]], epochs: int, workers: int
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
    """Trains every configuration with ``train_one`` in ``workers`` processes, printing progress
    every 10 configurations; returns the accuracy and loss arrays, the wall time, and the
    seconds of each epoch when ``train_one`` measured them (None otherwise)."""
    acc = np.zeros((len(configs), epochs), dtype=np.float32)
    loss = np.zeros((len(configs), epochs), dtype=np.float32)
    seconds: np.ndarray | None = None
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(train_one, (i, c, epochs)) for i, c in enumerate(configs)]
        for done, future in enumerate(as_completed(futures), start=1):
            i, a, lo, *rest = future.result()
            acc[i], loss[i] = a, lo
            if rest:
                if seconds is None:
                    seconds = np.zeros((len(configs), epochs), dtype=np.float32)
                seconds[i] = rest[0]
            if done % 10 == 0:
                print(
                    f"{done}/{len(configs)} configs, {time.perf_counter() - t0:.0f} s", flush=True
                )
    return acc, loss, time.perf_counter() - t0, seconds


def save(
    out: Path,
    acc: np.ndarray,
    loss: np.ndarray,
    configs: list[dict[str, Any]],
    meta: dict[str, Any],
    wall: float,
    seconds: np.ndarray | None = None,
) -> None:
    """Writes the dataset (keys ``accuracy``, ``logloss``, ``params``, ``meta``, and
    ``seconds`` (per epoch) when measured) and a summary."""
    extra = {} if seconds is None else {"seconds": seconds}
    np.savez_compressed(
        out, accuracy=acc, logloss=loss, params=json.dumps(configs), meta=json.dumps(meta), **extra
    )
    final = acc[:, -1]
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) in {wall:.0f} s; "
        f"final accuracy: median {np.median(final):.3f}, max {final.max():.3f}"
    )


def main(
    description: str,
    sample_config: Callable[[np.random.Generator], dict[str, Any]],
    train_one: TrainOne,
    meta: dict[str, Any],
    *,
    configs: int,
    epochs: int,
    seed: int,
    out: Path,
) -> None:
    """The dataset scripts' command line: draws ``--configs`` configurations with ``--seed``,
    trains each for ``--epochs`` in ``--workers`` processes and writes ``--out``; ``meta``
    describes the data and the model, the run's own figures are added to it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--configs", type=int, default=configs)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    drawn = [sample_config(rng) for _ in range(args.configs)]
    acc, loss, wall, seconds = train_all(train_one, drawn, args.epochs, args.workers)
    meta = {
        **meta,
        "seed": args.seed,
        "configs": args.configs,
        "epochs": args.epochs,
        "wall_s": round(wall, 1),
    }
    save(args.out, acc, loss, drawn, meta, wall, seconds)
