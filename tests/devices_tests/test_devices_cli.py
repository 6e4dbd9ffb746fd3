"""``hyperloom devices``: devices and the trials of running experiments that hold them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hyperloom.cli import app
from hyperloom.store import Store
from typer.testing import CliRunner


def _experiment(
    home: Path, exp_id: str, status: str, holds: dict[str, list[int]], pid: int
) -> None:
    d = home / exp_id
    d.mkdir(parents=True)
    store = Store.create(d, experiment_id=exp_id, name=None, config={}, space={})
    store.set_experiment_status(status)
    store.set_manager_pid(pid)
    for trial_id, devices in holds.items():
        store.add_trial(trial_id, store.allocate_sequence(), {})
        store.start_trial(trial_id, started=1.0, pid=None, pgid=None, handle={}, devices=devices)
    store.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYPERLOOM_HOME", str(tmp_path))
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "3:active=2")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tmp_path


def test_devices_json_shows_holders_of_running_experiments_only(home: Path) -> None:
    _experiment(home, "exprun01", "RUNNING", {"aaaaaa": [0], "bbbbbb": [0, 1]}, os.getpid())
    _experiment(home, "expdone1", "DONE", {"cccccc": [1]}, os.getpid())
    _experiment(home, "expdead1", "RUNNING", {"dddddd": [2]}, 2**22 + 12345)  # manager gone
    result = CliRunner().invoke(app, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["backend"] == "fake"
    by_index = {d["index"]: d for d in out["devices"]}
    assert sorted(by_index) == [0, 1, 2]
    assert sorted(h["trial"] for h in by_index[0]["holders"]) == ["aaaaaa", "bbbbbb"]
    assert by_index[1]["holders"] == [{"experiment": "exprun01", "trial": "bbbbbb"}]
    assert by_index[2]["holders"] == [] and by_index[2]["active"] is True
    assert {"memory_total_mb", "memory_used_mb", "utilization", "uuid"} <= set(by_index[0])


def test_devices_table(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperloom.cli._common import console

    monkeypatch.setattr(console, "width", 200)  # no wrapping of the table's cells
    _experiment(home, "exprun01", "RUNNING", {"aaaaaa": [1], "eeeeee": [7]}, os.getpid())
    result = CliRunner().invoke(app, ["devices"])
    assert result.exit_code == 0, result.output
    assert "exprun01/aaaaaa" in result.stdout
    assert "not detected here" in result.stdout  # held device 7 is not among the fake ones
    assert "16384" in result.stdout


def test_no_devices_is_said_plainly(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "0")
    result = CliRunner().invoke(app, ["devices"])
    assert result.exit_code == 0
    assert "no GPU found" in result.stdout


def test_devices_finds_experiments_outside_the_home_through_its_index(
    home: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    _experiment(elsewhere, "expaway1", "RUNNING", {"ffffff": [2]}, os.getpid())
    (home / ".index").mkdir(parents=True)
    (home / ".index" / "expaway1").write_text(str(elsewhere / "expaway1"))
    result = CliRunner().invoke(app, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    holders = {d["index"]: d["holders"] for d in json.loads(result.stdout)["devices"]}
    assert holders[2] == [{"experiment": "expaway1", "trial": "ffffff"}]
