"""Fixtures for the dashboard tests."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import SPACE, LiveServer, add_trial, config
from hyperloom.store import Store
from hyperloom.types import TrialStatus

ExperimentFactory = Callable[..., tuple[Path, Store]]


@pytest.fixture
def make_experiment(tmp_path: Path) -> ExperimentFactory:
    """Builds ``tmp_path/home/<id>`` with a store holding ``n`` finished trials."""
    opened: list[Store] = []

    def make(
        exp_id: str = "exp00001", n: int = 12, mode: str = "maximize", seed: int = 0
    ) -> tuple[Path, Store]:
        d = tmp_path / "home" / exp_id
        d.mkdir(parents=True)
        store = Store.create(
            d, experiment_id=exp_id, name="mnist-demo", config=config(mode), space=SPACE
        )
        opened.append(store)
        store.set_experiment_status("RUNNING")
        rng = random.Random(seed)
        t0 = time.time() - 1000
        kinds = [TrialStatus.SUCCEEDED] * 6 + [TrialStatus.EARLY_STOPPED, TrialStatus.FAILED]
        for i in range(n):
            status = kinds[i % len(kinds)]
            add_trial(store, rng, trial_id=f"t{i:04d}", status=status, t0=t0 + 20 * i)
        return d, store

    yield make  # type: ignore[misc]
    for s in opened:
        s.close()


@pytest.fixture
def live_server() -> Any:
    """Starts LiveServer(dirs, **kw) servers and closes them after the test."""
    servers: list[LiveServer] = []

    def start(dirs: Any, **kw: Any) -> LiveServer:
        s = LiveServer(dirs, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
