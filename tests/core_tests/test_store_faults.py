"""Store faults: a full disk (a real, small tmpfs) and a write lock held by another process end
the experiment FAILED with one clear line and exit 1, never a traceback; what was recorded stays
readable and resumable."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hyperloom import open_experiment
from hyperloom.errors import StoreError
from hyperloom.store import Store

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]

FILLER = """
import os, sys
from hyperloom import trials
p = trials.get_params({"x": 0})
for step in range(3):
    trials.report(float(step), step=step)
if p["x"] == 2:  # fill the disk the store lives on
    with open(os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "junk"), "wb") as f:
        try:
            while True:
                f.write(b"x" * 65536)
                f.flush()
        except OSError:
            pass
trials.report_final(float(p["x"]))
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_fails_the_experiment_with_one_line(tmp_path: Path, small_disk: Path) -> None:
    (tmp_path / "fill.py").write_text(FILLER)
    cfg = {
        "trialCommand": f"{sys.executable} fill.py",
        "trialCodeDirectory": str(tmp_path),
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3, 4, 5]}},
        "tuner": {"name": "grid"},
        "trialConcurrency": 1,
        "maxTrialNumber": 6,
        "experimentWorkingDirectory": str(small_disk),
        "dashboard": False,
    }
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    text = " ".join((out.stdout + out.stderr).split())
    assert "cannot write the experiment store" in text and "disk is full" in text, text
    exp_dir = next(p for p in small_disk.iterdir() if (p / "experiment.db").exists())
    for junk in exp_dir.glob("trials/*/junk"):
        junk.unlink()
    with open_experiment(exp_dir) as view:
        done = [t for t in view.trials() if t.status.is_final]
        assert [t.params["x"] for t in done][:2] == [0, 1], "what was recorded stays"
    res = subprocess.run(
        [*HYPERLOOM, "resume", str(exp_dir), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in res.stdout + res.stderr
    with open_experiment(exp_dir) as view:
        final = [t for t in view.trials() if t.status.is_final]
        assert len(final) >= 5, [(t.trial_id, t.status) for t in view.trials()]


def test_a_lock_held_by_another_process_is_a_clear_store_error(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    exp.mkdir()
    store = Store.create(exp, experiment_id="e1", name="n", config={}, space={})
    store._conn.execute("PRAGMA busy_timeout = 200")
    other = sqlite3.connect(exp / "experiment.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="another process holds a write lock"):
            store.add_trial("T0001", store.allocate_sequence(), {"x": 1})
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.add_trial("T0001", 1, {"x": 1})  # the store is usable again once the lock is gone
    store.close()
