"""hyperloom.optimize in process: a Python function as trials, recorded in the real SQLite store
through the real manager, read back by the CLI (`trials --json`, `resume`)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hyperloom import open_experiment
from hyperloom.errors import PluginError, UsageError
from hyperloom.optimize import OptimizeResult, Trial, optimize
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "optimize_support"
SPACE = {"x": {"_type": "uniform", "_value": [0, 1]}}
HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))


def fns() -> Any:
    import optimize_fns as module  # from optimize_support/

    return module


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HYPERLOOM, *args], capture_output=True, text=True, timeout=120)


def test_a_function_runs_as_trials_in_the_store_and_the_cli_reads_them(tmp_path: Path) -> None:
    seen: list[float] = []
    lock = threading.Lock()

    def objective(params: dict[str, Any]) -> float:
        with lock:
            seen.append(params["x"])
        return (params["x"] - 0.3) ** 2

    result = optimize(
        objective, SPACE, n_trials=12, mode="minimize", tuner="random", seed=3, concurrency=3,
        quiet=True, directory=tmp_path / "exps",
    )  # fmt: skip
    assert isinstance(result, OptimizeResult) and result.status == "DONE"
    assert result.dir.parent == (tmp_path / "exps").resolve()  # found by id through the index
    trials = result.trials()
    assert len(trials) == 12 and all(t.status is TrialStatus.SUCCEEDED for t in trials)
    assert sorted(seen) == sorted(t.params["x"] for t in trials)
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2)
    best = min(trials, key=lambda t: math.inf if t.value is None else t.value)
    assert result.best_trial is not None and result.best_trial.trial_id == best.trial_id
    assert result.best_params == best.params and result.best_value == best.value
    assert result.pareto_front()[0].trial_id == best.trial_id
    # a normal experiment: open_experiment and the CLI see it
    assert open_experiment(result.id).trials()[0].trial_id == trials[0].trial_id
    out = cli("trials", result.id, "--json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 12


def test_intermediate_reports_reach_the_store_and_an_assessor_stops_trials() -> None:
    stops: list[str] = []

    def objective(params: dict[str, Any], trial: Trial) -> float | None:
        v = 0.0
        for step in range(8):
            v = params["x"] * (step + 1)
            trial.report(v, step)
            threading.Event().wait(0.05)  # time for the assessor's verdict to arrive
            if trial.should_stop():
                stops.append(trial.trial_id)
                return None  # the last report counts
        return v

    result = optimize(
        objective, SPACE, n_trials=16, mode="maximize", tuner="random", seed=1,
        assessor="median_stop", assessor_args={"start_step": 2},
        config={"stopGracePeriod": 5}, quiet=True,
    )  # fmt: skip
    trials = result.trials()
    assert len(trials) == 16
    done = [t for t in trials if t.status is TrialStatus.SUCCEEDED]
    assert done and all(len(t.intermediate) == 8 for t in done)
    assert all(t.intermediate[-1] == pytest.approx(t.value) for t in done)
    early = [t for t in trials if t.status is TrialStatus.EARLY_STOPPED]
    assert early, "median_stop never stopped a weak trial"
    # the stop reached the function (should_stop() turned True) and only stopped trials saw it
    assert stops and set(stops) <= {t.trial_id for t in early}
    assert all(len(t.intermediate) < 8 for t in early)


def test_an_exception_is_a_failed_trial_with_its_traceback_not_a_crash() -> None:
    result = optimize(
        fns().fails_when_big, SPACE, n_trials=10, mode="maximize", tuner="random", seed=0,
        quiet=True, config={"maxLaunchFailures": 0},
    )  # fmt: skip
    assert result.status == "DONE"
    failed = result.trials("FAILED")
    ok = result.trials("SUCCEEDED")
    assert failed and ok and len(failed) + len(ok) == 10
    for t in failed:
        assert t.params["x"] > 0.5 and t.value is None
        assert t.reason is not None and t.reason.startswith("ValueError: x=")
        log = (result.dir / "trials" / t.trial_id / "stderr.log").read_text()
        assert "Traceback (most recent call last)" in log and "fails_when_big" in log
    assert all(t.params["x"] <= 0.5 for t in ok)
    assert result.best_value == max(t.value for t in ok if t.value is not None)


def test_no_success_says_why_when_asked_for_the_best() -> None:
    def broken(params: dict[str, Any]) -> float:
        raise RuntimeError("dataset missing")

    result = optimize(broken, SPACE, n_trials=3, mode="minimize", tuner="random", quiet=True)
    assert result.best_trial is None and len(result.trials("FAILED")) == 3
    with pytest.raises(UsageError, match="dataset missing"):
        result.best_params  # noqa: B018


def test_several_objectives_from_a_dict_or_a_tuple_give_a_pareto_front() -> None:
    objs = [("acc", "maximize"), ("cost", "minimize")]
    result = optimize(
        fns().two_objectives, SPACE, n_trials=10, objectives=objs, tuner="random", seed=2,
        quiet=True,
    )  # fmt: skip
    trials = result.trials()
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    for t in trials:
        x = t.params["x"]
        assert t.values == pytest.approx((x, x * x))
        assert t.metrics["note"] == "extra"  # extra entries are kept as metrics
    assert len(result.pareto_front()) == 10  # acc = x, cost = x^2: nothing dominates anything
    tup = optimize(
        fns().two_objectives_tuple, SPACE, n_trials=8,
        objectives=[("acc", "maximize"), ("err", "minimize")], tuner="random", seed=2, quiet=True,
    )  # fmt: skip
    for t in tup.trials():
        assert t.values == pytest.approx((t.params["x"], (1 - t.params["x"]) ** 2))


def test_resume_in_python_needs_the_function_again_and_adds_trials() -> None:
    calls: list[int] = []

    def objective(params: dict[str, Any]) -> float:
        calls.append(1)
        return params["x"]

    first = optimize(objective, SPACE, n_trials=4, mode="maximize", tuner="random", quiet=True)
    assert len(first.trials()) == 4
    from hyperloom._executor_inproc import registered_function

    key = first.config["trainingService"]["key"]
    assert registered_function(key) is None  # the process keeps no closure once it ended
    again = optimize(objective, resume=first.id, n_trials=3, quiet=True)
    assert again.id == first.id and again.status == "DONE"
    assert len(again.trials()) == 7 and len(calls) == 7
    assert [t.sequence for t in again.trials()] == list(range(1, 8))


def test_cli_resume_imports_a_module_function_and_refuses_a_closure_clearly() -> None:
    result = optimize(fns().quadratic, SPACE, n_trials=2, mode="minimize", quiet=True)
    out = cli("resume", result.id, "--more", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(open_experiment(result.id).trials("SUCCEEDED")) == 4

    def local(params: dict[str, Any]) -> float:
        return 1.0

    closed = optimize(local, SPACE, n_trials=1, mode="minimize", quiet=True)
    bad = cli("resume", closed.id, "--more", "1")
    assert bad.returncode == 2
    assert "hyperloom.optimize(fn, resume=ID)" in bad.stdout + bad.stderr


def test_a_trial_that_ignores_its_timeout_is_abandoned_and_unwound() -> None:
    unwound = threading.Event()

    def stubborn(params: dict[str, Any], trial: Trial) -> float:
        try:
            for step in range(200):
                threading.Event().wait(0.02)
                trial.report(1.0, step)  # raises TrialKilled once the manager gave up
        except BaseException:
            unwound.set()
            raise
        return 1.0

    result = optimize(
        stubborn, SPACE, n_trials=1, mode="maximize", tuner="random", quiet=True,
        config={"maxTrialDuration": 0.3, "stopGracePeriod": 0.2},
    )  # fmt: skip
    (t,) = result.trials()
    assert t.status is TrialStatus.TIMEOUT
    assert unwound.wait(5), "the abandoned function was never unwound"


def test_an_async_function_runs_on_the_loop() -> None:
    async def objective(params: dict[str, Any], trial: Trial) -> float:
        import asyncio

        await asyncio.sleep(0.01)
        trial.report(params["x"], 0)
        return params["x"] * 2

    result = optimize(
        objective, SPACE, n_trials=4, concurrency=4, mode="maximize", tuner="random", quiet=True
    )
    for t in result.trials():
        assert t.status is TrialStatus.SUCCEEDED and t.value == pytest.approx(2 * t.params["x"])
        assert t.intermediate == pytest.approx((t.params["x"],))

    async def broken(params: dict[str, Any]) -> float:
        raise SystemExit(3)  # a BaseException ends the trial, never the manager's loop

    bad = optimize(broken, SPACE, n_trials=2, mode="maximize", tuner="random", quiet=True)
    assert bad.status == "DONE"
    assert [t.status for t in bad.trials()] == [TrialStatus.FAILED] * 2
    assert all((t.reason or "").startswith("SystemExit: 3") for t in bad.trials())


def test_bad_calls_are_refused_before_anything_runs(hl_home: Path) -> None:
    with pytest.raises(UsageError, match="mode='minimize' or mode='maximize'"):
        optimize(fns().quadratic, SPACE, n_trials=1)
    with pytest.raises(UsageError, match="lambda"):
        optimize(lambda p: 1.0, SPACE, n_trials=1, mode="minimize", isolation="subprocess")
    with pytest.raises(UsageError, match="instance cannot be rebuilt"):
        optimize(fns().quadratic, SPACE, n_trials=1, mode="minimize", tuner=object())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="isolation"):
        optimize(fns().quadratic, SPACE, n_trials=1, mode="minimize", isolation="docker")
    with pytest.raises(PluginError, match=r"Did you mean .seed."):
        optimize(fns().quadratic, SPACE, n_trials=1, mode="minimize", tuner_args={"sede": 1})
    assert not any(p.is_dir() for p in hl_home.iterdir())  # nothing was created


def test_a_returned_value_that_is_not_a_number_fails_the_trial_with_a_reason() -> None:
    result = optimize(lambda p: "high", SPACE, n_trials=1, mode="minimize", quiet=True)
    (t,) = result.trials()
    assert t.status is TrialStatus.FAILED and "must be a number" in (t.reason or "")


def test_the_module_is_callable_so_hyperloom_optimize_works_either_way() -> None:
    import hyperloom.optimize as mod

    result = mod(fns().quadratic, SPACE, n_trials=1, mode="minimize", quiet=True)  # type: ignore[operator]
    assert result.trials()[0].status is TrialStatus.SUCCEEDED


def test_the_documented_ask_tell_snippet_runs_and_finds_the_minimum(
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = Path(__file__).resolve().parents[2]
    marker = "<!-- tested: ask-tell"
    files = [p for p in (repo / "docs/notes/readme-optimize.md", repo / "README.md")
             if p.is_file() and marker in p.read_text()]  # fmt: skip
    assert files, "the ask/tell snippet is documented nowhere"
    for path in files:
        text = path.read_text()
        block = text[text.index(marker) :].split("```python\n", 1)[1].split("```", 1)[0]
        scope: dict[str, Any] = {}
        exec(compile(block, str(path), "exec"), scope)
        assert scope["best_value"] < 0.5 and abs(scope["best_params"]["x"] - 1) < 0.7
        assert "best " in capsys.readouterr().out


def test_pbt_warm_starts_in_process_trials_from_committed_checkpoints() -> None:
    restored: dict[str, tuple[int, float]] = {}
    lock = threading.Lock()

    def train(params: dict[str, Any], trial: Trial) -> float:
        value, src = 0.0, trial.restore_dir()
        if src is not None:  # a warm start: continue the donor's run
            value = float((src / "state.txt").read_text())
            with lock:
                restored[trial.trial_id] = (trial.start_step, value)
        for step in range(trial.start_step, 12):
            value += params["lr"]
            if step % 3 == 2:  # a checkpoint at each perturbation step
                (trial.checkpoint_dir() / "state.txt").write_text(repr(value))
                trial.report(value, step, checkpoint=True)
                # the manager commits in the background; a write before it lands refuses it
                threading.Event().wait(0.25)
            else:
                trial.report(value, step)
                threading.Event().wait(0.02)
            if trial.should_stop():
                break
        return value

    result = optimize(
        train, {"lr": {"_type": "uniform", "_value": [0.0, 1.0]}}, n_trials=12, concurrency=4,
        mode="maximize", tuner="pbt", seed=4,
        tuner_args={"population_size": 4, "perturbation_interval": 3},
        config={"stopGracePeriod": 5}, quiet=True,
    )  # fmt: skip
    assert result.status == "DONE"
    warm = [t for t in result.trials() if t.parent is not None]
    assert warm, "PBT never exploited a trial"
    assert {t.trial_id for t in warm} == set(restored)
    for t in warm:
        start, value = restored[t.trial_id]
        assert start > 0 and value > 0.0  # it continued from the donor's checkpoint, not step 0


def test_the_dashboard_serves_an_optimize_experiment() -> None:
    import asyncio
    import http.client

    from hyperloom.dashboard import DashboardServer

    result = optimize(fns().with_pid, SPACE, n_trials=3, mode="maximize", quiet=True)

    def get(port: int, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200, r.status
            return json.loads(r.read())
        finally:
            conn.close()

    async def serve() -> Any:
        server = DashboardServer([result.dir], host="127.0.0.1", port=0)
        url = await server.start()
        port = int(url.split(":")[2].split("/")[0])
        try:
            return await asyncio.to_thread(get, port, f"/api/experiments/{result.id}/trials")
        finally:
            await server.close()

    data = asyncio.run(serve())
    rows = data["trials"] if isinstance(data, dict) else data
    assert sorted(t["trial_id"] for t in rows) == ["T0001", "T0002", "T0003"]


def test_optimize_called_inside_a_running_event_loop_runs_in_a_helper_thread() -> None:
    import asyncio

    async def notebook_cell() -> OptimizeResult:
        return optimize(fns().quadratic, SPACE, n_trials=3, mode="minimize", quiet=True)

    result = asyncio.run(notebook_cell())
    assert result.status == "DONE" and len(result.trials("SUCCEEDED")) == 3


def test_what_a_returned_value_means() -> None:
    import numpy as np
    from hyperloom._optimize_common import final_report

    assert final_report(None, []) is None
    assert final_report(np.float32(0.5), []) == (0.5, {})
    assert final_report(3, ["acc"]) == (3.0, {})
    # a dict: the first objective's entry counts, whatever the key order; all entries are kept
    value, metrics = final_report({"lat": 12, "acc": np.float64(0.9), "tag": "a"}, ["acc", "lat"])
    assert value == 0.9 and list(metrics) == ["acc", "lat", "tag"] and metrics["lat"] == 12.0
    assert final_report({"loss": 0.25, "aux": 1}, []) == (0.25, {"loss": 0.25, "aux": 1})
    assert final_report((1, 2), ["a", "b"]) == (1.0, {"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="2 values for 1 objective"):
        final_report((1, 2), [])
    with pytest.raises(ValueError, match="not finite"):
        final_report(float("nan"), [])
    with pytest.raises(ValueError, match="must be a number"):
        final_report(True, [])


def test_timeout_ends_the_experiment_done_within_its_budget() -> None:
    def slowish(params: dict[str, Any]) -> float:
        threading.Event().wait(0.1)
        return params["x"]

    result = optimize(slowish, SPACE, timeout=1.0, mode="maximize", tuner="random", quiet=True)
    assert result.status == "DONE"
    n = len(result.trials())
    assert 1 <= n <= 11  # at most ~1 s of 0.1 s trials, one at a time
    assert all(t.status is TrialStatus.SUCCEEDED for t in result.trials())


def test_the_readme_quickstart_snippet_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import hyperloom.optimize  # noqa: F401 - until hyperloom exports it, bind the callable module

    text = (Path(__file__).resolve().parents[2] / "docs/notes/readme-optimize.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "hyperloom.optimize(" in block
    scope: dict[str, Any] = {}
    exec(compile(block, "readme-optimize.md", "exec"), scope)
    result = scope["result"]
    assert result.status == "DONE" and len(result.trials("SUCCEEDED")) == 100
    assert result.best_value < 1.0  # (x - 2)^2 + y, y in {0, 1}
    assert result.id in capsys.readouterr().out


def test_what_a_trial_prints_reaches_the_console_and_its_own_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = (sys.stdout, sys.stderr)

    def chatty(params: dict[str, Any], trial: Trial) -> float:
        for i in range(3):
            print(f"out {trial.trial_id} {i}")
            threading.Event().wait(0.01)  # interleave with the other trials
        print(f"err {trial.trial_id}", file=sys.stderr)
        return params["x"]

    result = optimize(
        chatty, SPACE, n_trials=6, concurrency=3, mode="maximize", tuner="random", quiet=True
    )
    assert (sys.stdout, sys.stderr) == before  # the tee is gone
    console = capsys.readouterr()
    for t in result.trials():
        d = result.dir / "trials" / t.trial_id
        assert (d / "stdout.log").read_text() == "".join(
            f"out {t.trial_id} {i}\n" for i in range(3)
        )
        assert (d / "stderr.log").read_text() == f"err {t.trial_id}\n"
        assert f"out {t.trial_id} 2" in console.out and f"err {t.trial_id}" in console.err
