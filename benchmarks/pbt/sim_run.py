"""PBT through ``hyperloom run`` on the simulate executor: 1,000+ exploits (half async, half sync), checked from the store.

The real manager loop, scheduler, checkpoint bookkeeping (simulated checkpoints: steps, no
files) and store, on a virtual clock; async and sync. Counts the invariants with
``real_processes.check_store``.

    python benchmarks/pbt/sim_run.py [--exploits 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import toy  # noqa: E402
from hyperloom.space import SearchSpace  # noqa: E402
from real_processes import check_store  # noqa: E402


def run(mode: str, trials: int, tuner: str, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"pbt-sim-{mode}-"))
    (work / "sim_curve.py").write_text((HERE / "sim_curve.py").read_text())
    config = {
        "experimentName": f"pbt-sim-{mode}",
        "searchSpace": toy.SPACE,
        "trialConcurrency": 16 if mode == "async" else 6,
        "maxTrialNumber": trials,
        "trainingService": {
            "platform": "simulate",
            "function": "sim_curve:curve",
            "steps": 120,
            "checkpointEvery": 1,
        },
        "tuner": {
            "name": tuner,
            "classArgs": {
                "mode": "maximize",
                "population_size": 16,
                "perturbation_interval": 2,
                "burn_in": 2,
                "synch": mode,
                "seed": seed,
            },
        },
    }
    (work / "config.yml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "HYPERLOOM_HOME": str(work / "home"), "PYTHONPATH": str(work)}
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "hyperloom", "run", "config.yml", "--no-dashboard", "--quiet"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{mode}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    exp = next((work / "home").glob("*/experiment.db"))
    return {"mode": mode, **check_store(exp, SearchSpace.from_nni(toy.SPACE)), "seconds": secs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=2000, help="maxTrialNumber of one run")
    ap.add_argument("--exploits", type=int, default=1000, help="in all, half per mode")
    ap.add_argument("--tuner", default="hyperloom.tuners.pbt:PBTScheduler")
    ap.add_argument("--json", default=str(HERE / "sim_run.json"))
    args = ap.parse_args()
    rows = []
    for mode in ("async", "sync"):
        total: dict = {"mode": mode, "runs": 0}
        while total.get("exploits", 0) < args.exploits // 2:
            r = run(mode, args.trials, args.tuner, total["runs"])
            for k, v in r.items():
                if isinstance(v, int | float) and k != "runs":
                    total[k] = total.get(k, 0) + v
            total["runs"] += 1
        rows.append(total)
        print(json.dumps(total), flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=2))
    bad = ("exploit_without_checkpoint", "step_regressions", "out_of_bounds", "failed")
    return 1 if any(r[k] for r in rows for k in bad) else 0


if __name__ == "__main__":
    raise SystemExit(main())
