"""``hyperloom.stop_experiment`` with the manager gone (kill -9): the trials it left, and the
daemons they started, are ended with SIGTERM first (a trial that traps it can clean up), and the
store records them CANCELED and the experiment STOPPED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml
from hyperloom import open_experiment, stop_experiment
from hyperloom.types import TrialStatus

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]

TRIAL = """
import os, signal, subprocess, sys, time
from pathlib import Path
from hyperloom import trials
d = Path(os.environ["HYPERLOOM_TRIAL_DIR"])
def bye(*_):
    (d / "got_sigterm").write_text("1")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
for step in range(600):
    trials.report(float(step), step=step)
    time.sleep(0.1)
"""


def marked(exp_id: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("HYPERLOOM_EXPERIMENT_ID") == exp_id:
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_stop_after_kill_9_ends_trials_and_their_daemons(tmp_path: Path) -> None:
    (tmp_path / "trial.py").write_text(TRIAL)
    cfg = {
        "trialCommand": f"{sys.executable} trial.py",
        "trialCodeDirectory": str(tmp_path),
        "searchSpace": {"x": {"_type": "choice", "_value": [1, 2]}},
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "stopGracePeriod": 3,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    mgr = subprocess.Popen(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert mgr.stdout is not None
    exp_id = mgr.stdout.readline().split()[1]
    deadline = time.monotonic() + 60
    while len(marked(exp_id)) < 4 and time.monotonic() < deadline:  # 2 trials, 2 daemons
        time.sleep(0.2)
    assert len(marked(exp_id)) >= 4
    mgr.send_signal(signal.SIGKILL)
    mgr.wait(10)
    res = stop_experiment(exp_id)
    assert res.manager_pid is None and res.trials_ended == 2
    deadline = time.monotonic() + 10
    while marked(exp_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked(exp_id) == [], "no trial process or daemon outlives the stop"
    with open_experiment(exp_id) as view:
        assert view.status == "STOPPED"
        assert {t.status for t in view.trials()} == {TrialStatus.CANCELED}
        for t in view.trials():
            assert (view.dir / "trials" / t.trial_id / "got_sigterm").exists(), "SIGTERM first"
    assert os.environ.get("HYPERLOOM_EXPERIMENT_ID") != exp_id
