"""hyperloom.optimize with isolation="subprocess" (real trial processes through the local
executor), and Ctrl-C of an in-process optimize in a real script, then its resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hyperloom import open_experiment
from hyperloom.optimize import optimize
from hyperloom.store import StoreReader
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "optimize_support"
SPACE = {"x": {"_type": "uniform", "_value": [0, 1]}}


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))


def fns() -> Any:
    import optimize_fns as module  # from optimize_support/

    return module


def test_each_trial_runs_in_its_own_process_and_reports_through_the_channel() -> None:
    result = optimize(
        fns().with_pid, SPACE, n_trials=4, concurrency=2, mode="maximize", tuner="random",
        seed=5, isolation="subprocess", quiet=True,
    )  # fmt: skip
    trials = result.trials()
    assert result.status == "DONE" and len(trials) == 4
    pids = set()
    for t in trials:
        assert t.status is TrialStatus.SUCCEEDED, t.reason
        assert t.value == pytest.approx(t.params["x"])
        assert t.intermediate == pytest.approx((t.params["x"] / 2,))
        assert t.metrics["trial"] == t.trial_id
        pids.add(t.metrics["pid"])
    assert os.getpid() not in pids and len(pids) == 4
    cmd = result.config["trialCommand"]
    assert "hyperloom._optimize_runner" in cmd and "optimize_fns:with_pid" in cmd
    again = optimize(fns().with_pid, resume=result.id, n_trials=1, quiet=True)
    assert [t.status for t in again.trials()] == [TrialStatus.SUCCEEDED] * 5


def test_an_exception_in_a_trial_process_is_a_failed_trial_with_its_traceback() -> None:
    result = optimize(
        fns().fails_when_big, SPACE, n_trials=6, mode="maximize", tuner="random", seed=0,
        isolation="subprocess", quiet=True, config={"maxLaunchFailures": 0},
    )  # fmt: skip
    failed = result.trials("FAILED")
    assert failed and len(result.trials()) == 6
    for t in failed:
        assert "ValueError: x=" in (t.reason or "")
        assert "Traceback" in (result.dir / "trials" / t.trial_id / "stderr.log").read_text()
    assert all(t.params["x"] <= 0.5 for t in result.trials("SUCCEEDED"))


def test_a_function_of_a_script_runs_in_subprocesses_under_the_main_guard(
    tmp_path: Path, hl_home: Path
) -> None:
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from hyperloom.optimize import optimize

            def objective(params, trial):
                trial.report(params["x"], 0)
                return {"acc": params["x"], "size": params["x"] ** 2}

            if __name__ == "__main__":
                r = optimize(objective, {"x": {"_type": "uniform", "_value": [0, 1]}},
                             n_trials=3, objectives=[("acc", "maximize"), ("size", "minimize")],
                             tuner="random", isolation="subprocess", quiet=True)
                print(r.id, r.status, len(r.pareto_front()))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    exp_id, status, front = out.stdout.split()
    assert status == "DONE" and int(front) == 3  # acc and size trade off exactly
    for t in open_experiment(exp_id).trials():
        assert t.status is TrialStatus.SUCCEEDED
        assert t.values == pytest.approx((t.params["x"], t.params["x"] ** 2))


def test_an_unguarded_script_fails_its_trials_with_the_fix_in_stderr(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from hyperloom.optimize import optimize\n"
        "def objective(params):\n    return params['x']\n"
        "r = optimize(objective, {'x': {'_type': 'uniform', '_value': [0, 1]}}, n_trials=2,\n"
        "             mode='maximize', tuner='random', isolation='subprocess', quiet=True)\n"
        "print(r.id)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    exp = open_experiment(out.stdout.split()[-1])
    trials = exp.trials()
    assert len(trials) == 2 and all(t.status is TrialStatus.FAILED for t in trials)
    log = (exp.dir / "trials" / trials[0].trial_id / "stderr.log").read_text()
    assert 'if __name__ == "__main__":' in log


def test_ctrl_c_stops_an_inprocess_optimize_cleanly_and_it_resumes(hl_home: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from optimize_fns import slow\n"
        "from hyperloom.optimize import optimize\n"
        "r = optimize(slow, {'x': {'_type': 'uniform', '_value': [0, 1]}}, n_trials=20,\n"
        "             concurrency=2, mode='maximize', tuner='random')\n"
        "print('RESULT', r.id, r.status, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(SUPPORT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        exp_dir = None
        while time.monotonic() < deadline:  # wait until trials have reported
            dirs = [d for d in hl_home.iterdir() if (d / "experiment.db").is_file()]
            if dirs:
                exp_dir = dirs[0]
                with StoreReader(exp_dir) as r:
                    if any(t.intermediate for t in r.trials()):
                        break
            time.sleep(0.1)
        assert exp_dir is not None
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    _, exp_id, status = stdout.split()
    assert status == "STOPPED"
    assert f"resume={exp_id!r}" in stderr and f"hyperloom resume {exp_id}" in stderr
    view = open_experiment(exp_id)
    stopped = view.trials()
    assert stopped and all(t.status is not TrialStatus.RUNNING for t in stopped)
    assert len(stopped) < 20
    again = optimize(fns().slow, resume=exp_id, n_trials=1, quiet=True)
    assert again.status == "DONE" and len(again.trials()) == len(stopped) + 1
    assert again.trials()[-1].status is TrialStatus.SUCCEEDED
