"""NNI's customized-tuner pattern: a ``className`` is an NNI class by what it is (its bases).

The user's classes live in a package whose ``__init__.py`` only re-exports them (the file the
config names never mentions nni), exactly as NNI's docs lay out a customized tuner. The end-to-end
runs go through the real config path (``Experiment.from_config`` -> translation -> manager) in a
subprocess: once with a stand-in ``nni`` package (module ``nni.tuner``, class ``Tuner``; no nni
install needed) and once with the real nni 3.0 when its venv exists (``@pytest.mark.nni``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from compat_helpers import trial_env
from hyperloom.config import Config
from hyperloom.nni_config import translate

# A stand-in for nni with only what the adapters touch: nni.tuner.Tuner, nni.assessor.Assessor,
# nni.NoMoreTrialError. Detection must work by module and class name, whichever copy of nni.
FAKE_NNI = {
    "nni/__init__.py": """
        class NoMoreTrialError(Exception):
            pass
    """,
    "nni/recoverable.py": """
        class Recoverable:
            def load_checkpoint(self):
                pass
    """,
    "nni/tuner.py": """
        from .recoverable import Recoverable

        class Tuner(Recoverable):
            def trial_end(self, parameter_id, success, **kwargs):
                pass

            def import_data(self, data):
                pass
    """,
    "nni/assessor.py": """
        from .recoverable import Recoverable

        class Assessor(Recoverable):
            def trial_end(self, trial_job_id, success):
                pass
    """,
}

# The user's package: __init__ re-exports; the classes sit one module (and one subclass) deeper.
PACKAGE = {
    "myalgos/__init__.py": """
        from .search import FixedTuner
        from .stop import LowStopper

        __all__ = ["FixedTuner", "LowStopper"]
    """,
    "myalgos/_base.py": """
        import json
        import os

        from nni.tuner import Tuner

        LOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seen.jsonl")


        def note(*item):
            with open(LOG, "a") as f:
                f.write(json.dumps(item) + "\\n")


        class ListTuner(Tuner):
            def __init__(self, values, optimize_mode="maximize"):
                note("mode", str(optimize_mode))
                self.values = list(values)

            def update_search_space(self, search_space):
                note("space", sorted(search_space))
    """,
    "myalgos/search.py": """
        import nni

        from ._base import ListTuner, note


        class FixedTuner(ListTuner):
            def generate_parameters(self, parameter_id, **kwargs):
                if parameter_id >= len(self.values):
                    raise nni.NoMoreTrialError()
                return {"x": self.values[parameter_id]}

            def receive_trial_result(self, parameter_id, parameters, value, **kwargs):
                note("result", parameter_id, value)
    """,
    "myalgos/stop.py": """
        from nni.assessor import Assessor

        from ._base import note


        class LowStopper(Assessor):
            def __init__(self, below=0.5):
                self.below = below

            def assess_trial(self, trial_job_id, trial_history):
                if len(trial_history) >= 2 and trial_history[-1] < self.below:
                    note("stop", trial_job_id, len(trial_history))
                    return False
                return True
    """,
}

TRIAL = """
    import time

    from hyperloom import trials

    p = trials.get_params()
    for step in range(12):
        trials.report(p["x"], step=step)
        if trials.should_stop():
            raise SystemExit(0)
        time.sleep(0.15)
    trials.report_final(p["x"])
"""

RUN = (
    "import json; from hyperloom.experiment import Experiment; "
    "recs = Experiment.from_config('config.yml').run(dashboard=False); "
    "print(json.dumps([[r.params, r.status.value, r.value] for r in recs]))"
)

VALUES = [0.1, 0.9, 0.2, 0.8]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def _project(tmp_path: Path, tuner_args: dict[str, object]) -> Path:
    d = tmp_path / "proj"
    _write(d / "algos", PACKAGE)
    _write(d, {"trial.py": TRIAL})
    config = {
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "trialCommand": f"{sys.executable} trial.py",
        "trialConcurrency": 1,
        "maxTrialNumber": len(VALUES),
        "tuner": {
            "className": "myalgos.FixedTuner",
            "codeDirectory": "algos",
            "classArgs": {"values": VALUES, **tuner_args},
        },
        "assessor": {
            "className": "myalgos.LowStopper",
            "codeDirectory": "algos",
            "classArgs": {"below": 0.5},
        },
    }
    (d / "config.yml").write_text(yaml.safe_dump(config))
    return d


def _run(python: str, project: Path, extra_path: Path | None = None) -> list[list[object]]:
    env = {k: v for k, v in trial_env(project).items() if not k.startswith("HYPERLOOM_TRIAL")}
    env["HYPERLOOM_HOME"] = str(project / "home")
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    r = subprocess.run(
        [python, "-c", RUN], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows: list[list[object]] = json.loads(r.stdout.strip().splitlines()[-1])
    return rows


def _check(project: Path, rows: list[list[object]], mode: str) -> None:
    # the user's tuner chose every trial, in its order; its assessor stopped the low ones
    assert [row[0] for row in rows] == [{"x": v} for v in VALUES]
    assert [row[1] for row in rows] == ["EARLY_STOPPED", "SUCCEEDED", "EARLY_STOPPED", "SUCCEEDED"]
    seen = [
        json.loads(line)
        for line in (project / "algos" / "seen.jsonl").read_text().split("\n")
        if line
    ]
    assert ["mode", mode] in seen and ["space", ["x"]] in seen
    assert [s[1:] for s in seen if s[0] == "result"] == [[i, v] for i, v in enumerate(VALUES)]
    assert sorted(s[2] for s in seen if s[0] == "stop") == [2, 2]


def test_reexported_nni_subclasses_run_through_the_config_path(tmp_path: Path) -> None:
    """A hyperloom-style config (``mode``, no NNI keys) naming NNI classes by ``className``."""
    fake = tmp_path / "fake_nni"
    _write(fake, FAKE_NNI)
    project = _project(tmp_path, {"mode": "minimize"})
    rows = _run(sys.executable, project, extra_path=fake)
    _check(project, rows, "minimize")


@pytest.mark.nni
def test_reexported_nni_subclasses_with_the_real_nni(
    nni_python_with_hyperloom: str, tmp_path: Path
) -> None:
    """The same package against nni 3.0, in NNI's own spelling (``optimize_mode``)."""
    project = _project(tmp_path, {"optimize_mode": "maximize"})
    rows = _run(nni_python_with_hyperloom, project)
    _check(project, rows, "maximize")


# ---- translation only (in-process) ----------------------------------------------------------


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """A folder for user packages, with a unique package name per test; cleaned from sys.modules."""
    before = set(sys.modules)
    d = tmp_path / "code"
    d.mkdir()
    yield d
    for name in set(sys.modules) - before:
        mod = sys.modules.get(name)
        if mod is not None and str(getattr(mod, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _tuner_section(code: Path, class_name: str, **args: object) -> dict[str, object]:
    return {"className": class_name, "codeDirectory": str(code), "classArgs": dict(args)}


def _raw(**kw: object) -> dict[str, object]:
    return {
        "trialCommand": "python3 main.py",
        "trialConcurrency": 1,
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        **kw,
    }


@pytest.mark.skipif(importlib.util.find_spec("nni") is not None, reason="nni is installed here")
def test_without_nni_a_reexported_nni_class_is_sent_to_the_adapter(code_dir: Path) -> None:
    _write(code_dir, {
        "pkg_a/__init__.py": "from .impl import Mine\n",
        "pkg_a/impl.py": "from nni.tuner import Tuner\n\nclass Mine(Tuner):\n    pass\n",
    })  # fmt: skip
    out, warnings = translate(
        _raw(tuner=_tuner_section(code_dir, "pkg_a.Mine", mode="minimize")), None
    )
    assert out["tuner"] == {
        "name": "nni",
        "codeDirectory": str(code_dir),
        "classArgs": {"class_name": "pkg_a.Mine", "class_args": {}, "mode": "minimize"},
    }
    assert "nniCompat" not in out  # a hyperloom config stays one: only the section changed
    assert warnings == [
        "tuner pkg_a.Mine is an NNI class: run through the NNI adapter (needs hyperloom[nni])"
    ]
    cfg = Config.from_dict(out, base_dir=code_dir)
    assert cfg.mode == "minimize" and cfg.tuner.code_directory == code_dir
    # building it names the missing package, not an argument the class does not take
    from hyperloom import registry
    from hyperloom.errors import PluginError

    with pytest.raises(PluginError, match="optional package 'nni'"):
        registry.load_tuner(
            cfg.tuner.name, cfg.search_space, code_directory=cfg.tuner.code_directory,
            **{**cfg.tuner.class_args, "mode": cfg.mode},
        )  # fmt: skip


def test_native_classes_stay_native_whatever_their_source_mentions(code_dir: Path) -> None:
    _write(code_dir, {
        "pkg_b/__init__.py": "from .impl import Ours, Duck\n",
        "pkg_b/impl.py": (
            "try:\n    import nni  # noqa\nexcept ImportError:\n    pass\n"
            "from hyperloom.tuners import Tuner\n\n"
            "class Ours(Tuner):\n    '''uses nni.tuner.Tuner ideas'''\n\n"
            "class Duck:\n    def __init__(self, space, mode='maximize'):\n        pass\n"
        ),
    })  # fmt: skip
    for name in ("pkg_b.Ours", "pkg_b:Duck"):
        raw = _raw(tuner=_tuner_section(code_dir, name))
        out, warnings = translate(raw, None)
        assert out["tuner"] == raw["tuner"] and warnings == [], name


def test_a_class_that_fails_to_import_for_another_reason_is_left_alone(code_dir: Path) -> None:
    _write(code_dir, {"pkg_c/__init__.py": "import not_a_module_anywhere\n"})
    raw = _raw(tuner=_tuner_section(code_dir, "pkg_c.Mine"), logLevel="debug")  # an NNI config
    out, _ = translate(raw, None)
    assert out["tuner"] == raw["tuner"]
    assert str(code_dir) not in sys.path  # the code directory was on sys.path for the import only


def test_nni_subclass_detected_by_its_bases_with_a_stand_in_nni(
    code_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake_nni"
    _write(fake, FAKE_NNI)
    monkeypatch.syspath_prepend(str(fake))
    for mod in [m for m in sys.modules if m == "nni" or m.startswith("nni.")]:
        monkeypatch.delitem(sys.modules, mod)
    _write(code_dir, {
        "pkg_d/__init__.py": "from .deep import Judge\n",
        "pkg_d/deep.py": (
            "from nni.assessor import Assessor\n\n"
            "class Base(Assessor):\n    pass\n\n"
            "class Judge(Base):\n    def __init__(self, optimize_mode='maximize'):\n        pass\n"
        ),
    })  # fmt: skip
    raw = _raw(assessor={"className": "pkg_d.Judge", "codeDirectory": str(code_dir)})
    out, _ = translate(raw, None)
    assert out["assessor"] == {
        "name": "nni",
        "codeDirectory": str(code_dir),
        "classArgs": {"class_name": "pkg_d.Judge", "class_args": {}},
    }
    for mod in [m for m in sys.modules if m == "nni" or m.startswith("nni.")]:
        del sys.modules[mod]  # the stand-in must not outlive this test
