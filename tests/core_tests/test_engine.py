"""End-to-end tests of the engine: real trial subprocesses, real SQLite stores, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from engine_support import fixed, safe_trials, wait_for
from hyperloom import Experiment, open_experiment
from hyperloom.types import TrialStatus

HERE = Path(__file__).resolve().parent
BEHAVE = HERE / "trials" / "behave.py"
REPO = HERE.parent.parent
HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def config(space: dict[str, Any], **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "experimentName": "engine-test",
        "trialCommand": f"{sys.executable} {BEHAVE}",
        "trialCodeDirectory": str(HERE),
        "trialConcurrency": 2,
        "maxTrialNumber": 4,
        "searchSpace": space,
        "tuner": {"name": "random", "classArgs": {"mode": "maximize"}},
        "stopGracePeriod": 2,
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


def write_config(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    import yaml

    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def trial_procs(exp_id: str) -> list[psutil.Process]:
    """Live processes whose environment names this experiment (trials and their children)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if (
                proc.environ().get("HYPERLOOM_EXPERIMENT_ID") == exp_id
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def start_cli(args: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HYPERLOOM, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )


def first_line_id(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("experiment "), line
    return line.split()[1]


# ------------------------------------------------------------------------------------------------


def test_quickstart_cli_runs_and_prints_id_first(hl_home: Path) -> None:
    out = subprocess.run(
        [*HYPERLOOM, "run", str(REPO / "examples/quickstart/config.yml"), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("experiment ") and str(hl_home) in first
    exp_id = first.split()[1]
    assert "Top" in out.stdout
    listed = json.loads(
        subprocess.run([*HYPERLOOM, "list", "--json"], capture_output=True, text=True).stdout
    )
    assert [e["id"] for e in listed] == [exp_id]
    trials = json.loads(
        subprocess.run(
            [*HYPERLOOM, "trials", exp_id, "--json"], capture_output=True, text=True
        ).stdout
    )
    assert len(trials) == 20
    assert all(t["status"] == "SUCCEEDED" and isinstance(t["value"], float) for t in trials)
    assert sorted(t["sequence"] for t in trials) == list(range(1, 21))
    assert all(len(t["intermediate"]) >= 3 for t in trials)


def test_parameter_binding_at_concurrency(tmp_path: Path) -> None:
    space = {
        "a": {"_type": "uniform", "_value": [0, 1]},
        "b": {"_type": "randint", "_value": [0, 1000]},
        "sleep": {"_type": "uniform", "_value": [0, 0.05]},
    }
    exp = Experiment.from_config(config(space, trialConcurrency=4, maxTrialNumber=16))
    records = exp.run()
    assert len(records) == 16
    for r in records:
        assert r.status is TrialStatus.SUCCEEDED
        assert json.loads(r.metrics["echo"]) == r.params
    # the Python API and open_experiment agree
    view = open_experiment(exp.id)
    assert [t.to_json() for t in view.trials()] == [r.to_json() for r in records]


def test_statuses_failure_timeout_and_missing_command(tmp_path: Path) -> None:
    exp = Experiment.from_config(config(fixed(exit=3, steps=1), maxTrialNumber=1))
    [r] = exp.run()
    assert r.status is TrialStatus.FAILED and r.exit_code == 3
    assert "exit code 3" in r.reason

    exp = Experiment.from_config(
        config(
            fixed(steps=100, sleep=0.1, coop=False),
            maxTrialNumber=1,
            maxTrialDuration="1s",
            stopGracePeriod=1,
        )
    )
    [r] = exp.run()
    assert r.status is TrialStatus.TIMEOUT and "maxTrialDuration" in r.reason

    cfg = config(fixed(x=1), maxTrialNumber=1)
    cfg["trialCommand"] = "definitely-not-a-command-xyz --flag"
    [r1] = Experiment.from_config(cfg).run()
    assert r1.status is TrialStatus.FAILED and r1.exit_code == 127
    assert "not found" in r1.reason


def test_garbage_on_channel_and_report_after_final(tmp_path: Path) -> None:
    exp = Experiment.from_config(
        config(
            fixed(garbage=True, after_final=True, steps=2, value=0.5),
            maxTrialNumber=1,
            trialConcurrency=1,
        )
    )
    [r] = exp.run()
    assert r.status is TrialStatus.SUCCEEDED and r.value == 0.5
    assert list(r.intermediate) == [0.5, 0.51]
    view = open_experiment(exp.id)
    from hyperloom.store import StoreReader

    reader = StoreReader(view.dir)
    reasons = [e["payload"]["reason"] for e in reader.events(kind="channel_reject")]
    reader.close()
    assert len(reasons) >= 5, reasons
    assert any("after the final" in x for x in reasons)


def test_grid_exhaustion_ends_experiment() -> None:
    space = {
        "a": {"_type": "choice", "_value": [1, 2, 3]},
        "steps": {"_type": "choice", "_value": [1]},
    }
    cfg = config(space, maxTrialNumber=50, tuner={"name": "grid"})
    records = Experiment.from_config(cfg).run()
    assert sorted(r.params["a"] for r in records) == [1, 2, 3]


def test_assessor_stops_weak_trials_early() -> None:
    space = {
        "value": {"_type": "choice", "_value": [1.0, 0.1]},
        "steps": {"_type": "choice", "_value": [12]},
        "sleep": {"_type": "choice", "_value": [0.05]},
        "noise": {"_type": "uniform", "_value": [0, 1]},
    }
    cfg = config(space, maxTrialNumber=8, trialConcurrency=1, seed=1)
    cfg["assessor"] = {"name": "median_stop", "classArgs": {"start_step": 2, "n_startup_trials": 1}}
    records = Experiment.from_config(cfg).run()
    stopped = [r for r in records if r.status is TrialStatus.EARLY_STOPPED]
    assert stopped, [(r.params, r.status) for r in records]
    assert all(r.params["value"] == 0.1 for r in stopped)
    assert all("assessor" in (r.reason or "") for r in stopped)


# ------------------------------------------------------------------------------------------------
# bad input: exit code 2, one message, no traceback, nothing written


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("trialCommand: [unclosed\n", "malformed YAML"),
        ("trialCommand: x\ntrialConcurency: 2\nsearchSpace: {}\n", "trialConcurrency"),
        (
            "trialCommand: x\ntrialConcurrency: two\nsearchSpace: {}\n",
            "trialConcurrency must be a positive integer",
        ),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: unifrom, _value: [0, 1]}}\n",
            "unknown _type 'unifrom'",
        ),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: uniform, _value: [1, 0]}}\n",
            "low must be < high",
        ),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: loguniform, _value: [0, 1]}}\n",
            "log bounds must be > 0",
        ),
        ("trialCommand: x\nsearchSpace: {a: {_type: choice, _value: []}}\n", "empty"),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: quniform, _value: [0, 1, 0]}}\n",
            "q must be > 0",
        ),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: uniform, _value: [0]}}\n",
            "_value must be [low, high]",
        ),
        (
            "trialCommand: x\nsearchSpace: {a: {_type: choice, _value: [{_name: n}, {_name: n}]}}\n",
            "duplicate _name",
        ),
        ("trialCommand: x\nsearchSpaceFile: missing.json\n", "does not exist"),
        (
            "trialCommand: x\nsearchSpace: {}\ntuner: {name: nosuchtuner}\n",
            "unknown tuner 'nosuchtuner'",
        ),
        (
            "trialCommand: x\nsearchSpace: {}\ntuner: {name: grid, classArgs: {points_per_dimm: 3}}\n",
            "points_per_dim",
        ),
        (
            "trialCommand: x\nsearchSpace: {}\nassessor: {name: nosuchassessor}\n",
            "unknown assessor",
        ),
    ],
)
def test_bad_config_exits_2_without_traceback(
    tmp_path: Path, hl_home: Path, text: str, needle: str
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(text)
    out = subprocess.run(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert needle in " ".join(out.stderr.split()), out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not [p for p in hl_home.iterdir()], "nothing may be written for a bad config"


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    out = subprocess.run(
        [*HYPERLOOM, "run", str(tmp_path / "nope.yml")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_unwritable_experiment_dir(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        locked = Path("/proc/hyperloom-not-writable")  # root can write anywhere else
    else:
        locked = tmp_path / "ro"
        locked.mkdir()
        locked.chmod(0o500)
    cfg = config(fixed(x=1), experimentWorkingDirectory=str(locked))
    path = write_config(tmp_path, cfg)
    out = subprocess.run(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1, out.stderr
    text = " ".join(out.stderr.split())
    assert f"cannot write an experiment directory under '{locked}'" in text, text
    assert "Traceback" not in out.stderr


def test_second_manager_on_same_experiment_is_refused(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, config(fixed(steps=300, sleep=0.1), maxTrialNumber=1, trialConcurrency=1)
    )
    proc = start_cli(["run", str(path), "--no-dashboard"])
    try:
        exp_id = first_line_id(proc)
        wait_for(lambda: trial_procs(exp_id), what="trial start")
        out = subprocess.run(
            [*HYPERLOOM, "resume", exp_id, "--no-dashboard"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1
        assert "already being run by another manager" in " ".join(out.stderr.split())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


# ------------------------------------------------------------------------------------------------
# stopping: no trial process survives


def _pids(pidfile: Path) -> list[int]:
    return [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []


def test_ctrl_c_leaves_no_orphans_with_grandchildren_and_sigterm_ignorers(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    space = fixed(
        steps=1000, sleep=0.05, fork=True, ignore_term=True, coop=False, pidfile=str(pidfile)
    )
    path = write_config(
        tmp_path, config(space, maxTrialNumber=2, trialConcurrency=2, stopGracePeriod=1)
    )
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    wait_for(lambda: len(_pids(pidfile)) >= 4, what="trials and grandchildren to start")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=60)
    assert rc == 130
    assert time.monotonic() - t0 < 30
    for pid in _pids(pidfile):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, (
            pid
        )
    assert trial_procs(exp_id) == []
    records = open_experiment(exp_id).trials()
    assert {r.status for r in records} == {TrialStatus.CANCELED}


def test_second_ctrl_c_escalates_at_once(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    space = fixed(steps=1000, sleep=0.05, ignore_term=True, coop=False, pidfile=str(pidfile))
    path = write_config(
        tmp_path, config(space, maxTrialNumber=1, trialConcurrency=1, stopGracePeriod=30)
    )
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    wait_for(lambda: _pids(pidfile), what="trial start")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=60)
    assert rc == 130
    # Under 30 s: it does not wait for the grace period. (Known defect, issue 15's note: now and
    # then the killed trial's exit is not seen and the executor gives up after its 7 s wait, so
    # the second Ctrl-C takes 10-19 s instead of 1-2 s.)
    assert time.monotonic() - t0 < 25, "the second Ctrl-C must not wait for the 30 s grace period"
    assert trial_procs(exp_id) == []


def test_hyperloom_stop_from_another_shell(tmp_path: Path) -> None:
    space = fixed(steps=1000, sleep=0.05, fork=True)
    path = write_config(tmp_path, config(space, maxTrialNumber=3, trialConcurrency=2))
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    wait_for(lambda: len(trial_procs(exp_id)) >= 4, what="trials to start")
    out = subprocess.run([*HYPERLOOM, "stop", exp_id], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert proc.wait(timeout=30) in (0, 130)
    assert trial_procs(exp_id) == []
    status = subprocess.run([*HYPERLOOM, "list", "--json"], capture_output=True, text=True).stdout
    assert json.loads(status)[0]["status"] == "STOPPED"


# ------------------------------------------------------------------------------------------------
# resume


def test_resume_after_stop_keeps_trials_and_continues_sequences(tmp_path: Path) -> None:
    space = {
        "steps": {"_type": "choice", "_value": [2]},
        "a": {"_type": "uniform", "_value": [0, 1]},
        "sleep": {"_type": "choice", "_value": [0.3]},
    }
    path = write_config(tmp_path, config(space, maxTrialNumber=8, trialConcurrency=2))
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    wait_for(
        lambda: len([t for t in safe_trials(exp_id) if t.status is TrialStatus.SUCCEEDED]) >= 3,
        what="3 trials",
    )
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    before = {t.trial_id: t for t in open_experiment(exp_id).trials()}
    done_before = [t for t in before.values() if t.status is TrialStatus.SUCCEEDED]
    out = subprocess.run(
        [*HYPERLOOM, "resume", exp_id, "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    after = open_experiment(exp_id).trials()
    seqs = [t.sequence for t in after]
    assert len(seqs) == len(set(seqs)), "sequence numbers are never reused"
    assert max(seqs) > max(t.sequence for t in before.values())
    for t in done_before:  # finished trials are kept as they were
        assert next(a for a in after if a.trial_id == t.trial_id).to_json() == t.to_json()
    # the budget counts finished trials: 8 evaluated trials in all (canceled ones give theirs back)
    evaluated = [t for t in after if t.status is not TrialStatus.CANCELED]
    assert len(evaluated) == 8


def test_kill_9_then_resume_reattaches_running_trials(tmp_path: Path) -> None:
    space = {
        "steps": {"_type": "choice", "_value": [30]},
        "sleep": {"_type": "choice", "_value": [0.4]},
        "a": {"_type": "uniform", "_value": [0, 1]},
    }
    path = write_config(tmp_path, config(space, maxTrialNumber=3, trialConcurrency=2))
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)

    def running_with_metrics() -> list[Any]:
        ts = safe_trials(exp_id)
        return [t for t in ts if t.status is TrialStatus.RUNNING and len(t.intermediate) >= 3]

    wait_for(lambda: len(running_with_metrics()) == 2, what="2 running trials with metrics")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    alive = trial_procs(exp_id)
    assert alive, "trials keep running when the manager dies"
    out = subprocess.run(
        [*HYPERLOOM, "resume", exp_id, "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    assert "re-attached" in out.stdout
    final = open_experiment(exp_id).trials()
    assert len(final) == 3
    for t in final:
        assert t.status is TrialStatus.SUCCEEDED, (t.status, t.reason)
        steps = list(t.intermediate)
        assert len(steps) == 30, f"every step read exactly once after re-attach, got {len(steps)}"
    assert trial_procs(exp_id) == []


def test_kill_9_with_dead_trials_records_them_lost_and_reuses_slots(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    space = {
        "steps": {"_type": "choice", "_value": [40]},
        "sleep": {"_type": "choice", "_value": [0.1]},
        "pidfile": {"_type": "choice", "_value": [str(pidfile)]},
        "a": {"_type": "uniform", "_value": [0, 1]},
    }
    path = write_config(tmp_path, config(space, maxTrialNumber=3, trialConcurrency=2))
    proc = start_cli(["run", str(path), "--no-dashboard"])
    exp_id = first_line_id(proc)
    wait_for(lambda: len(_pids(pidfile)) == 2, what="2 trials")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pid in _pids(pidfile):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not trial_procs(exp_id), what="trials to die")
    out = subprocess.run(
        [*HYPERLOOM, "resume", exp_id, "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    final = open_experiment(exp_id).trials()
    lost = [t for t in final if t.status is TrialStatus.FAILED]
    assert len(lost) == 2 and all("manager was down" in t.reason for t in lost)
    assert len([t for t in final if t.status is TrialStatus.SUCCEEDED]) == 1


BUGGY_ALGOS = """
from hyperloom.assessors import Assessor
from hyperloom.tuners.random import RandomTuner


class RaisingAssessor(Assessor):
    def assess(self, trial_id, history):
        raise ZeroDivisionError("assessor bug")


class RaisingReportTuner(RandomTuner):
    def report(self, trial_id, step, value):
        raise KeyError("tuner bug")
"""


def test_assessor_and_tuner_report_exceptions_do_not_crash_the_experiment(tmp_path: Path) -> None:
    (tmp_path / "buggy_algos.py").write_text(BUGGY_ALGOS)
    cfg = config(fixed(steps=3), maxTrialNumber=3)
    cfg["tuner"] = {"className": "buggy_algos.RaisingReportTuner", "codeDirectory": str(tmp_path)}
    cfg["assessor"] = {"className": "buggy_algos.RaisingAssessor", "codeDirectory": str(tmp_path)}
    records = Experiment.from_config(cfg).run()
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 3
    assert all(len(r.intermediate) == 3 for r in records)


NUMPY_TUNERS = """
import numpy as np
from hyperloom.tuners.random import RandomTuner


class NumpyTuner(RandomTuner):
    def suggest(self, trial_id):
        params = super().suggest(trial_id)
        return None if params is None else {**params, "k": np.int64(3), "f": np.float32(0.5)}


class UnserializableTuner(RandomTuner):
    def suggest(self, trial_id):
        params = super().suggest(trial_id)
        return None if params is None else {**params, "obj": object()}
"""


def test_tuner_params_with_numpy_scalars_or_unserializable_values(tmp_path: Path) -> None:
    (tmp_path / "numpy_tuners.py").write_text(NUMPY_TUNERS)
    cfg = config(fixed(steps=1), maxTrialNumber=2)
    cfg["tuner"] = {"className": "numpy_tuners.NumpyTuner", "codeDirectory": str(tmp_path)}
    exp = Experiment.from_config(cfg)
    records = exp.run()
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2
    assert all(r.params["k"] == 3 and r.params["f"] == 0.5 for r in records)
    cfg["tuner"] = {"className": "numpy_tuners.UnserializableTuner", "codeDirectory": str(tmp_path)}
    exp = Experiment.from_config(cfg)
    assert exp.run() == []
    assert exp.status == "FAILED" and "the tuner failed" in exp.manager.stop_message
    assert "not JSON-serializable" in exp.manager.stop_message


def test_a_step_beyond_sqlite_integers_is_rejected_not_fatal(tmp_path: Path) -> None:
    # written raw: the trial API itself refuses such a step, a foreign writer may not
    (tmp_path / "bigstep.py").write_text(
        "import os\n"
        "from hyperloom import trials\n"
        "path = os.path.join(os.environ['HYPERLOOM_TRIAL_DIR'], 'metrics.jsonl')\n"
        "with open(path, 'ab') as f:\n"
        '    f.write(b\'{"v":1,"type":"metric","step":100000000000000000000000,"value":0.5}\\n\')\n'
        "trials.report(0.7, step=1)\n"
        "trials.report_final(1.0)\n"
    )
    cfg = config(
        fixed(),
        maxTrialNumber=2,
        trialCommand=f"{sys.executable} bigstep.py",
        trialCodeDirectory=str(tmp_path),
    )
    exp = Experiment.from_config(cfg)
    records = exp.run()
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2
    assert all(r.intermediate == (0.7,) and r.value == 1.0 for r in records)
    from hyperloom.store import StoreReader

    reader = StoreReader(exp.dir)
    try:
        rejects = reader.events(kind="channel_reject")
    finally:
        reader.close()
    assert len(rejects) == 2 and all("step" in e["payload"]["reason"] for e in rejects), rejects
