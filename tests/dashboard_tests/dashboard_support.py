"""Helpers for the dashboard tests: stores built with the real Store writer, a fake control and a
server running in a background thread."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from hyperloom.store import Store
from hyperloom.types import TrialStatus

SPACE = {
    "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "batch_size": {"_type": "choice", "_value": [16, 32, 64, 128]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.5]},
}


def config(mode: str = "maximize", max_trials: int | None = 20) -> dict[str, Any]:
    return {
        "experimentName": "mnist-demo",
        "trialCommand": "python train.py",
        "trialConcurrency": 2,
        "maxTrialNumber": max_trials,
        "maxExperimentDuration": 3600.0,
        "searchSpace": SPACE,
        "tuner": {"name": "tpe", "classArgs": {"mode": mode}},
        "assessor": {"name": "median_stop", "classArgs": {}},
    }


def add_trial(
    store: Store,
    rng: random.Random,
    *,
    trial_id: str,
    status: TrialStatus = TrialStatus.SUCCEEDED,
    steps: int = 10,
    t0: float | None = None,
) -> float:
    """Adds one trial with a learning curve; returns its final value (or nan)."""
    seq = store.allocate_sequence()
    params = {
        "lr": 10 ** rng.uniform(-4, -1),
        "batch_size": rng.choice([16, 32, 64, 128]),
        "dropout": rng.uniform(0, 0.5),
    }
    store.add_trial(trial_id, seq, params)
    start = t0 if t0 is not None else time.time()
    store.start_trial(trial_id, started=start, pid=1000 + seq, pgid=1000 + seq, devices=[seq % 2])
    ceiling = 0.6 + 0.35 * rng.random()
    v = 0.0
    for step in range(steps):
        v = ceiling * (1 - math.exp(-(step + 1) / 3)) + rng.uniform(-0.01, 0.01)
        store.add_metric(trial_id, step, v, {"loss": 1 - v}, t=start + step)
    if status is TrialStatus.RUNNING:
        return math.nan
    if status is TrialStatus.SUCCEEDED:
        store.set_final(trial_id, v, {"loss": 1 - v, "acc_top5": min(1.0, v + 0.05)})
        store.finish_trial(trial_id, status, ended=start + steps, exit_code=0)
        return v
    if status is TrialStatus.EARLY_STOPPED:
        store.add_event(
            "assessor",
            trial_id,
            {"verdict": "STOP", "reason": "below the median", "step": steps - 1},
        )
        store.finish_trial(
            trial_id,
            status,
            ended=start + steps,
            exit_code=-15,
            reason="assessor: below the median",
        )
        return math.nan
    store.finish_trial(trial_id, status, ended=start + steps, exit_code=1, reason="exit code 1")
    return math.nan


class FakeControl:
    """A DashboardControl that records what it was asked."""

    def __init__(self, experiment_id: str, running: set[str] | None = None) -> None:
        self.experiment_id = experiment_id
        self.running = set(running or ())
        self.stopped_trials: list[str] = []
        self.experiment_stops = 0

    def stop_experiment(self) -> None:
        self.experiment_stops += 1

    def stop_trial(self, trial_id: str) -> bool:
        if trial_id not in self.running:
            return False
        self.stopped_trials.append(trial_id)
        return True


class LiveServer:
    """A DashboardServer served from its own loop in a background thread."""

    def __init__(self, dirs: Any, **kw: Any) -> None:
        import asyncio
        import threading

        from hyperloom.dashboard import DashboardServer

        self.loop = asyncio.new_event_loop()
        self.server = DashboardServer(dirs, **kw)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.base = f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """Sends ``path`` exactly as given (no normalisation); returns (status, JSON or text, headers)."""
        import http.client
        import json

        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = body
        return resp.status, data, hdrs

    def get(self, path: str, **kw: Any) -> Any:
        status, data, _ = self.request("GET", path, **kw)
        assert status == 200, (path, status, data)
        return data
