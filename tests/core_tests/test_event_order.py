"""The simulator keeps the order of events of a real run: the same schedule (grid order, two
workers, fixed durations) played on the virtual clock and by real sleeping trials ends its trials
in the same order."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.store import StoreReader

SUPPORT = Path(__file__).parent / "lineage_support"


def config(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3]}},
        "tuner": {"name": "grid"},
        "trialConcurrency": 2,
        "maxTrialNumber": 4,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


def end_order(exp_dir: Path) -> list[int]:
    with StoreReader(exp_dir) as r:
        ended = sorted(r.trials(), key=lambda t: (t.ended or 0.0, t.sequence))
    return [int(t.params["x"]) for t in ended]


def test_simulated_and_real_runs_end_trials_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))
    sim = Experiment.from_config(
        config(
            tmp_path,
            trainingService={
                "platform": "simulate",
                "function": "lineage_support.schedule:simulated",
                "steps": 2,
            },
        )
    )
    sim.run(dashboard=False)
    real = Experiment.from_config(
        config(
            tmp_path,
            trialCommand=f"{sys.executable} schedule.py",
            trialCodeDirectory=str(SUPPORT),
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT.parent))
    real.run(dashboard=False)
    assert end_order(sim.dir) == [0, 2, 3, 1]
    assert end_order(real.dir) == end_order(sim.dir)
    with StoreReader(sim.dir) as r:  # virtual time: the whole schedule took 8 virtual seconds
        ts = [t for t in r.trials()]
        assert max(t.ended or 0 for t in ts) - min(t.started or 0 for t in ts) == pytest.approx(8.0)
