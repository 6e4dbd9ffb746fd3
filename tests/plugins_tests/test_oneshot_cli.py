"""`hyperloom nas retrain ID` end to end: a real experiment whose trials write
architecture.json (no torch: the trial scripts are stand-ins), then the retrain experiment it
writes and runs, as ordinary trials through the manager."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml
from hyperloom import open_experiment
from hyperloom.plugins.nas import cell_space

SEARCH = """
import json, random
from hyperloom import trials
p = trials.get_params()
space = json.loads(open("space.json").read())
rng = random.Random(p["method"])
arch = {k: rng.choice(v["_value"]) for k, v in space.items()}
(trials.trial_dir() / "architecture.json").write_text(json.dumps(arch))
trials.report(0.5, step=0)
trials.report_final({"a": 0.9, "b": 0.7}[p["method"]])
"""
RETRAIN = """
import json
from pathlib import Path
from hyperloom import trials
p = trials.get_params()
arch = json.loads(Path(p["architecture"]).read_text())
trials.report_final(float(len(arch)) + p["seed"], n_keys=len(arch))
"""
MAIN = "import sys, hyperloom.cli.nas; from hyperloom.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(
    args: list[str], home: Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """``hyperloom ARGS`` in a real process, with ``HYPERLOOM_HOME=home`` (and ``env``)."""
    full = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HYPERLOOM_HOME": str(home),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args], env=full, cwd=cwd, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def run_source(
    tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None, timeout: int = 120
) -> tuple[Path, Path, str, list[Any]]:
    """Runs ``config`` with ``hyperloom run``; returns the home, the experiment's directory, its
    id and its trials."""
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    args = ["run", str(tmp_path / "config.yml"), "--no-dashboard", "-q"]
    out = cli(args, home, tmp_path, env, timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    (src_dir,) = list(home.iterdir())
    with open_experiment(src_dir) as view:
        return home, src_dir, str(view.reader.experiment()["id"]), view.trials()


def test_retrain_runs_the_architectures_trials_wrote(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    space = cell_space(2, reduction=False)
    (code / "space.json").write_text(json.dumps(space))
    (code / "search.py").write_text(textwrap.dedent(SEARCH))
    (code / "retrain.py").write_text(textwrap.dedent(RETRAIN))
    config = {
        "experimentName": "oneshot-stand-in",
        "trialCommand": f"{sys.executable} search.py",
        "trialCodeDirectory": str(code),
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "searchSpace": {"method": {"_type": "choice", "_value": ["a", "b"]}},
        "tuner": {"name": "grid"},
    }
    home, src_dir, src_id, done = run_source(tmp_path, config)
    by_value = sorted(done, key=lambda t: -(t.value or 0))
    written = [src_dir / "trials" / t.trial_id / "architecture.json" for t in by_value]
    assert all(p.is_file() for p in written)

    cfg_path = tmp_path / "retrain.yml"
    args = ["nas", "retrain", src_id, "--seed", "0", "--seed", "1", "--out", str(cfg_path), "-q"]
    out = cli([*args, "--command", f"{sys.executable} retrain.py"], home, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["searchSpace"]["architecture"]["_value"] == [str(p.resolve()) for p in written]
    assert cfg["searchSpace"]["seed"]["_value"] == [0, 1] and cfg["maxTrialNumber"] == 4
    assert cfg["trialCodeDirectory"] == str(code.resolve()) and cfg["tuner"]["name"] == "grid"
    retrain_dirs = [d for d in home.iterdir() if d != src_dir]
    assert len(retrain_dirs) == 1
    with open_experiment(retrain_dirs[0]) as view:
        done = view.trials()
    assert len(done) == 4 and all(t.status.name == "SUCCEEDED" for t in done)
    assert sorted(t.value for t in done) == [8.0, 8.0, 9.0, 9.0]  # 8 keys, + seed
    assert {t.params["architecture"] for t in done} == {str(p.resolve()) for p in written}

    # --top 1 keeps the best source trial only; --dry-run writes without running
    out = cli(["nas", "retrain", src_id, "--top", "1", "--dry-run", "--json"], home, tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = json.loads(out.stdout)["config"]
    assert cfg["searchSpace"]["architecture"]["_value"] == [str(written[0].resolve())]
    assert len(list(home.iterdir())) == 2  # nothing ran


def test_retrain_of_an_experiment_without_architectures_is_a_usage_error(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "t.py").write_text("from hyperloom import trials\ntrials.report_final(1.0)\n")
    config = {
        "trialCommand": f"{sys.executable} t.py", "trialCodeDirectory": str(code),
        "maxTrialNumber": 1, "tuner": {"name": "random"},
        "searchSpace": {"x": {"_type": "choice", "_value": [1]}},
    }  # fmt: skip
    (tmp_path / "c.yml").write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    assert (
        cli(["run", str(tmp_path / "c.yml"), "--no-dashboard", "-q"], home, tmp_path).returncode
        == 0
    )
    (exp_dir,) = list(home.iterdir())
    out = cli(["nas", "retrain", str(exp_dir), "--dry-run"], home, tmp_path)
    assert out.returncode == 2 and "architecture.json" in out.stderr
