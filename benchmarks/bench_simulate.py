"""Simulator throughput: N trials x 27 steps from a table, concurrency 16, ASHA, through
`hyperloom run` (a real CLI process). Prints wall time, manager peak RSS and virtual elapsed.

    python benchmarks/bench_simulate.py --trials 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STEPS = 27


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hl-sim-"))
    n = args.trials
    rows = [
        {
            "params": {"x": i},
            "curve": [(i % 997) / 997 * (1 - 0.85 ** (s + 1)) for s in range(STEPS)],
            "seconds": [30.0 * (s + 1) for s in range(STEPS)],
        }
        for i in range(n)
    ]
    (tmp / "table.json").write_text(json.dumps({"rows": rows}))
    cfg = {
        "experimentName": "bench-sim",
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(n))}},
        "trialConcurrency": args.concurrency,
        "maxTrialNumber": n,
        "tuner": {"name": "random", "classArgs": {"seed": 0}},
        "assessor": {
            "name": "asha",
            "classArgs": {"min_resource": 1, "reduction_factor": 3, "max_resource": STEPS},
        },
        "trainingService": {"platform": "simulate", "table": str(tmp / "table.json")},
        "experimentWorkingDirectory": str(tmp / "exps"),
        "dashboard": False,
    }
    (tmp / "sim.yml").write_text(yaml.safe_dump(cfg))
    t0 = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hyperloom.cli",
            "run",
            str(tmp / "sim.yml"),
            "--no-dashboard",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-2000:])
        raise SystemExit(out.returncode)
    exp_id = out.stdout.split()[1]
    from hyperloom import open_experiment

    with open_experiment(exp_id) as view:
        trials = list(view.trials())
    virtual = max(t.ended for t in trials) - min(t.started for t in trials)
    steps = sum(len(t.intermediate) for t in trials)
    print(
        f"trials {len(trials)}  steps played {steps}  wall {wall:.1f} s  "
        f"manager peak RSS {rss_mb:.0f} MB  virtual elapsed {virtual / 3600:.1f} h  "
        f"({virtual / wall:.0f}x real time)"
    )


if __name__ == "__main__":
    main()
