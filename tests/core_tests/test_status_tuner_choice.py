"""`auto` explains its choice in `hyperloom status` (a tuner_choice event recorded by the
manager): a real run on the simulate executor, then the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hyperloom import Experiment
from hyperloom.store import StoreReader

SUPPORT = Path(__file__).parent / "lineage_support"


def test_status_shows_what_auto_chose_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))
    exp = Experiment.from_config(
        {
            "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3]}},
            "trialConcurrency": 1,
            "maxTrialNumber": 3,
            "tuner": {"name": "auto", "classArgs": {"seed": 0}},
            "trainingService": {
                "platform": "simulate",
                "function": "lineage_support.curves:linear",
                "steps": 2,
            },
            "experimentWorkingDirectory": str(tmp_path / "exps"),
            "dashboard": False,
        }
    )
    exp.run(dashboard=False)
    with StoreReader(exp.dir) as r:
        events = r.events(kind="tuner_choice")
    assert len(events) == 1, "recorded once, not per suggestion"
    choice = events[0]["payload"]
    assert choice["choice"] == "tpe" and choice["reason"]
    out = subprocess.run(
        [sys.executable, "-m", "hyperloom.cli", "status", str(exp.dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.replace("│", " ").split())  # the panel wraps long lines
    assert f"tuner tpe: {choice['reason'][:30]}" in text, text
