"""An experiment whose trials all fail the same way at launch stops FAILED (exit 1) after
maxLaunchFailures of them, with a hint, instead of burning its whole budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hyperloom import open_experiment
from hyperloom.types import TrialStatus

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def run(tmp_path: Path, **kw: Any) -> tuple[subprocess.CompletedProcess[str], Path]:
    cfg: dict[str, Any] = {
        "trialCommand": "definitely-not-a-command --x {x}",
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "maxTrialNumber": 40,
        "trialConcurrency": 1,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"], capture_output=True, text=True, timeout=120
    )
    exp_dir = next((tmp_path / "exps").iterdir())
    return out, exp_dir


def test_identical_launch_failures_stop_the_experiment(tmp_path: Path) -> None:
    out, exp_dir = run(tmp_path, maxLaunchFailures=3)
    assert out.returncode == 1
    text = " ".join(out.stdout.split())
    assert "3 trials in a row failed the same way" in text and "not found" in text
    with open_experiment(exp_dir) as view:
        failed = view.trials(status=TrialStatus.FAILED)
        assert len(failed) == 3 and view.status == "FAILED"


def test_the_check_can_be_turned_off(tmp_path: Path) -> None:
    out, exp_dir = run(tmp_path, maxLaunchFailures=0, maxTrialNumber=6)
    # all six ran (and failed): the run goes on, and exits 1 because no trial succeeded
    assert out.returncode == 1, out.stdout + out.stderr
    assert "No trial succeeded (6 trials: 6 failed)" in out.stdout
    with open_experiment(exp_dir) as view:
        assert len(view.trials(status=TrialStatus.FAILED)) == 6
