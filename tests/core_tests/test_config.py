"""Unit tests of experiment configs: fields, durations, paths, algorithms and every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyperloom.config import Config, parse_duration
from hyperloom.errors import ConfigError, SearchSpaceError, UsageError

SPACE = {"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}


def _write(tmp_path: Path, cfg: dict[str, Any] | str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _err(raw: Any, base: Path) -> str:
    with pytest.raises(ConfigError) as e:
        Config.from_dict(raw, base_dir=base)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# -------------------------------------------------------------------------------------------------
# fields


def test_minimal_config_defaults(tmp_path: Path) -> None:
    cfg = Config.from_dict({"trialCommand": "python t.py", "searchSpace": SPACE}, base_dir=tmp_path)
    assert cfg.trial_code_directory == tmp_path and cfg.trial_concurrency == 1
    assert cfg.max_trial_number is None and cfg.max_experiment_duration is None
    assert cfg.tuner.name == "auto" and cfg.assessor is None and cfg.channel == "file"
    assert cfg.training_service.platform == "local" and cfg.mode == "maximize"
    assert cfg.search_space.to_nni() == SPACE


def test_every_nni_v2_field(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    path = _write(tmp_path, {
        "experimentName": "mnist",
        "searchSpaceFile": "space.json",
        "trialCommand": "python3 mnist.py --epochs 3",
        "trialCodeDirectory": "src",
        "trialConcurrency": 4,
        "maxTrialNumber": 50,
        "maxExperimentDuration": "2d",
        "maxTrialDuration": "30m",
        "trialGpuNumber": 0,
        "tuner": {"name": "tpe", "classArgs": {"mode": "minimize"}},
        "assessor": {"name": "median_stop", "classArgs": {"start_step": 3}},
        "trainingService": {"platform": "local", "useActiveGpu": False, "maxTrialNumberPerGpu": 2,
                            "gpuIndices": [0, 2]},
        "experimentWorkingDirectory": "exps",
        "seed": 7,
        "channel": "socket",
    })  # fmt: skip
    cfg = Config.load(path)
    assert cfg.experiment_name == "mnist" and cfg.search_space.to_nni() == SPACE
    assert cfg.trial_command == "python3 mnist.py --epochs 3"
    assert cfg.trial_code_directory == tmp_path / "src"  # relative to the config file
    assert cfg.experiment_working_directory == tmp_path / "exps"
    assert (cfg.trial_concurrency, cfg.max_trial_number) == (4, 50)
    assert (cfg.max_experiment_duration, cfg.max_trial_duration) == (2 * 86400, 1800)
    assert cfg.trial_gpu_number == 0 and cfg.seed == 7 and cfg.channel == "tcp"
    assert cfg.tuner.name == "tpe" and cfg.mode == "minimize"
    assert cfg.assessor is not None and cfg.assessor.class_args == {"start_step": 3}
    ts = cfg.training_service
    assert (ts.use_active_gpu, ts.max_trial_number_per_gpu, ts.gpu_indices) == (False, 2, (0, 2))
    assert cfg.source == path.resolve()
    again = Config.from_dict(
        cfg.to_dict(), base_dir=tmp_path / "elsewhere"
    )  # config.yaml round trip
    assert again.to_dict() == cfg.to_dict()


def test_paths_are_relative_to_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    (conf / "code").mkdir(parents=True)
    (conf / "s.yml").write_text("x: {_type: uniform, _value: [0, 1]}\n")
    path = _write(conf, {"trialCommand": "t", "searchSpaceFile": "s.yml", "trialCodeDirectory": "code",
                         "experimentWorkingDirectory": "../out",
                         "tuner": {"className": "my_tuner.MyTuner", "codeDirectory": "code"}})  # fmt: skip
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = Config.load(Path(os.path.relpath(path, elsewhere)))
    assert cfg.trial_code_directory == conf / "code"
    assert cfg.experiment_working_directory == tmp_path / "out"
    assert cfg.tuner.code_directory == conf / "code"
    assert cfg.search_space.to_nni() == {"x": {"_type": "uniform", "_value": [0, 1]}}


def test_experiment_working_directory_expands_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = Config.from_dict({"trialCommand": "t", "searchSpace": SPACE, "experimentWorkingDirectory": "~/exps"},
                           base_dir=tmp_path)  # fmt: skip
    assert cfg.experiment_working_directory == tmp_path / "exps"


def test_class_name_and_code_directory(tmp_path: Path) -> None:
    (tmp_path / "algos").mkdir()
    raw = {
        "trialCommand": "t",
        "searchSpace": SPACE,
        "tuner": {
            "className": "pkg.tuners.MyTuner",
            "codeDirectory": "algos",
            "classArgs": {"k": 1},
        },
        "assessor": {"className": "my_assessor:Stopper", "codeDirectory": str(tmp_path / "algos")},
    }
    cfg = Config.from_dict(raw, base_dir=tmp_path)
    assert cfg.tuner.name == "pkg.tuners:MyTuner"  # NNI's module.Class becomes module:Class
    assert cfg.tuner.code_directory == tmp_path / "algos" and cfg.tuner.class_args == {"k": 1}
    assert cfg.assessor is not None and cfg.assessor.name == "my_assessor:Stopper"
    assert cfg.tuner.to_dict()["codeDirectory"] == str(tmp_path / "algos")
    # an algorithm given as a bare string is its name
    assert (
        Config.from_dict(
            {"trialCommand": "t", "searchSpace": SPACE, "tuner": "grid"}, base_dir=tmp_path
        ).tuner.name
        == "grid"
    )


@pytest.mark.parametrize(
    ("algo", "expect"),
    [
        ({"className": "Solo"}, "tuner.className must look like 'module.Class', got 'Solo'"),
        ({"name": "tpe", "className": "a.B"}, "both 'name' and 'className'"),
        ({"classArgs": {}}, "tuner needs a 'name' (or 'className')"),
        ({"name": "tpe", "classArgs": [1]}, "tuner.classArgs must be a mapping, got [1]"),
        ({"name": "tpe", "codeDirectory": 3}, "tuner.codeDirectory must be a path, got 3"),
        (
            {"name": "tpe", "clasArgs": {}},
            "unknown key 'tuner.clasArgs'. Did you mean 'classArgs'?",
        ),
        (
            {"name": "tpe", "classArgs": {"mode": "up"}},
            "tuner.classArgs.mode: mode must be 'maximize' or 'minimize', got 'up'",
        ),
        (5, "tuner must be a mapping with a name and classArgs, got 5"),
    ],
)
def test_algorithm_errors(tmp_path: Path, algo: Any, expect: str) -> None:
    assert expect in _err({"trialCommand": "t", "searchSpace": SPACE, "tuner": algo}, tmp_path)


# -------------------------------------------------------------------------------------------------
# durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1.5h", 5400), ("10 min", 600),
     ("5sec", 5), ("45", 45), (45, 45), (0.5, 0.5), ("2H", 7200)],
)  # fmt: skip
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "0s",
        "-1h",
        "1w",
        "",
        "h",
        "1 hour",
        True,
        0,
        -3,
        float("nan"),
        float("inf"),
        10**400,
        None,
        [1],
    ],
    ids=repr,
)
def test_bad_durations_are_config_errors(tmp_path: Path, bad: Any) -> None:
    if bad is None:
        # unset
        cfg = Config.from_dict(
            {"trialCommand": "t", "searchSpace": SPACE, "maxTrialDuration": None}, base_dir=tmp_path
        )
        assert cfg.max_trial_duration is None
        return
    msg = _err({"trialCommand": "t", "searchSpace": SPACE, "maxTrialDuration": bad}, tmp_path)
    assert "maxTrialDuration must be a duration" in msg and repr(bad)[:20] in msg


# -------------------------------------------------------------------------------------------------
# unknown keys and wrong types


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        ({"trialConcurency": 2}, "unknown key 'trialConcurency'. Did you mean 'trialConcurrency'?"),
        ({"maxTrialNum": 2}, "Did you mean 'maxTrialNumber'?"),
        ({"searchspace": {}}, "Did you mean 'searchSpace'?"),
        ({"zzzz": 1}, "unknown key 'zzzz'. Valid keys: "),
        ({"trainingService": {"platform": "local", "useActiveGPU": True}},
         "unknown key 'trainingService.useActiveGPU'. Did you mean 'useActiveGpu'?"),
        ({"assessor": {"name": "median_stop", "clsArgs": {}}}, "unknown key 'assessor.clsArgs'"),
    ],
)  # fmt: skip
def test_unknown_keys_suggest_the_closest(
    tmp_path: Path, extra: dict[str, Any], expect: str
) -> None:
    assert expect in _err({"trialCommand": "t", "searchSpace": SPACE, **extra}, tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("trialConcurrency", "2", "trialConcurrency must be a positive integer, got '2'"),
        ("trialConcurrency", 0, "trialConcurrency must be a positive integer, got 0"),
        ("maxTrialNumber", True, "maxTrialNumber must be a positive integer, got True"),
        ("maxTrialNumber", 2.5, "got 2.5"),
        ("trialGpuNumber", -1, "trialGpuNumber must be a non-negative integer, got -1"),
        ("trialCommand", None, "missing trialCommand"),
        ("trialCommand", "  ", "trialCommand must be a non-empty string, got '  '"),
        ("trialCommand", ["python", "t.py"], "trialCommand must be a non-empty string, got ['python', 't.py']"),
        ("experimentName", 5, "experimentName must be a string, got 5"),
        ("channel", "pipe", "channel must be \"file\", \"socket\" (tcp), \"tcp\" or \"unix\", got 'pipe'"),
        ("seed", "7", "seed must be an integer, got '7'"),
        ("trainingService", {"useActiveGpu": "yes"}, "trainingService.useActiveGpu must be true or false, got 'yes'"),
        ("trainingService", {"maxTrialNumberPerGpu": 0}, "trainingService.maxTrialNumberPerGpu must be a positive integer, got 0"),
        ("trainingService", {"gpuIndices": "0,a"}, "trainingService.gpuIndices must be a list of GPU indices, got '0,a'"),
        ("trainingService", [{}, {}], "only one training service"),
        ("trainingService", "local", "trainingService must be a mapping, got 'local'"),
        ("trialCodeDirectory", "nope", "trialCodeDirectory"),
        ("trialCodeDirectory", 3, "trialCodeDirectory must be a string, got 3"),
        ("searchSpaceFile", "missing.json", "searchSpaceFile"),
        ("searchSpaceFile", 3, "searchSpaceFile must be a path, got 3"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_key_and_value(
    tmp_path: Path, key: str, value: Any, expect: str
) -> None:
    raw = {"trialCommand": "t", "searchSpace": SPACE, key: value}
    if key == "searchSpaceFile":
        del raw["searchSpace"]
    msg = _err(raw, tmp_path)
    assert expect in msg, msg


def test_search_space_errors_name_the_parameter(tmp_path: Path) -> None:
    msg = _err(
        {"trialCommand": "t", "searchSpace": {"lr": {"_type": "uniform", "_value": [1, 0]}}},
        tmp_path,
    )
    assert "searchSpace" in msg and "'lr'" in msg and "low=1" in msg
    assert "missing searchSpace" in _err({"trialCommand": "t"}, tmp_path)
    assert "missing trialCommand" in _err({"searchSpace": SPACE}, tmp_path)
    (tmp_path / "s.json").write_text(json.dumps(SPACE))
    assert "not both" in _err(
        {"trialCommand": "t", "searchSpace": SPACE, "searchSpaceFile": "s.json"}, tmp_path
    )
    (tmp_path / "bad.json").write_text('{"x": {"_type": "randint", "_value": [3, 3]}}')
    msg = _err({"trialCommand": "t", "searchSpaceFile": "bad.json"}, tmp_path)
    assert "bad.json" in msg and "'x'" in msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trialCodeDirectory", "a\x00b"),
        ("experimentWorkingDirectory", "a\x00b"),
        ("experimentWorkingDirectory", "~no_such_user_hl/exps"),
        ("tuner", {"className": "m.C", "codeDirectory": "x\x00"}),
    ],
)
def test_impossible_paths_are_config_errors(tmp_path: Path, key: str, value: Any) -> None:
    msg = _err({"trialCommand": "t", "searchSpace": SPACE, key: value}, tmp_path)
    assert key in msg


@pytest.mark.parametrize("raw", [None, [], "text", 5])
def test_not_a_mapping(tmp_path: Path, raw: Any) -> None:
    msg = _err(raw, tmp_path)
    assert "empty" in msg or "mapping" in msg


# -------------------------------------------------------------------------------------------------
# files


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "does not exist"),
        ("trialCommand: [unclosed\n", "malformed YAML at line"),
        ("a: b\n c: d\n", "malformed YAML at line 2"),
        ("", "empty"),
        ("- 1\n- 2\n", "mapping"),
        (b"trialCommand: \xe9t\xe9\n", "UTF-8"),
        ("[" * 3000, "nested too deeply"),
    ],
    ids=["missing", "unclosed", "indent", "empty", "list", "latin1", "deep"],
)
def test_load_errors_name_the_file(
    tmp_path: Path, content: str | bytes | None, expect: str
) -> None:
    path = tmp_path / "exp.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ConfigError) as e:
        Config.load(path)
    assert expect in str(e.value) and "exp.yml" in str(e.value), str(e.value)
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_errors_are_usage_errors() -> None:
    assert issubclass(ConfigError, UsageError) and issubclass(SearchSpaceError, UsageError)


def test_cli_bad_config_exits_2_with_one_message_and_writes_nothing(
    tmp_path: Path, hl_home: Path
) -> None:
    path = _write(tmp_path, {"trialCommand": "t", "searchSpace": SPACE, "trialConcurency": 2})
    exe = Path(sys.executable).with_name("hyperloom")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hyperloom.cli"]
    proc = subprocess.run(
        [*cmd, "run", str(path), "--no-dashboard"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc
    out = proc.stdout + proc.stderr
    assert "Did you mean 'trialConcurrency'?" in out and "Traceback" not in out
    assert not hl_home.exists() or not any(hl_home.iterdir())


def test_exponent_numbers_without_a_dot_are_numbers_as_in_yaml_1_2(tmp_path: Path) -> None:
    # PyYAML follows YAML 1.1, where 1e-5 is a string; NNI configs write it so
    path = tmp_path / "config.yml"
    path.write_text(
        "trialCommand: python t.py\n"
        "searchSpace:\n"
        "  lr: {_type: loguniform, _value: [1e-5, 1e-1]}\n"
        "  n: {_type: choice, _value: [1E+3, 2e3, 7, '1e-5']}\n"
    )
    space = Config.load(path).search_space.to_nni()
    assert space["lr"]["_value"] == [1e-5, 0.1]
    assert space["n"]["_value"] == [1000.0, 2000.0, 7, "1e-5"]  # quoted stays a string
