"""NNI's PBTTuner through the adapter runs generation after generation ("not now" is not "done")."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from compat_helpers import trial_env

pytestmark = pytest.mark.nni

DRIVE = """
import json, sys
from hyperloom.space import SearchSpace
from hyperloom.plugins.nni import NNITuner
from hyperloom.types import FINISHED, TrialResult, TrialStatus

space = SearchSpace.from_nni({"lr": {"_type": "loguniform", "_value": [1e-3, 1.0]}})
out = {}
for concurrency in (2, 4, 6):
    t = NNITuner(space, mode="maximize", builtin="PBT",
                 class_args={"all_checkpoint_dir": sys.argv[1], "population_size": 4})
    running, n, log, nones = [], 0, [], 0
    while n < 16:
        while len(running) < concurrency and n < 16:
            got = t.suggest(f"T{n}")
            if got is None:
                nones += 1
                break
            assert got is not FINISHED, ("finished early", n)
            running.append((f"T{n}", got))
            log.append(got["load_checkpoint_dir"].rsplit("/", 1)[-1])
            n += 1
        assert running, ("nothing running and nothing suggested", n)
        tid, p = running.pop(0)
        t.observe(TrialResult(tid, p, TrialStatus.SUCCEEDED, p["lr"]))
    out[concurrency] = {"epochs": log, "nones": nones}
print(json.dumps(out))
"""


def test_nni_pbt_tuner_goes_past_the_generation_boundary(
    nni_python_with_hyperloom: str, tmp_path: Path
) -> None:
    (tmp_path / "drive.py").write_text(DRIVE)
    r = subprocess.run(
        [nni_python_with_hyperloom, "drive.py", str(tmp_path / "ckpt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for conc, got in out.items():
        # 16 trials = 4 generations of 4; each generation loads the previous epoch's checkpoints
        assert got["epochs"] == ["0"] * 4 + ["0"] * 4 + ["1"] * 4 + ["2"] * 4, (conc, got)
        if int(conc) > 4:
            assert got["nones"] >= 3  # "not now" at each boundary, never "finished"


TRIAL = """
import json, os
from pathlib import Path
import nni

p = nni.get_next_parameter()
load = Path(p["load_checkpoint_dir"]) / "state.json"
acc = json.loads(load.read_text())["acc"] if load.exists() else 0.0
for step in range(2):
    acc += p["lr"]
    nni.report_intermediate_result(acc)
save = Path(p["save_checkpoint_dir"])
save.mkdir(parents=True, exist_ok=True)
(save / "state.json").write_text(json.dumps({"acc": acc}))
nni.report_final_result(acc)
"""


def test_experiment_with_nni_pbt_runs_every_generation(
    nni_python_with_hyperloom: str, tmp_path: Path
) -> None:
    (tmp_path / "trial.py").write_text(textwrap.dedent(TRIAL))
    config = {
        "experimentName": "nni-pbt",
        "searchSpace": {"lr": {"_type": "uniform", "_value": [0.1, 1.0]}},
        "trialCommand": "python3 trial.py",
        "trialCodeDirectory": ".",
        "trialConcurrency": 3,
        "maxTrialNumber": 9,
        "tuner": {
            "name": "nni",
            "classArgs": {
                "builtin": "PBT",
                "mode": "maximize",
                "class_args": {
                    "all_checkpoint_dir": str(tmp_path / "ckpt"),
                    "population_size": 3,
                },
            },
        },
    }
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    code = (
        "import json; from hyperloom.experiment import Experiment; "
        "recs = Experiment.from_config('config.yml').run(dashboard=False); "
        "print(json.dumps([[r.status.value, r.value] for r in recs]))"
    )
    env = {k: v for k, v in trial_env(tmp_path).items() if not k.startswith("HYPERLOOM_TRIAL")}
    env["HYPERLOOM_HOME"] = str(tmp_path / "home")
    r = subprocess.run(
        [nni_python_with_hyperloom, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(rows) == 9, rows  # three generations, not just the first
    assert all(status == "SUCCEEDED" for status, _ in rows), rows
    # later generations continue from the saved checkpoints: accuracy keeps growing
    values = [v for _, v in rows]
    assert max(values[6:]) > max(values[:3])
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["0", "1", "2"]
