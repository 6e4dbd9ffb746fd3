"""Correctness of PBT exploits with real checkpoint files, async and sync, over 1,000+ exploits.

Drives :class:`~hyperloom.tuners.pbt.PBTScheduler` and
:class:`~hyperloom.checkpoints.CheckpointManager` directly (``_drive.py``: the manager's calls,
simulated toy curves, real files, a tight disk budget so that GC works hard), and counts:
exploits without a committed checkpoint, step regressions, out-of-bounds values, checkpoints
deleted while needed, and restored states whose step differs from the checkpoint's.

    python benchmarks/pbt/correctness.py [--exploits 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drive import Counts, Driver, make

BAD = (
    "exploit_without_checkpoint",
    "step_regressions",
    "out_of_bounds",
    "deleted_while_needed",
    "restored_state_mismatch",
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--exploits", type=int, default=1000)
    ap.add_argument("--json", default=str(Path(__file__).with_name("correctness.json")))
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    for mode in ("async", "sync"):
        total = Counts()
        seed = 0
        while total.exploits < args.exploits // 2 + (args.exploits % 2 if mode == "sync" else 0):
            sched = make(
                seed,
                population_size=16,
                perturbation_interval=4,
                synch=mode,
                quantile_fraction=0.25,
                burn_in=4,
            )
            with tempfile.TemporaryDirectory(prefix="pbt-correct-") as d:
                drv = Driver(
                    sched,
                    slots=16 if mode == "async" else 6,
                    seed=seed,
                    ckpt_every=3 if mode == "async" else 2,
                    root=Path(d),
                    budget=16 * 3 * 1200,
                    payload=1024,
                )
                c = drv.run()
            for k, v in asdict(c).items():
                setattr(total, k, getattr(total, k) + v)
            seed += 1
        rows.append({"mode": mode, "runs": seed, **asdict(total)})
    secs = time.perf_counter() - t0
    print(
        f"{'mode':6} {'runs':>4} {'exploits':>8} {'resumes':>7} {'commits':>7} {'gc_del':>6}  "
        + "  ".join(BAD)
    )
    for r in rows:
        print(
            f"{r['mode']:6} {r['runs']:4d} {r['exploits']:8d} {r['resumes']:7d} "
            f"{r['commits']:7d} {r['gc_deleted']:6d}  "
            + "  ".join(f"{r[k]:>{len(k)}d}" for k in BAD)
        )
    print(f"({secs:.1f} s)")
    Path(args.json).write_text(json.dumps({"rows": rows, "seconds": secs}, indent=2))
    return 1 if any(r[k] for r in rows for k in BAD) else 0


if __name__ == "__main__":
    raise SystemExit(main())
