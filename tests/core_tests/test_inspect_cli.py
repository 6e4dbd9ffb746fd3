"""``hyperloom list/status/trials/export`` and the Python history API, on stores built here."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hyperloom.cli import main
from hyperloom.errors import MissingDependencyError
from hyperloom.history import open_experiment
from hyperloom.store import Store
from hyperloom.types import TrialStatus

SPACE = {
    "lr": {"_type": "uniform", "_value": [0, 1]},
    "layer": {
        "_type": "choice",
        "_value": [
            {"_name": "conv", "k": {"_type": "choice", "_value": [3, 5]}},
            {"_name": "pool"},
        ],
    },
}


def _make(exp_dir: Path, exp_id: str, *, mode: str = "minimize", status: str = "STOPPED") -> None:
    """An experiment with one trial of each interesting kind, written through the Store API."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "experimentName": f"name-{exp_id}",
        "maxTrialNumber": 10,
        "maxExperimentDuration": "1h",
        "tuner": {"name": "random", "classArgs": {"mode": mode}},
    }
    s = Store.create(
        exp_dir, experiment_id=exp_id, name=f"name-{exp_id}", config=config, space=SPACE
    )
    s.add_event("run_start", None, {"resume": False}, 1000.0)
    plan = [
        ("a1", TrialStatus.SUCCEEDED, 0.5, None),
        ("a2", TrialStatus.SUCCEEDED, 0.2, None),
        ("a3", TrialStatus.EARLY_STOPPED, None, None),
        ("a4", TrialStatus.FAILED, None, "exit code 3"),
        ("a5", TrialStatus.TIMEOUT, None, "maxTrialDuration 60s exceeded"),
    ]
    for i, (tid, st, value, reason) in enumerate(plan):
        s.add_trial(tid, s.allocate_sequence(), {"lr": 0.1 * i, "layer": {"_name": "conv", "k": 3}})
        s.start_trial(tid, started=1000.0 + i, pid=1, pgid=1, handle={}, devices=[])
        for step in range(3):
            s.add_metric(tid, step, 1.0 / (step + 1) + i, None, 1000.0 + step, offset=step)
        if value is not None:
            s.set_final(tid, value, {"acc": 1 - value}, 1005.0, offset=10)
        if st is TrialStatus.EARLY_STOPPED:
            s.add_event(
                "assessor", tid, {"verdict": "STOP", "reason": "below median", "step": 2}, 1004.0
            )
        s.finish_trial(tid, st, ended=1010.0 + i, exit_code=0 if value else 1, reason=reason)
    s.add_trial("w1", s.allocate_sequence(), {"lr": 0.9, "layer": {"_name": "pool"}})
    s.add_event("run_end", None, {"elapsed": 30.0}, 1030.0)
    s.set_experiment_status(status, "stopped by user" if status == "STOPPED" else None)
    s.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HYPERLOOM_HOME", str(h))
    _make(h / "exp1", "exp1")
    return h


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_trials_json_contract_matches_python_api(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _run(capsys, "trials", "exp1", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert [t["sequence"] for t in data] == [1, 2, 3, 4, 5, 6]
    first = data[0]
    assert isinstance(first["trial_id"], str) and isinstance(first["sequence"], int)
    assert first["status"] == "SUCCEEDED" and first["value"] == 0.5
    assert first["params"] == {"lr": 0.0, "layer": {"_name": "conv", "k": 3}}
    assert first["metrics"] == {"acc": 0.5}
    assert first["intermediate"] == [1.0, 0.5, 1 / 3]
    assert first["started"] == 1000.0 and first["ended"] == 1010.0
    waiting = data[-1]
    assert waiting["status"] == "WAITING" and waiting["value"] is None
    assert waiting["started"] is None and waiting["ended"] is None and waiting["intermediate"] == []
    assert data[2]["reason"] == "assessor: below median (step 2)"  # from the assessor's event
    assert data[4]["status"] == "TIMEOUT" and data[4]["reason"].startswith("maxTrialDuration")
    with open_experiment("exp1") as view:
        api = [t.to_json() for t in view.trials()]
        best = {t.trial_id for t in view.best(n=1)}
    assert {t["trial_id"] for t in data if t["pareto"]} == best, "pareto: the best, one objective"
    for a, b in zip(api, data, strict=True):
        assert {k: v for k, v in a.items() if k != "reason"} == {
            k: v for k, v in b.items() if k not in ("reason", "pareto")
        }


def test_trials_filters(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "trials", "exp1", "--json", "--status", "failed")
    assert rc == 0 and [t["trial_id"] for t in json.loads(out)] == ["a4"]
    rc, out, _ = _run(capsys, "trials", "exp1", "--json", "--top", "2")
    assert rc == 0 and [t["trial_id"] for t in json.loads(out)] == ["a2", "a1"]  # minimize
    data = json.loads(out)
    assert [t["intermediate"] for t in data] == [[1.0 + 1, 0.5 + 1, 1 / 3 + 1], [1.0, 0.5, 1 / 3]]
    rc, out, _ = _run(capsys, "trials", str(home / "exp1"))  # by directory, as a table
    assert rc == 0
    for text in ("a1", "EARLY_STOPPED", "below median", "exit code 3", "WAITING", "10.0s"):
        assert text in out
    assert "the newest" not in out  # all 6 fit the default limit


def test_the_trials_table_shows_the_newest_by_default(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _run(capsys, "trials", "exp1", "--limit", "2")
    assert rc == 0 and ": 6 trials" in out
    assert (
        "a5" in out and "a1" not in out and "a4" not in out
    )  # the newest two: a5 and the WAITING one
    assert "the newest 2 of 6 trials; --all shows every one" in " ".join(out.split())
    rc, out, _ = _run(capsys, "trials", "exp1", "--limit", "2", "--all")
    assert rc == 0 and "a1" in out and "the newest" not in out
    rc, out, _ = _run(capsys, "trials", "exp1", "--limit", "2", "--status", "succeeded")
    assert rc == 0 and "a1" in out and "a2" in out and "the newest" not in out
    rc, _, err = _run(capsys, "trials", "exp1", "--limit", "0")
    assert rc == 2 and "--limit must be at least 1, got 0" in err


def test_best_follows_mode(tmp_path: Path) -> None:
    _make(tmp_path / "max", "mx", mode="maximize")
    with open_experiment(tmp_path / "max") as view:
        assert view.mode == "maximize"
        assert [t.trial_id for t in view.best(n=5)] == ["a1", "a2"]
        assert view.best()[0].value == 0.5
    _make(tmp_path / "min", "mn", mode="minimize")
    with open_experiment(tmp_path / "min") as view:
        assert [t.trial_id for t in view.best(n=1)] == ["a2"]
        assert view.status == "STOPPED" and view.name == "name-mn" and view.id == "mn"
        assert view.space.to_nni() == SPACE
        assert [t.trial_id for t in view.trials(status="TIMEOUT")] == ["a5"]
        assert view.elapsed() == 30.0
        assert view.budget() == {"trials": (5, 10), "duration": (30.0, 3600.0)}


def test_status(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "status", "exp1")
    assert rc == 0
    for text in ("STOPPED", "stopped by user", "SUCCEEDED 2", "5/10", "0.2", "a2", str(home)):
        assert text in out
    rc, out, _ = _run(capsys, "status", "exp1", "--json")
    data = json.loads(out)
    assert data["status"] == "STOPPED" and data["counts"]["SUCCEEDED"] == 2
    assert data["best"]["trial_id"] == "a2" and data["budget"]["trials"] == [5, 10]
    assert data["manager_alive"] is False


def test_status_flags_a_dead_manager(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = Store.open(home / "exp1")
    s.set_experiment_status("RUNNING")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    s.set_manager_pid(int(dead.stdout))
    s.close()
    rc, out, _ = _run(capsys, "status", "exp1")
    assert rc == 0 and "manager is not running" in out and "resume" in out
    s = Store.open(home / "exp1")
    s.set_manager_pid(os.getpid())
    s.close()
    rc, out, _ = _run(capsys, "status", "exp1")
    assert rc == 0 and "manager is not running" not in out


def test_list(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "custom" / "expZ"
    _make(elsewhere, "expZ", status="DONE")
    (home / ".index").mkdir()
    (home / ".index" / "expZ").write_text(str(elsewhere), encoding="utf-8")
    (home / ".index" / "gone").write_text(str(tmp_path / "deleted"), encoding="utf-8")
    broken = home / "broken"
    broken.mkdir()
    (broken / "experiment.db").write_bytes(b"not a database" * 64)
    rc, out, _ = _run(capsys, "list", "--json")
    assert rc == 0
    by_id = {e["id"]: e for e in json.loads(out)}
    assert set(by_id) == {"exp1", "expZ", "broken"}
    assert by_id["exp1"]["status"] == "STOPPED" and by_id["exp1"]["name"] == "name-exp1"
    assert by_id["exp1"]["dir"] == str((home / "exp1").resolve())
    assert by_id["expZ"]["status"] == "DONE" and by_id["expZ"]["dir"] == str(elsewhere.resolve())
    assert (
        by_id["broken"]["status"] == "UNREADABLE" and "not a hyperloom" in by_id["broken"]["error"]
    )
    rc, out, _ = _run(capsys, "list")
    assert rc == 0 and "exp1" in out and "expZ" in out
    rc, out, _ = _run(capsys, "trials", "expZ", "--json")  # an indexed id resolves
    assert rc == 0 and len(json.loads(out)) == 6


def test_list_empty_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYPERLOOM_HOME", str(tmp_path / "nothing"))
    rc, out, _ = _run(capsys, "list", "--json")
    assert rc == 0 and json.loads(out) == []


def test_export_csv_and_json(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _run(capsys, "export", "exp1", "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6
    assert {
        "param/lr",
        "param/layer/_name",
        "param/layer/k",
        "metric/acc",
        "value",
        "status",
    } <= set(rows[0])
    assert rows[0]["param/layer/_name"] == "conv" and rows[0]["param/layer/k"] == "3"
    assert rows[5]["param/layer/_name"] == "pool" and rows[5]["param/layer/k"] == ""
    assert rows[1]["metric/acc"] == "0.8" and rows[1]["value"] == "0.2"
    assert rows[2]["reason"] == "assessor: below median (step 2)"
    target = tmp_path / "out.json"
    rc, _, err = _run(capsys, "export", "exp1", "--format", "json", "-o", str(target))
    assert rc == 0 and "wrote 6 trials" in err
    rc, out, _ = _run(capsys, "trials", "exp1", "--json")
    assert json.loads(target.read_text()) == json.loads(out)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["trials", "nope"], "no experiment 'nope'"),
        (["status", "nope"], "no experiment 'nope'"),
        (["trials", "exp1", "--status", "bogus"], "not a trial status"),
        (["trials", "exp1", "--top", "0"], "--top must be at least 1"),
        (["export", "exp1", "--format", "xml"], "--format must be csv or json"),
        (["export", "exp1", "-o", "/nonexistent/dir/x.csv"], "its directory does not exist"),
    ],
)
def test_errors_exit_2_without_traceback(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    rc, _, err = _run(capsys, *argv)
    assert rc == 2
    assert expected in " ".join(err.split())
    assert "Traceback" not in err


@pytest.mark.parametrize("cmd", ["list", "status", "trials", "export"])
def test_help(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, cmd, "--help")
    assert rc == 0 and "Usage" in out and len(out) > 200


def test_to_pandas(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pandas")
    with open_experiment("exp1") as view:
        df = view.to_pandas()
        assert len(df) == 6 and "param/layer/_name" in df.columns and "metric/acc" in df.columns
        assert list(df["trial_id"]) == ["a1", "a2", "a3", "a4", "a5", "w1"]
        monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
        with pytest.raises(MissingDependencyError, match=r"\.\[dev\]"):
            view.to_pandas()


def test_console_script_on_a_stopped_experiment(home: Path) -> None:
    """The real ``hyperloom`` executable, as a user runs it."""
    exe = Path(sys.executable).with_name("hyperloom")
    if not exe.exists():
        pytest.skip("the hyperloom console script is not installed next to this interpreter")
    env = {**os.environ, "HYPERLOOM_HOME": str(home)}
    out = subprocess.run(
        [str(exe), "export", "exp1", "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("sequence,trial_id,status,value")
    bad = subprocess.run(
        [str(exe), "status", "missing"], capture_output=True, text=True, env=env, timeout=120
    )
    assert (
        bad.returncode == 2
        and "no experiment 'missing'" in bad.stderr
        and "Traceback" not in bad.stderr
    )
