"""The light nni shim: unmodified NNI trials without nni, from an interpreter without hyperloom."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from compat_helpers import TRIALS, read_messages, trial_env

TRIAL = """
import json
import nni
from nni.utils import merge_parameter

params = nni.get_next_parameter()
assert nni.get_next_parameter() is None
print("PARAMS", json.dumps(params))
print("IDS", nni.get_trial_id(), nni.get_experiment_id(), nni.get_sequence_id())
print("CURRENT", nni.get_current_parameter("lr"))
print("MERGED", json.dumps(merge_parameter({"lr": 1.0, "layers": 2, "name": "x"}, params)))
nni.report_intermediate_result(0.25)
nni.report_intermediate_result({"default": 0.5, "loss": 2.0, "value": 7})
nni.report_final_result({"default": 0.75, "note": "ok"})
"""


def _run(
    python: str, trial_dir: Path, tmp_path: Path, script: str = TRIAL, **env_kw: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "trial.py").write_text(textwrap.dedent(script))
    (trial_dir / "params.json").write_text('{"lr": 0.01, "layers": 3}')
    env = trial_env(trial_dir, nni=True, shim=True, seq=4)
    env.update(env_kw)
    return subprocess.run(
        [python, "trial.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("which", ["ours", "foreign"])
def test_unmodified_trial_runs_on_the_shim(
    which: str, foreign_python: str, trial_dir: Path, tmp_path: Path
) -> None:
    python = sys.executable if which == "ours" else foreign_python
    r = _run(python, trial_dir, tmp_path, HYPERLOOM_NNI_SHIM="force")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == 'PARAMS {"lr": 0.01, "layers": 3}'
    assert out[1] == "IDS t1 e1 4"
    assert out[2] == "CURRENT 0.01"
    assert out[3] == 'MERGED {"lr": 0.01, "layers": 3, "name": "x"}'
    msgs = read_messages(trial_dir)
    assert [(m["type"], m.get("step"), m["value"]) for m in msgs] == [
        ("metric", 0, 0.25),
        ("metric", 1, 0.5),
        ("final", None, 0.75),
    ]
    assert msgs[1]["metrics"] == {"loss": 2.0, "metric_value": 7}
    assert msgs[2]["metrics"] == {"note": "ok"}


def test_dict_metric_without_default_is_refused(trial_dir: Path, tmp_path: Path) -> None:
    script = "import nni\nnni.get_next_parameter()\nnni.report_final_result({'acc': 0.5})\n"
    r = _run(sys.executable, trial_dir, tmp_path, script, HYPERLOOM_NNI_SHIM="force")
    assert r.returncode != 0
    assert "needs a 'default' key" in r.stderr
    assert read_messages(trial_dir) == []


def test_shim_never_shadows_a_real_nni(trial_dir: Path, tmp_path: Path) -> None:
    real = tmp_path / "site" / "nni"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\nfrom . import sub\n")
    (real / "sub.py").write_text("X = 1\n")
    script = "import nni, nni.sub\nprint(getattr(nni, 'REAL', False), nni.sub.X, nni.__file__)\n"
    env = trial_env(trial_dir, nni=True, shim=True)
    env["PYTHONPATH"] += ":" + str(tmp_path / "site")
    (tmp_path / "t.py").write_text(script)
    r = subprocess.run(
        [sys.executable, "t.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["True", "1"]
    assert r.stdout.split()[2] == str(real / "__init__.py")
    assert str(TRIALS) not in r.stdout
