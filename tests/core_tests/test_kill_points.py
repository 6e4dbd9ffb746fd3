"""kill -9 of the manager at randomized instants, then resume: nothing lost, nothing
duplicated, nothing left running (real CLI processes, real trials, real SQLite)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from hyperloom import open_experiment
from hyperloom.types import TrialStatus
from test_engine import HYPERLOOM, config, first_line_id, start_cli, trial_procs, write_config

N_TRIALS = 14


def test_randomized_kill_points_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("HYPERLOOM_KILL_SEED", "7")))
    space = {
        "steps": {"_type": "choice", "_value": [2, 3]},
        "sleep": {"_type": "choice", "_value": [0.05, 0.15]},
        "fork": {"_type": "choice", "_value": [False, True]},
        "a": {"_type": "uniform", "_value": [0, 1]},
    }
    cfg = config(space, maxTrialNumber=N_TRIALS, trialConcurrency=3)
    path = write_config(tmp_path, cfg)
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    kills = 0
    for _ in range(3):
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        proc = start_cli(["resume", exp_id, "--no-dashboard"])
    assert proc.wait(timeout=180) == 0, proc.stderr.read() if proc.stderr else ""
    with open_experiment(exp_id) as view:
        trials = list(view.trials())
    seqs = [t.sequence for t in trials]
    ids = [t.trial_id for t in trials]
    assert len(seqs) == len(set(seqs)) and len(ids) == len(set(ids))
    assert all(t.status.is_final for t in trials)
    evaluated = [t for t in trials if t.status is not TrialStatus.CANCELED]
    assert len(evaluated) == N_TRIALS, [(t.trial_id, t.status, t.reason) for t in trials]
    deadline = time.monotonic() + 10
    while trial_procs(exp_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert trial_procs(exp_id) == [], "no trial process outlives the experiment"
    assert kills >= 1
    out = subprocess.run([*HYPERLOOM, "status", exp_id, "--json"], capture_output=True, text=True)
    assert out.returncode == 0
