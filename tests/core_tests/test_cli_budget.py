"""``hyperloom resume`` with more budget, and how a finished experiment says why it ended: real
``hyperloom`` processes running real trial processes (and the simulate executor for a time
budget, on its virtual clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]
SUPPORT = Path(__file__).parent / "lineage_support"

TRIAL = """\
from hyperloom import trials
p = trials.get_params()
trials.report_final(float(p["x"]))
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SUPPORT.parent), "COLUMNS": "200"}
    return subprocess.run(
        [*HYPERLOOM, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def trial_ids(exp: str) -> list[str]:
    out = cli("trials", exp, "--json")
    assert out.returncode == 0, out.stderr
    return [t["trial_id"] for t in json.loads(out.stdout)]


@pytest.fixture
def done_experiment(tmp_path: Path) -> str:
    """A DONE experiment of 3 real, succeeded trials, run through `hyperloom run`."""
    (tmp_path / "ok.py").write_text(TRIAL)
    out = cli(
        "run", "-q", "-n", "3", "--tuner", "random", "--no-dashboard",
        "--", sys.executable, "ok.py", "--x~uniform(0, 1)",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("experiment "), out.stdout
    assert "status: DONE" in out.stdout
    return first.split()[1]


def test_resume_on_done_says_how_to_give_budget_and_more_runs_two_more(
    done_experiment: str,
) -> None:
    exp = done_experiment
    plain = cli("resume", exp, "--no-dashboard")
    assert plain.returncode == 0, plain.stderr
    assert f"experiment {exp} is DONE (3/3 trials used)" in plain.stdout
    assert f"hyperloom resume {exp} --more N" in plain.stdout
    assert "--max-trials N" in plain.stdout and "--max-duration" in plain.stdout
    assert "Top 3 of 3 trials" in plain.stdout  # its results are shown, nothing is run
    assert len(trial_ids(exp)) == 3

    # a budget that is no more, or not a budget: one line naming the flag, exit 2, nothing run
    small = cli("resume", exp, "--max-trials", "2")
    assert small.returncode == 2
    assert "--max-trials 2 is not more than the 3 trials" in small.stderr
    bad = cli("resume", exp, "--max-duration", "soon")
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr
    both = cli("resume", exp, "--max-trials", "9", "--more", "1")
    assert both.returncode == 2 and "either" in both.stderr
    for out in (small, bad, both):
        assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert len(trial_ids(exp)) == 3

    more = cli("resume", exp, "--more", "2", "-q", "--no-dashboard")
    assert more.returncode == 0, more.stdout + more.stderr
    assert "Top 5 of 5 trials" in more.stdout and "status: DONE" in more.stdout
    ids = trial_ids(exp)
    assert ids == ["T0001", "T0002", "T0003", "T0004", "T0005"]
    status = json.loads(cli("status", exp, "--json").stdout)
    assert status["budget"]["trials"] == [5, 5]
    assert status["counts"]["SUCCEEDED"] == 5


def test_a_time_budget_end_is_shown_with_its_reason_and_can_be_extended(tmp_path: Path) -> None:
    cfg = {
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 3]}},
        "trialConcurrency": 1,
        "maxTrialNumber": 50,
        "maxExperimentDuration": "10s",
        "tuner": {"name": "random", "classArgs": {"seed": 1}},
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:linear",
            "steps": 4,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(cfg))
    out = cli("run", str(path), "-q")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "status: DONE (maxExperimentDuration (10s) reached)" in out.stdout
    exp = out.stdout.splitlines()[0].split()[1]
    assert f"hyperloom resume {exp} --max-duration" in out.stdout
    before = len(trial_ids(str(tmp_path / "exps" / exp)))
    longer = cli("resume", str(tmp_path / "exps" / exp), "--max-duration", "30s", "-q")
    assert longer.returncode == 0, longer.stdout + longer.stderr
    assert "maxExperimentDuration (30s) reached" in longer.stdout
    assert len(trial_ids(str(tmp_path / "exps" / exp))) > before


def test_done_with_budget_left_says_the_tuner_had_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hyperloom import Experiment
    from hyperloom.cli import main

    monkeypatch.syspath_prepend(str(SUPPORT.parent))
    monkeypatch.setenv("COLUMNS", "300")
    exp = Experiment.from_config(
        {
            "searchSpace": {"x": {"_type": "choice", "_value": [0, 1]}},
            "maxTrialNumber": 5,
            "tuner": {"name": "grid"},
            "trainingService": {
                "platform": "simulate",
                "function": "lineage_support.curves:linear",
                "steps": 2,
            },
            "experimentWorkingDirectory": str(tmp_path / "exps"),
            "dashboard": False,
        }
    )
    assert len(exp.run(dashboard=False)) == 2 and exp.status == "DONE"
    assert main(["resume", str(exp.dir)]) == 0
    out = capsys.readouterr().out
    assert "DONE (2/5 trials used)" in out
    assert "its tuner had nothing more to suggest" in out
