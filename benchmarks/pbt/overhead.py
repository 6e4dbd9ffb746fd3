"""Exploit overhead: prepare_restore of a 50 MB checkpoint vs a plain shutil.copytree, and the
event loop's responsiveness while it runs in a worker thread (as the manager should call it).

    python benchmarks/pbt/overhead.py [--mb 50] [--repeats 7] [--json out.json]

The checkpoint is a realistic mix: one large weights file, an optimizer file and a few small
ones. ``commit`` (the snapshot taken when the trial reports ``checkpoint=True``) is timed too.
Loop lag: an asyncio loop that wakes every millisecond records how late it woke while
``asyncio.to_thread(prepare_restore)`` copies; the rest of the population is served by that loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hyperloom.checkpoints import CheckpointManager


def make_checkpoint(d: Path, mb: int) -> int:
    d.mkdir(parents=True)
    rng = os.urandom
    big = int(mb * 1e6 * 0.7)
    opt = int(mb * 1e6 * 0.29)
    (d / "model.pt").write_bytes(rng(big))
    (d / "optim.pt").write_bytes(rng(opt))
    rest = int(mb * 1e6) - big - opt
    (d / "meta").mkdir()
    for i in range(8):
        (d / "meta" / f"part{i}.json").write_bytes(rng(rest // 8))
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


async def _lag_during(fn: object) -> tuple[float, float]:
    """(seconds fn took in a worker thread, worst wake-up lag of a 1 ms ticker meanwhile)."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - t - 0.001)

    task = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    await asyncio.to_thread(fn)  # type: ignore[arg-type]
    took = time.perf_counter() - t0
    done = True
    await task
    return took, worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dir", default=None, help="where to put the files (default: a temp dir)")
    ap.add_argument("--json", default=str(Path(__file__).with_name("overhead.json")))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pbt-overhead-", dir=args.dir) as d:
        root = Path(d)
        live = root / "live"
        nbytes = make_checkpoint(live, args.mb)
        cm = CheckpointManager(root / "ckpt")
        commit_s, restore_s, copytree_s, lag_s, restore_thread_s = [], [], [], [], []
        for i in range(args.repeats):
            t = time.perf_counter()
            cm.commit("T0001", i, live)
            commit_s.append(time.perf_counter() - t)
            dest = root / f"restore{i}"
            t = time.perf_counter()
            step = cm.prepare_restore("T0001", dest)
            restore_s.append(time.perf_counter() - t)
            assert step == i
            shutil.rmtree(dest)
            base = root / f"copy{i}"
            t = time.perf_counter()
            shutil.copytree(live, base)
            copytree_s.append(time.perf_counter() - t)
            shutil.rmtree(base)
            dest = root / f"thread{i}"
            took, lag = asyncio.run(
                _lag_during(lambda d=dest: cm.prepare_restore("T0001", d))  # type: ignore[misc]
            )
            restore_thread_s.append(took)
            lag_s.append(lag)
            shutil.rmtree(dest)
    med = statistics.median
    out = {
        "bytes": nbytes,
        "repeats": args.repeats,
        "commit_median_s": med(commit_s),
        "prepare_restore_median_s": med(restore_s),
        "prepare_restore_max_s": max(restore_s),
        "shutil_copytree_median_s": med(copytree_s),
        "restore_in_thread_median_s": med(restore_thread_s),
        "loop_lag_worst_ms": 1000 * max(lag_s),
        "loop_lag_median_of_worst_ms": 1000 * med(lag_s),
        "python": sys.version.split()[0],
    }
    print(f"checkpoint {nbytes / 1e6:.1f} MB, {args.repeats} repeats (medians)")
    print(f"  commit (snapshot)          {out['commit_median_s'] * 1000:8.1f} ms")
    print(
        f"  prepare_restore            {out['prepare_restore_median_s'] * 1000:8.1f} ms"
        f"   (max {out['prepare_restore_max_s'] * 1000:.1f} ms; target <= 1000 ms)"
    )
    print(f"  shutil.copytree baseline   {out['shutil_copytree_median_s'] * 1000:8.1f} ms")
    print(
        f"  restore in a worker thread {out['restore_in_thread_median_s'] * 1000:8.1f} ms, "
        f"event-loop lag worst {out['loop_lag_worst_ms']:.1f} ms "
        f"(median of worst {out['loop_lag_median_of_worst_ms']:.1f} ms)"
    )
    Path(args.json).write_text(json.dumps(out, indent=2))
    return 0 if out["prepare_restore_median_s"] <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
