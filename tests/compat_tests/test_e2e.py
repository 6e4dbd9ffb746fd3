"""End to end with the real manager and real subprocess trials: the examples of issue 7."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from compat_helpers import REPO
from hyperloom.experiment import Experiment
from hyperloom.types import TrialStatus


def _copy_example(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(REPO / "examples" / name, dst)
    return dst


def _edit(path: Path, **changes: Any) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unmodified_nni_trial_on_the_shim(tmp_path: Path, hl_home: Path) -> None:
    d = _copy_example("nni-digits", tmp_path)
    cfg = _edit(d / "config_shim.yml", maxTrialNumber=2, trialConcurrency=2)
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert len(records) == 2
    for r in records:
        assert r.status == TrialStatus.SUCCEEDED, r.reason
        assert 0.0 <= r.value <= 1.0
        assert len(r.intermediate) == 4  # one per cross-validation fold
        (trial_dir,) = hl_home.glob(f"*/trials/{r.trial_id}")
        assert "test accuracy" in (trial_dir / "stdout.log").read_text()  # print() is kept
        assert not (trial_dir / "trial.log").exists()


def test_plain_script_stdout_and_csv(tmp_path: Path) -> None:
    d = _copy_example("wrap-script", tmp_path)
    for name in ("config.yml", "config_csv.yml"):
        cfg = _edit(d / name, maxTrialNumber=2)
        records = Experiment.from_config(cfg).run(dashboard=False)
        assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2, [
            r.reason for r in records
        ]
        for r in records:
            assert len(r.intermediate) == 8
            assert r.value == r.intermediate[-1]
            assert 0.4 <= r.value <= 1.0


def test_plain_script_without_its_objective_fails_with_a_reason(tmp_path: Path) -> None:
    d = _copy_example("wrap-script", tmp_path)
    cfg = _edit(d / "config.yml", maxTrialNumber=1, metricCapture={"objective": "f1"})
    (r,) = Experiment.from_config(cfg).run(dashboard=False)
    assert r.status == TrialStatus.FAILED
    assert "no value of 'f1' found" in (r.reason or "")
    assert "done" in (r.reason or "")


def test_no_config_run_from_the_command_line(tmp_path: Path, hl_home: Path) -> None:
    d = _copy_example("wrap-script", tmp_path)
    cmd = [
        sys.executable, "-m", "hyperloom.cli", "run", "--tuner", "random", "-n", "2", "-c", "2",
        "--objective", "accuracy", "--no-dashboard", "-q", "--",
        "python", "train.py", "--lr~loguniform(1e-3, 1)", "--optimizer~choices(['sgd', 'momentum'])",
        "--epochs", "2",
    ]  # fmt: skip
    r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    (exp_dir,) = [p for p in hl_home.iterdir() if p.is_dir() and (p / "config.yaml").exists()]
    config = yaml.safe_load((exp_dir / "config.yaml").read_text())
    assert config["trialCommand"] == "python train.py --lr {lr} --optimizer {optimizer} --epochs 2"
    assert set(config["searchSpace"]) == {"lr", "optimizer"}
    out = subprocess.run(
        [sys.executable, "-m", "hyperloom.cli", "trials", str(exp_dir), "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    trials = json.loads(out.stdout)
    assert [t["status"] for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    for t in trials:
        assert len(t["intermediate"]) == 2
        argv_seen = (exp_dir / "trials" / t["trial_id"] / "params.json").read_text()
        assert json.loads(argv_seen) == t["params"]
