"""The nas-digits example end to end: a short `hyperloom run` of its rl and evolution configs
(real trial subprocesses, one training epoch each through NAS_DIGITS_EPOCHS)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hyperloom import open_experiment

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nas-digits"


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["rl", "evolution"])
def test_nas_digits_runs(tuner: str, tmp_path: Path) -> None:
    config = yaml.safe_load((EXAMPLE / f"config-{tuner}.yml").read_text(encoding="utf-8"))
    assert config["searchSpace"]["plugin"] == "nas_cell" and config["tuner"]["name"] == tuner
    config.update(trialCodeDirectory=str(EXAMPLE), maxTrialNumber=3, maxExperimentDuration="4m")
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HYPERLOOM_HOME": str(tmp_path / "home"),
        "NAS_DIGITS_EPOCHS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from hyperloom.cli import main; sys.exit(main(sys.argv[1:]))",
         "run", str(path), "--no-dashboard", "-q"],
        env=env, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    (exp_dir,) = list((tmp_path / "home").iterdir())
    view = open_experiment(exp_dir)
    try:
        trials = view.trials()
        assert len(trials) == 3
        for t in trials:
            assert t.status.name == "SUCCEEDED", (t.status, t.reason)
            assert len(t.intermediate) == 1 and 0.0 < t.value <= 1.0
            assert {"test_acc", "params", "macs", "score"} <= set(t.metrics)
            assert set(t.params) == {
                f"normal_n{k}_{w}{j}" for k in range(3) for w in ("in", "op") for j in (0, 1)
            }
    finally:
        view.close()
