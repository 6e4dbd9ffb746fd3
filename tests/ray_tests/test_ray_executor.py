"""The Ray executor on a real two-node Ray cluster (see conftest.py): concurrency, statuses,
early stopping, a killed runner, a manager killed with SIGKILL and resumed, and the errors a user
meets at start. Engine behaviour tests run against both executors."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from engine_support import fixed, safe_trials, wait_for
from hyperloom import Experiment, open_experiment
from hyperloom.errors import ConfigError, HyperloomError
from hyperloom.types import TrialStatus

pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent
TRIALS = HERE.parent / "core_tests" / "trials"  # behave.py: a trial driven by its parameters
HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def config(platform: str, cluster: Any, space: dict[str, Any], **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "experimentName": f"ray-test-{platform}",
        "trialCommand": "python behave.py",
        "trialCodeDirectory": str(TRIALS),
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "searchSpace": space,
        "tuner": {"name": "random", "classArgs": {"mode": "maximize"}},
        "stopGracePeriod": 2,
        "dashboard": False,
    }
    if platform == "ray":
        cfg["trainingService"] = {
            "platform": "ray",
            "address": cluster.address,
            "resourcesPerTrial": {"cpu": 1},
            "nodeTrialRoot": str(cluster.temp_dir / "trials"),  # removed with the cluster
        }
    cfg.update(kw)
    return cfg


def node_info(exp_dir: Path, trial_id: str) -> dict[str, Any]:
    path = exp_dir / "trials" / trial_id / "node.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def start_cli(
    tmp_path: Path, cfg: dict[str, Any], *args: str
) -> tuple[subprocess.Popen[str], str, Path]:
    import yaml

    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [*HYPERLOOM, "run", str(path), "--no-dashboard", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("experiment "), (line, proc.stderr.read() if proc.stderr else "")
    exp_id = line.split()[1]
    return proc, exp_id, Path(line.split(" dir ", 1)[1].strip())


def connect(cluster: Any) -> Any:
    import ray

    if not ray.is_initialized():
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    return ray


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# ------------------------------------------------------------------------------------------------
# the engine, against both executors


@pytest.mark.parametrize("platform", ["local", "ray"])
def test_concurrent_trials_bind_params_and_overlap(platform: str, ray_cluster: Any) -> None:
    space = {"a": {"_type": "uniform", "_value": [0, 1]}, "steps": {"_type": "choice", "_value": [3]},
             "sleep": {"_type": "choice", "_value": [0.3]}}  # fmt: skip
    exp = Experiment.from_config(
        config(platform, ray_cluster, space, trialConcurrency=3, maxTrialNumber=4)
    )
    records = exp.run()
    assert len(records) == 4
    for r in records:
        assert r.status is TrialStatus.SUCCEEDED, (r.status, r.reason)
        assert json.loads(r.metrics["echo"]) == r.params
        assert list(r.intermediate) == [1.0, 1.01, 1.02]
    spans = sorted((r.started, r.ended) for r in records)
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), "trials ran concurrently"
    if platform == "ray":
        nodes = {node_info(exp.dir, r.trial_id)["node_id"] for r in records}
        assert ray_cluster.worker_node in nodes, "some trials ran in the worker node's raylet"
        info = node_info(exp.dir, records[0].trial_id)
        assert not info["node_trial_dir"].startswith(str(exp.dir)), "the trial dir is node-local"
        assert (exp.dir / "trials" / records[0].trial_id / "stdout.log").exists()


@pytest.mark.parametrize("platform", ["local", "ray"])
def test_statuses_exit_code_and_missing_command(platform: str, ray_cluster: Any) -> None:
    cfg = config(platform, ray_cluster, fixed(exit=3, steps=1), maxTrialNumber=1)
    [r] = Experiment.from_config(cfg).run()
    assert r.status is TrialStatus.FAILED and r.exit_code == 3 and "exit code 3" in r.reason

    cfg = config(
        platform,
        ray_cluster,
        fixed(x=1),
        maxTrialNumber=1,
        trialCommand="no-such-command-xyz --flag",
    )
    exp = Experiment.from_config(cfg)
    [r] = exp.run()
    assert r.status is TrialStatus.FAILED and r.exit_code == 127 and "not found" in r.reason
    # the node's stderr came back to the manager's trial directory
    assert "no-such-command-xyz" in (exp.dir / "trials" / r.trial_id / "stderr.log").read_text()


@pytest.mark.parametrize("platform", ["local", "ray"])
def test_garbage_on_channel_and_report_after_final(platform: str, ray_cluster: Any) -> None:
    space = fixed(garbage=True, after_final=True, steps=2, value=0.5)
    exp = Experiment.from_config(
        config(platform, ray_cluster, space, maxTrialNumber=1, trialConcurrency=1)
    )
    [r] = exp.run()
    assert r.status is TrialStatus.SUCCEEDED and r.value == 0.5
    assert list(r.intermediate) == [0.5, 0.51]
    from hyperloom.store import StoreReader

    reader = StoreReader(exp.dir)
    reasons = [e["payload"]["reason"] for e in reader.events(kind="channel_reject")]
    reader.close()
    assert len(reasons) >= 5 and any("after the final" in x for x in reasons), reasons


@pytest.mark.parametrize("platform", ["local", "ray"])
def test_assessor_stops_weak_trials_early(platform: str, ray_cluster: Any) -> None:
    space = {"value": {"_type": "choice", "_value": [1.0, 0.1]}, "steps": {"_type": "choice", "_value": [20]},
             "sleep": {"_type": "choice", "_value": [0.1]}}  # fmt: skip
    cfg = config(
        platform, ray_cluster, space, maxTrialNumber=2, trialConcurrency=1, tuner={"name": "grid"}
    )
    cfg["assessor"] = {"name": "median_stop", "classArgs": {"start_step": 2, "n_startup_trials": 1}}
    strong, weak = Experiment.from_config(cfg).run()
    assert strong.params["value"] == 1.0 and strong.status is TrialStatus.SUCCEEDED
    assert weak.status is TrialStatus.EARLY_STOPPED, (weak.status, weak.reason)
    assert "assessor" in (weak.reason or "")
    assert len(weak.intermediate) < 20, "the stop reached the trial on its node"


# ------------------------------------------------------------------------------------------------
# faults


def test_killed_runner_is_node_lost_and_its_slot_is_reused(
    tmp_path: Path, ray_cluster: Any
) -> None:
    space = {"steps": {"_type": "choice", "_value": [25]}, "sleep": {"_type": "choice", "_value": [0.2]},
             "a": {"_type": "uniform", "_value": [0, 1]}}  # fmt: skip
    cfg = config("ray", ray_cluster, space, maxTrialNumber=3, trialConcurrency=2)
    proc, exp_id, exp_dir = start_cli(tmp_path, cfg)
    try:
        victim = wait_for(
            lambda: next((t for t in safe_trials(exp_id) if len(t.intermediate) >= 2), None),
            what="a trial with metrics",
        )
        info = wait_for(lambda: node_info(exp_dir, victim.trial_id), what="node.json")
        ray = connect(ray_cluster)
        try:
            actor = ray.get_actor(victim.trial_id, namespace=f"hyperloom-{exp_id}")
            ray.kill(actor, no_restart=True)
        finally:
            ray.shutdown()
        _, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    final = {t.trial_id: t for t in safe_trials(exp_id)}
    lost = final[victim.trial_id]
    assert lost.status is TrialStatus.FAILED and lost.exit_code is None
    assert lost.reason.startswith("node lost"), lost.reason
    others = [t for t in final.values() if t.trial_id != victim.trial_id]
    assert len(others) == 2 and all(t.status is TrialStatus.SUCCEEDED for t in others), others
    # the trial process the dead runner left on its node was ended
    wait_for(
        lambda: not alive(int(info["pid"])), timeout=30, what="the orphaned trial process to end"
    )


def test_runner_lost_before_the_first_report_is_retried(tmp_path: Path, ray_cluster: Any) -> None:
    space = fixed(steps=2, sleep=2.5)  # the first report comes 2.5 s after the start
    cfg = config("ray", ray_cluster, space, maxTrialNumber=1, trialConcurrency=1, maxTrialRetries=1)
    proc, exp_id, exp_dir = start_cli(tmp_path, cfg)
    ray = connect(ray_cluster)  # before the trial starts: connecting takes seconds here
    try:
        trial = wait_for(lambda: next(iter(safe_trials(exp_id)), None), what="the trial")
        first = wait_for(lambda: node_info(exp_dir, trial.trial_id), what="node.json")
        actor = ray.get_actor(trial.trial_id, namespace=f"hyperloom-{exp_id}")
        ray.kill(actor, no_restart=True)
        ray.shutdown()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    finally:
        ray.shutdown()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    [r] = safe_trials(exp_id)
    assert r.status is TrialStatus.SUCCEEDED, (r.status, r.reason)
    assert len(r.intermediate) == 2
    second = node_info(exp_dir, r.trial_id)
    assert second["attempt"] == 2 and second["pid"] != first["pid"]


def test_runner_lost_after_reports_is_retried_with_the_second_series_only(
    tmp_path: Path, ray_cluster: Any
) -> None:
    from hyperloom.store import StoreReader

    steps = 12
    space = fixed(steps=steps, sleep=0.4)
    cfg = config("ray", ray_cluster, space, maxTrialNumber=1, trialConcurrency=1, maxTrialRetries=1)
    proc, exp_id, exp_dir = start_cli(tmp_path, cfg)
    ray = connect(ray_cluster)
    try:
        trial = wait_for(
            lambda: next((t for t in safe_trials(exp_id) if len(t.intermediate) >= 3), None),
            timeout=90,
            what="a trial with 3 reports",
        )
        first = wait_for(lambda: node_info(exp_dir, trial.trial_id), what="node.json")
        ray.kill(ray.get_actor(trial.trial_id, namespace=f"hyperloom-{exp_id}"), no_restart=True)
        ray.shutdown()
        _, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err[-3000:]
    finally:
        ray.shutdown()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    [r] = safe_trials(exp_id)
    assert r.status is TrialStatus.SUCCEEDED and r.exit_code == 0, (r.status, r.reason)
    reader = StoreReader(exp_dir)
    try:
        [retry] = reader.events(trial_id=r.trial_id, kind="trial_retry")
        rows = reader.intermediate(r.trial_id)
    finally:
        reader.close()
    assert retry["payload"]["steps"] >= 3 and retry["payload"]["reason"].startswith("node lost")
    assert [s for s, _, _ in rows] == list(range(steps)), "each step once"
    assert all(t > retry["t"] for _, _, t in rows), "every stored report is the second attempt's"
    assert list(r.intermediate) == [pytest.approx(1.0 + 0.01 * i) for i in range(steps)]
    second = node_info(exp_dir, r.trial_id)
    assert second["attempt"] == 2 and second["pid"] != first["pid"]
    assert second["node_trial_dir"] != first["node_trial_dir"], "a fresh channel file"
    wait_for(lambda: not alive(int(first["pid"])), timeout=30, what="the lost attempt to end")


def test_stop_with_a_dead_manager_ends_its_trials_on_the_cluster(
    tmp_path: Path, ray_cluster: Any
) -> None:
    space = fixed(steps=400, sleep=0.3)
    cfg = config("ray", ray_cluster, space, maxTrialNumber=2, trialConcurrency=2)
    proc, exp_id, exp_dir = start_cli(tmp_path, cfg)
    try:
        wait_for(
            lambda: sum(len(t.intermediate) >= 1 for t in safe_trials(exp_id)) == 2,
            timeout=90,
            what="2 trials with reports",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    trials = safe_trials(exp_id)
    pids = [int(node_info(exp_dir, t.trial_id)["pid"]) for t in trials]
    assert all(alive(pid) for pid in pids), "the trials outlive the manager on the cluster"
    out = subprocess.run([*HYPERLOOM, "stop", exp_id], capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ended 2 trials through its executor" in out.stdout, out.stdout
    assert not any(alive(pid) for pid in pids), "no trial process outlives hyperloom stop"
    ray = connect(ray_cluster)
    try:
        left = [
            a
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == f"hyperloom-{exp_id}"
        ]
    finally:
        ray.shutdown()
    assert left == [], "the runners are gone"
    final = safe_trials(exp_id)
    assert {t.status for t in final} == {TrialStatus.CANCELED}
    with open_experiment(exp_id) as view:
        assert view.status == "STOPPED"


def test_manager_sigkill_then_resume_reattaches(tmp_path: Path, ray_cluster: Any) -> None:
    space = {"steps": {"_type": "choice", "_value": [20]}, "sleep": {"_type": "choice", "_value": [0.4]},
             "a": {"_type": "uniform", "_value": [0, 1]}}  # fmt: skip
    cfg = config("ray", ray_cluster, space, maxTrialNumber=2, trialConcurrency=2)
    proc, exp_id, exp_dir = start_cli(tmp_path, cfg)

    def running_with_metrics() -> list[Any]:
        return [
            t
            for t in safe_trials(exp_id)
            if t.status is TrialStatus.RUNNING and len(t.intermediate) >= 2
        ]

    try:
        wait_for(
            lambda: len(running_with_metrics()) == 2,
            timeout=90,
            what="2 running trials with metrics",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    pids = [int(node_info(exp_dir, t.trial_id)["pid"]) for t in safe_trials(exp_id)]
    assert all(alive(pid) for pid in pids), (
        "trials keep running on the cluster when the manager dies"
    )
    out = subprocess.run(
        [*HYPERLOOM, "resume", exp_id, "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "re-attached" in out.stdout
    final = safe_trials(exp_id)
    assert len(final) == 2
    for t in final:
        assert t.status is TrialStatus.SUCCEEDED, (t.status, t.reason)
        assert t.exit_code == 0, "the runner outlived the manager and knows the exit code"
        assert list(t.intermediate) == [pytest.approx(1.0 + 0.01 * i) for i in range(20)], (
            "each step once"
        )
    assert not any(alive(pid) for pid in pids)


# ------------------------------------------------------------------------------------------------
# errors at start


def test_unreachable_cluster_is_a_clear_error_before_any_trial(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = config(
        "local",
        None,
        fixed(x=1),
        trainingService={"platform": "ray", "address": f"127.0.0.1:{port}"},
    )
    exp = Experiment.from_config(cfg)
    with pytest.raises(HyperloomError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:\d+"):
        exp.run()
    assert safe_trials(exp.id) == []


def test_resources_no_node_has_is_a_config_error(ray_cluster: Any) -> None:
    cfg = config("ray", ray_cluster, fixed(x=1))
    cfg["trainingService"]["resourcesPerTrial"] = {"cpu": 1, "gpu": 1}
    exp = Experiment.from_config(cfg)
    with pytest.raises(ConfigError, match="no node of the Ray cluster has the resources"):
        exp.run()
    assert safe_trials(exp.id) == []


def test_code_directory_too_large_fails_trials_with_the_reason(
    tmp_path: Path, ray_cluster: Any
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "behave.py").write_text((TRIALS / "behave.py").read_text())
    (code / "data.bin").write_bytes(os.urandom(3 * 2**20))
    cfg = config("ray", ray_cluster, fixed(x=1), maxTrialNumber=1, trialCodeDirectory=str(code))
    cfg["trainingService"]["maxCodeDirectoryMiB"] = 1
    [r] = Experiment.from_config(cfg).run()
    assert r.status is TrialStatus.FAILED
    assert "over the limit of 1 MiB" in r.reason and "data.bin" in r.reason, r.reason
