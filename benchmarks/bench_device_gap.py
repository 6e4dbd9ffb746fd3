"""Device idle gap: from one trial's end to the next trial's start on the same device.

Runs a real experiment (``hyperloom.Experiment.from_config(dict).run()``) on fake GPUs with
trialConcurrency = GPUs x slots and short trials, so that a trial always waits for a slot, then
reads the store's ``started`` / ``ended`` times. For every ended trial, the gap is the time until
the next trial started on each of its devices. Also reported, for context: how long after a
trial's last line the manager recorded its end (exit detection), and how long after ``started``
the trial's first line ran (process start, interpreter and ``hyperloom.trials`` import).

    .venv/bin/python benchmarks/bench_device_gap.py --gpus 2 --slots 2 --trials 200

Target: p50 gap under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

TRIAL = """\
import json, os, time
t0 = time.time()
from hyperloom import trials
p = trials.get_params()
time.sleep(p["dur"])
with open(os.environ["LEDGER"], "a") as f:
    f.write(json.dumps({"trial": trials.trial_id(), "t0": t0, "t1": time.time()}) + "\\n")
trials.report_final(p["dur"])
"""


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank rule."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))]


def gaps(records: list[Any]) -> list[float]:
    """Per ended trial and device: seconds until the next trial started on that device."""
    starts: dict[int, list[float]] = defaultdict(list)
    for r in records:
        for d in r.devices:
            starts[d].append(r.started)
    for v in starts.values():
        v.sort()
    out = []
    for r in records:
        for d in r.devices:
            later = [s for s in starts[d] if s >= r.ended]
            if later:
                out.append(later[0] - r.ended)
    return out


def summary(name: str, values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {
        "what": name,
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p99_ms": round(pct(ms, 0.99), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpus", type=int, default=2)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--per-trial", type=int, default=1, help="trialGpuNumber")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--dur", type=float, default=0.05, help="seconds each trial sleeps")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()

    from hyperloom import Experiment

    tmp = Path(tempfile.mkdtemp(prefix="bench-device-gap-"))
    (tmp / "trial.py").write_text(TRIAL)
    os.environ["LEDGER"] = str(tmp / "ledger.jsonl")
    os.environ.setdefault("HYPERLOOM_HOME", str(tmp / "home"))
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    concurrency = args.gpus * args.slots // args.per_trial
    cfg = {
        "trialCommand": f"{sys.executable} trial.py",
        "trialCodeDirectory": str(tmp),
        "experimentWorkingDirectory": str(tmp / "exps"),
        "trialConcurrency": concurrency,
        "maxTrialNumber": args.trials,
        "trialGpuNumber": args.per_trial,
        "searchSpace": {"dur": {"_type": "uniform", "_value": [args.dur, args.dur * 1.0001]}},
        "tuner": {"name": "random"},
        "trainingService": {
            "platform": "local",
            "fakeGpus": args.gpus,
            "maxTrialNumberPerGpu": args.slots,
            "useActiveGpu": True,
        },
    }
    t0 = time.monotonic()
    records = Experiment.from_config(cfg).run(dashboard=False)
    wall = time.monotonic() - t0
    done = [r for r in records if r.started is not None and r.ended is not None]
    led = {}
    for line in (tmp / "ledger.jsonl").read_text().splitlines():
        rec = json.loads(line)
        led[rec["trial"]] = rec
    exit_lat = [r.ended - led[r.trial_id]["t1"] for r in done if r.trial_id in led]
    start_lat = [led[r.trial_id]["t0"] - r.started for r in done if r.trial_id in led]
    out = {
        "config": {**vars(args), "concurrency": concurrency, "wall_s": round(wall, 2)},
        "statuses": sorted({r.status.name for r in records}),
        "results": [
            summary("device idle gap (store ended -> next started)", gaps(done)),
            summary("exit detection (trial's last line -> store ended)", exit_lat),
            summary("trial start (store started -> trial's first line)", start_lat),
        ],
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out["config"]))
        print("statuses:", out["statuses"])
        for s in out["results"]:
            print(
                f"{s['what']:<52} n={s['n']:<4} p50={s['p50_ms']} ms  "
                f"p99={s['p99_ms']} ms  max={s['max_ms']} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
