"""PBT through ``hyperloom run`` with real trial processes: at least 50 exploits, checked.

The trial (``_real_trial.py``, standard library only) trains the toy model of ``toy.py`` one step
at a time, saves ``state.json`` (accuracy, step, its parameters' lineage) into
``checkpoint_dir()`` and reports ``checkpoint=True``. On start it loads ``restore_dir()`` and
exits 3 if ``start_step()`` is not the restored step + 1. After the run this script reads the
store and counts: exploits (trials with a parent), exploits whose donor had no committed
checkpoint (warm starts refused), step regressions (a trial whose first step is not its
donor's checkpoint step + 1, or whose steps go backwards), out-of-bounds parameters, checkpoints
refused, failed trials, and snapshots on disk at the end versus the budget.

    python benchmarks/pbt/real_processes.py [--trials 90] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import toy  # noqa: E402
from hyperloom.space import SearchSpace  # noqa: E402


def check_store(exp: Path, space: SearchSpace) -> dict[str, Any]:
    """The PBT invariants, counted from an experiment's store (read-only) and snapshots."""
    db = sqlite3.connect(f"file:{exp}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    trials = {row["trial_id"]: dict(row) for row in db.execute("SELECT * FROM trials")}
    steps: dict[str, list[int]] = {}
    for row in db.execute("SELECT trial_id, step FROM metrics ORDER BY t, step"):
        steps.setdefault(row["trial_id"], []).append(int(row["step"]))
    events = [dict(row) for row in db.execute("SELECT kind, trial_id, payload_json FROM events")]
    out: dict[str, Any] = {
        "trials": len(trials),
        "exploits": 0,
        "resumes": sum(e["kind"] == "resumed" for e in events),
        "pauses": sum(e["kind"] == "paused" for e in events),
        "exploit_without_checkpoint": 0,
        "step_regressions": 0,
        "out_of_bounds": 0,
        "checkpoints_refused": sum(e["kind"] == "checkpoint_refused" for e in events),
        "failed": sum(t["status"] == "FAILED" for t in trials.values()),
        "early_stopped": sum(t["status"] == "EARLY_STOPPED" for t in trials.values()),
    }
    for tid, t in trials.items():
        params = json.loads(t["params_json"])
        out["out_of_bounds"] += not space.contains(params)
        s = steps.get(tid, [])
        out["step_regressions"] += any(b <= a for a, b in itertools.pairwise(s))
        if t.get("parent"):
            out["exploits"] += 1
            pert = json.loads(t.get("perturbation_json") or "null") or {}
            donor_step = pert.get("donor_step")
            if donor_step is None:
                out["exploit_without_checkpoint"] += 1
            elif s and s[0] <= donor_step:
                out["step_regressions"] += 1  # restarted at or before the donor's checkpoint
    refused = [e for e in events if "no committed checkpoint" in (e.get("payload_json") or "")]
    out["exploit_without_checkpoint"] += len(refused)
    snap = exp.parent / "checkpoints"
    out["snapshot_bytes_at_end"] = sum(
        p.stat().st_size for p in snap.rglob("*") if p.is_file() and p.name != "COMMITTED"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--sleep", type=float, default=0.2, help="seconds per step")
    ap.add_argument("--every", type=int, default=2, help="checkpoint every N steps")
    ap.add_argument("--interval", type=int, default=4, help="perturbation interval")
    ap.add_argument("--json", default=str(HERE / "real_processes.json"))
    ap.add_argument("--tuner", default="hyperloom.tuners.pbt:PBTScheduler")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pbt-real-"))
    (work / "_real_trial.py").write_text((HERE / "_real_trial.py").read_text())
    (work / "toy.py").write_text((HERE / "toy.py").read_text())
    config = {
        "experimentName": "pbt-real",
        "searchSpace": {
            **toy.SPACE,
            "steps": {"_type": "choice", "_value": [args.steps]},
            "sleep": {"_type": "choice", "_value": [args.sleep]},
            "every": {"_type": "choice", "_value": [args.every]},
        },
        "trialCommand": f"{sys.executable} _real_trial.py",
        "trialCodeDirectory": ".",
        # two slots above the population: a replacement starts while the stopped member
        # winds down (a cooperative stop takes a step or more)
        "trialConcurrency": 10,
        "maxTrialNumber": args.trials,  # population 8 + the exploits
        "maxExperimentDuration": "20m",
        "checkpointBudget": "200KB",
        "tuner": {
            "name": args.tuner,
            "classArgs": {
                "mode": "maximize",
                "population_size": 8,
                "perturbation_interval": args.interval,
                "burn_in": 2,
                "seed": 0,
            },
        },
    }
    (work / "config.yml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "HYPERLOOM_HOME": str(work / "home")}
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "hyperloom", "run", "config.yml", "--no-dashboard"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-3000:])
        return 1
    exp = next((work / "home").glob("*/experiment.db"))
    out = {**check_store(exp, SearchSpace.from_nni(config["searchSpace"])), "seconds": secs}
    print(json.dumps(out, indent=2))
    Path(args.json).write_text(json.dumps(out, indent=2))
    bad = ("exploit_without_checkpoint", "step_regressions", "out_of_bounds", "failed")
    return 1 if any(out[k] for k in bad) or out["exploits"] < 50 else 0


if __name__ == "__main__":
    raise SystemExit(main())
