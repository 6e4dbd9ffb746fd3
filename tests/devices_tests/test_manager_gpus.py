"""The device pool through the real manager: real subprocess trials on fake GPUs.

Each trial appends its CUDA_VISIBLE_DEVICES and start/end times to a ledger file; the tests check
that no device slot is ever used by more trials than it has slots, that trials wait for devices,
and that devices come back however a trial ends, a manager killed with SIGKILL included.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.errors import StoreError
from hyperloom.store import StoreReader

HERE = Path(__file__).resolve().parent
TRIAL = f"{sys.executable} {HERE / 'ledger_trial.py'}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYPERLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEDGER", str(tmp_path / "ledger.jsonl"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HYPERLOOM_FAKE_GPUS", raising=False)
    return tmp_path


def config(tmp: Path, **over: Any) -> dict[str, Any]:
    ts = {"platform": "local", "useActiveGpu": True, **over.pop("trainingService", {})}
    cfg: dict[str, Any] = {
        "trialCommand": TRIAL,
        "trialCodeDirectory": str(HERE),
        "experimentWorkingDirectory": str(tmp / "exps"),
        "tuner": {"name": "random"},
        "maxExperimentDuration": "90s",
        "trainingService": ts,
        **over,
    }
    return cfg


def ledger(tmp: Path) -> dict[str, dict[str, Any]]:
    """Trial id to {cvd, order, start, end}."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for line in (tmp / "ledger.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[rec["trial"]].update(cvd=rec["cvd"], order=rec["order"], **{rec["event"]: rec["t"]})
    return dict(out)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that cover one instant (an end at t frees before a start at t)."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    peak = cur = 0
    for _, step in events:
        cur += step
        peak = max(peak, cur)
    return peak


def per_device(spans: dict[str, tuple[float, float]], devs: dict[str, list[int]]) -> dict[int, int]:
    by_dev: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for t, span in spans.items():
        for i in devs[t]:
            by_dev[i].append(span)
    return {i: max_overlap(v) for i, v in by_dev.items()}


def check_no_oversubscription(tmp: Path, records: list[Any], slots: int) -> dict[int, int]:
    led = ledger(tmp)
    devs = {r.trial_id: list(r.devices) for r in records if r.started is not None}
    for r in records:  # what the trial saw is what the store says it leased
        if r.trial_id in led:
            assert led[r.trial_id]["cvd"] == ",".join(map(str, devs[r.trial_id]))
            assert led[r.trial_id]["order"] == "PCI_BUS_ID"
    own = {t: (v["start"], v["end"]) for t, v in led.items() if "end" in v}
    held = {r.trial_id: (r.started, r.ended) for r in records if r.started and r.ended}
    peaks = per_device(own, devs)
    assert max(peaks.values()) <= slots, peaks
    store_peaks = per_device(held, devs)
    assert max(store_peaks.values()) <= slots, store_peaks
    return peaks


@pytest.mark.parametrize(
    ("gpus", "slots", "per_trial"),
    [(3, 2, 1), (5, 1, 2)],
    ids=["3gpus-x2slots-1each", "5gpus-x1slot-2each"],
)
def test_no_oversubscription_at_concurrency_8_with_random_durations(
    env: Path, gpus: int, slots: int, per_trial: int
) -> None:
    cfg = config(
        env,
        trialConcurrency=8,
        maxTrialNumber=24,
        trialGpuNumber=per_trial,
        searchSpace={"dur": {"_type": "uniform", "_value": [0.02, 0.4]}},
        trainingService={"fakeGpus": gpus, "maxTrialNumberPerGpu": slots},
    )
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert len(records) == 24
    assert {r.status.name for r in records} == {"SUCCEEDED"}
    assert all(len(r.devices) == per_trial for r in records)
    peaks = check_no_oversubscription(env, records, slots)
    # concurrency 8 > what the devices allow: trials waited, and every slot was used
    capacity = gpus * slots // per_trial
    led = ledger(env)
    assert max_overlap([(v["start"], v["end"]) for v in led.values()]) <= capacity
    assert max(peaks.values()) == slots


def test_trials_wait_and_devices_return_on_every_kind_of_end(env: Path) -> None:
    # One device, one slot: every trial but the first waits for the one before to give it back.
    cfg = config(
        env,
        trialConcurrency=3,
        maxTrialDuration="1.5s",
        trialGpuNumber=1,
        stopGracePeriod="1s",
        searchSpace={
            "kind": {"_type": "choice", "_value": ["ok", "fail", "hang", "stop", "ok-again"]}
        },
        tuner={"name": "grid"},
        assessor={"className": "stop_assessor:StopNegative", "codeDirectory": str(HERE)},
        trainingService={"fakeGpus": 1},
    )
    records = Experiment.from_config(cfg).run(dashboard=False)
    statuses = sorted(r.status.name for r in records)
    assert statuses == ["EARLY_STOPPED", "FAILED", "SUCCEEDED", "SUCCEEDED", "TIMEOUT"], [
        (r.params, r.status.name, r.reason) for r in records
    ]
    assert all(tuple(r.devices) == (0,) for r in records)
    check_no_oversubscription(env, records, slots=1)
    # the trial after a TIMEOUT started only once the timed-out one was gone
    order = sorted(records, key=lambda r: r.started)
    for a, b in itertools.pairwise(order):
        assert b.started >= a.ended


def test_trial_gpu_number_0_hides_every_gpu(env: Path) -> None:
    cfg = config(
        env,
        trialConcurrency=2,
        maxTrialNumber=2,
        trialGpuNumber=0,
        searchSpace={"dur": {"_type": "uniform", "_value": [0.02, 0.05]}},
        trainingService={"fakeGpus": 2},
    )
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert [tuple(r.devices) for r in records] == [(), ()]
    assert {v["cvd"] for v in ledger(env).values()} == {""}


def test_a_trial_stopped_by_the_user_gives_its_device_back(env: Path) -> None:
    cfg = config(
        env,
        trialConcurrency=2,
        trialGpuNumber=1,
        stopGracePeriod="1s",
        searchSpace={"kind": {"_type": "choice", "_value": ["hang", "ok"]}},
        tuner={"name": "grid"},
        trainingService={"fakeGpus": 1},
    )
    exp = Experiment.from_config(cfg)
    loops: list[asyncio.AbstractEventLoop] = []

    def stop_the_hanging_trial() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            hanging = (
                [t for t, v in ledger(env).items() if "start" in v]
                if (env / "ledger.jsonl").exists()
                else []
            )
            if hanging and loops:
                loops[0].call_soon_threadsafe(exp.manager.stop_trial, hanging[0], "test stop")
                return

    stopper = threading.Thread(target=stop_the_hanging_trial)
    stopper.start()
    records = exp.run(dashboard=False, on_start=lambda _e: loops.append(asyncio.get_running_loop()))
    stopper.join()
    by_kind = {r.params["kind"]: r for r in records}
    assert by_kind["hang"].status.name == "CANCELED"
    assert by_kind["ok"].status.name == "SUCCEEDED"
    assert by_kind["ok"].started >= by_kind["hang"].ended  # it waited for the device
    check_no_oversubscription(env, records, slots=1)


def test_gpu_indices_and_use_active_gpu(env: Path) -> None:
    fake = [{"index": 0}, {"index": 1, "active": True}, {"index": 2}, {"index": 3}]
    cfg = config(
        env,
        trialConcurrency=4,
        maxTrialNumber=8,
        trialGpuNumber=1,
        searchSpace={"dur": {"_type": "uniform", "_value": [0.05, 0.2]}},
        trainingService={"fakeGpus": fake, "gpuIndices": [0, 1, 3], "useActiveGpu": False},
    )
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert {r.status.name for r in records} == {"SUCCEEDED"}
    assert {tuple(r.devices) for r in records} == {(0,), (3,)}
    check_no_oversubscription(env, records, slots=1)


def test_unsatisfiable_request_fails_at_config_check(env: Path) -> None:
    from hyperloom.errors import ConfigError

    cfg = config(
        env,
        trialGpuNumber=3,
        searchSpace={"dur": {"_type": "choice", "_value": [0.05]}},
        trainingService={"fakeGpus": 4, "gpuIndices": [0, 1]},
    )
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=r"trialGpuNumber: 3 GPUs per trial can never"):
        Experiment.from_config(cfg).run(dashboard=False)
    assert time.monotonic() - t0 < 10
    assert not (env / "ledger.jsonl").exists()


MANAGER = """
import sys
from hyperloom import Experiment
cfg = {cfg!r}
Experiment.from_config(cfg, experiment_id="resumeme").run(dashboard=False)
"""


def test_resume_after_manager_kill_keeps_reattached_trials_devices(env: Path) -> None:
    cfg = config(
        env,
        trialConcurrency=4,
        maxTrialNumber=5,
        trialGpuNumber=1,
        searchSpace={"dur": {"_type": "uniform", "_value": [2.0, 2.5]}},
        trainingService={"fakeGpus": 2},
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", MANAGER.format(cfg=cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    exp_dir = env / "exps" / "resumeme"
    running: list[Any] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(running) < 2:
        time.sleep(0.1)
        if (exp_dir / "experiment.db").exists():
            try:
                with StoreReader(exp_dir) as r:
                    running = [t for t in r.trials(status="RUNNING") if t.pid]
            except StoreError:  # caught while the manager creates it
                continue
    assert len(running) == 2, "the manager never started two trials"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before = {t.trial_id: list(t.devices) for t in running}
    assert sorted(d for ds in before.values() for d in ds) == [0, 1]

    records = Experiment.resume(exp_dir).run(dashboard=False)
    assert len(records) == 5
    new = [r for r in records if r.trial_id not in before]
    assert {r.status.name for r in new} == {"SUCCEEDED"}, [(r.status, r.reason) for r in new]
    led = ledger(env)
    for t, devs in before.items():  # re-attached with the same devices, ran to their end
        rec = next(r for r in records if r.trial_id == t)
        assert list(rec.devices) == devs
        assert rec.status.is_final and "end" in led[t]
        # (their status is the manager's call: it cannot read a re-attached trial's exit code)
    check_no_oversubscription(env, records, slots=1)
    # every new trial waited for a re-attached one to give its device back
    first_end = min(led[t]["end"] for t in before)
    assert all(led[r.trial_id]["start"] >= first_end for r in new)


def test_gpu_usage_is_sampled_stored_and_shown_in_trials(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hyperloom.cli import app
    from hyperloom.cli._common import console
    from hyperloom.manager import Manager
    from typer.testing import CliRunner

    monkeypatch.setattr(Manager, "GPU_SAMPLE_EVERY", 0.1)
    cfg = config(
        env,
        trialConcurrency=2,
        maxTrialNumber=2,
        trialGpuNumber=1,
        searchSpace={"dur": {"_type": "uniform", "_value": [0.8, 0.9]}},
        trainingService={"fakeGpus": [{"utilization": 40.0}, {"utilization": 80.0}]},
    )
    exp = Experiment.from_config(cfg, experiment_id="gpusampl")
    records = exp.run(dashboard=False)
    with StoreReader(exp.dir) as r:
        samples = r.events(kind="gpu_sample")
    by_trial = {rec.trial_id: rec for rec in records}
    assert {s["trial_id"] for s in samples} == set(by_trial)
    for s in samples:
        rec = by_trial[s["trial_id"]]
        assert s["payload"]["devices"] == list(rec.devices)
        assert s["payload"]["utilization"] == (40.0 if rec.devices == (0,) else 80.0)
        assert rec.started <= s["t"] <= rec.ended
    monkeypatch.setattr(console, "width", 250)
    result = CliRunner().invoke(app, ["trials", str(exp.dir)])
    assert result.exit_code == 0, result.output
    assert "GPU 0 · 40%" in result.stdout and "GPU 1 · 80%" in result.stdout
