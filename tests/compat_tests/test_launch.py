"""Trial launch: template quoting (run through a real shell), paramsAs, NNI variables, wrapping."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom.config import Config
from hyperloom.errors import ConfigError
from hyperloom.launch import NNI_CHANNEL, prepare_launch, render_command
from hypothesis import given, settings
from hypothesis import strategies as st

ECHO = f"{shlex.quote(sys.executable)} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
HOSTILE = [
    "a b",
    "'; touch PWNED; '",
    '"; touch PWNED; "',
    "$(touch PWNED)",
    "`touch PWNED`",
    "back\\slash\\",
    "new\nline",
    "{x}",
    "$HOME ${HOME}",
    "",
]


def _sh(command: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run(
        ["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("value", HOSTILE)
def test_values_reach_the_script_intact_in_every_quoting_context(
    value: str, tmp_path: Path
) -> None:
    template = ECHO + " {x} '{x}' \"{x}\" pre-{x}-post '--opt={x}' \"a {x} b\""
    argv = _sh(render_command(template, {"x": value}), tmp_path)
    assert argv == [value, value, value, f"pre-{value}-post", f"--opt={value}", f"a {value} b"]
    assert not (tmp_path / "PWNED").exists()


def test_unknown_placeholders_and_shell_expansions_are_left_alone(tmp_path: Path) -> None:
    cmd = render_command(ECHO + " {x} {other} ${x} \\{x}", {"x": "1"})
    assert cmd.endswith(" 1 {other} ${x} \\{x}")
    env = {**os.environ, "x": "from-env"}
    assert _sh(cmd, tmp_path, env) == ["1", "{other}", "from-env", "{x}"]


def _config(tmp_path: Path, command: str, **extra: Any) -> Config:
    raw = {
        "trialCommand": command,
        "trialCodeDirectory": str(tmp_path),
        "searchSpace": {"lr": {"_type": "uniform", "_value": [0, 1]}},
        **extra,
    }
    return Config.from_dict(raw, base_dir=tmp_path)


def _launch(cfg: Config, tmp_path: Path, params: dict[str, Any]) -> tuple[str, dict[str, str]]:
    trial_dir = tmp_path / "trials" / "t1"
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "params.json").write_text(json.dumps(params))
    return prepare_launch(
        cfg, params=params, trial_id="t1", trial_dir=trial_dir, experiment_id="e1", sequence=7
    )


def test_templates_and_builtin_placeholders(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path, ECHO + " {lr} {params_json} {trial_id} {experiment_id} {sequence} {trial_dir}"
    )
    params = {"lr": 0.001, "opt": "it's", "nested": {"_name": "cnn", "k": 3}}
    command, env = _launch(cfg, tmp_path, params)
    argv = _sh(command, tmp_path)
    assert argv[0] == "0.001"
    assert json.loads(argv[1]) == params
    assert argv[2:5] == ["t1", "e1", "7"]
    assert argv[5] == str(tmp_path / "trials" / "t1")
    assert env["HYPERLOOM_PARAMS_FILE"] == str(tmp_path / "trials" / "t1" / "params.json")


def test_params_as_args_adds_flags_for_untemplated_params(tmp_path: Path) -> None:
    cfg = _config(tmp_path, ECHO + " --lr {lr}", paramsAs="args")
    command, _ = _launch(cfg, tmp_path, {"lr": 0.5, "layers": 3, "act": "re lu", "use_bn": True})
    assert _sh(command, tmp_path) == [
        "--lr",
        "0.5",
        "--layers",
        "3",
        "--act",
        "re lu",
        "--use_bn",
        "true",
    ]
    cfg = _config(tmp_path, ECHO, paramsAs={"args": {"prefix": "-", "separator": "="}})
    command, _ = _launch(cfg, tmp_path, {"lr": 0.5, "act": "x y"})
    assert _sh(command, tmp_path) == ["-lr=0.5", "-act=x y"]


def test_params_as_env_and_file(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        "true",
        paramsAs={"env": True, "file": {"path": "conf/params.yaml", "format": "yaml"}},
    )
    _, env = _launch(cfg, tmp_path, {"lr": 0.25, "model-name": "resnet"})
    assert env["HYPERLOOM_PARAM_LR"] == "0.25"
    assert env["HYPERLOOM_PARAM_MODEL_NAME"] == "resnet"
    assert json.loads(env["HYPERLOOM_PARAMS"]) == {"lr": 0.25, "model-name": "resnet"}
    path = Path(env["HYPERLOOM_PARAMS_FILE"])
    assert path == tmp_path / "trials" / "t1" / "conf" / "params.yaml"
    import yaml

    assert yaml.safe_load(path.read_text()) == {"lr": 0.25, "model-name": "resnet"}


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("paramsAs", "argv", "paramsAs must be"),
        ("paramsAs", {"file": {"path": "/etc/x"}}, "relative path"),
        ("nniCompat", "yes", "nniCompat must be"),
        ("metricCapture", {"regex": "acc=([\\d.]+)"}, "(?P<value>"),
        ("metricCapture", {"file": "m.csv"}, "objective"),
        ("metricCapture", {"objective": "acc", "colour": 1}, "unknown"),
    ],
)
def test_bad_compat_keys_are_config_errors(
    tmp_path: Path, key: str, value: Any, needle: str
) -> None:
    with pytest.raises(ConfigError) as e:
        _config(tmp_path, "true", **{key: value})
    assert needle in str(e.value)


def test_nni_variables_only_for_scripts_that_import_nni(tmp_path: Path) -> None:
    (tmp_path / "uses_nni.py").write_text("import os\nimport nni\n")
    (tmp_path / "plain.py").write_text("print('nni is just a word here')\n")
    _, env = _launch(_config(tmp_path, "python uses_nni.py --lr {lr}"), tmp_path, {"lr": 0.1})
    assert env["NNI_PLATFORM"] == "local" and env["REUSE_MODE"] == "true"
    assert env["NNI_TRIAL_COMMAND_CHANNEL"] == NNI_CHANNEL
    assert (
        env["NNI_EXP_ID"] == "e1"
        and env["NNI_TRIAL_JOB_ID"] == "t1"
        and env["NNI_TRIAL_SEQ_ID"] == "7"
    )
    assert env["NNI_SYS_DIR"] == env["NNI_OUTPUT_DIR"] == str(tmp_path / "trials" / "t1")
    assert "_nni_bridge" in env["PYTHONPATH"] and "_nni_shim" not in env["PYTHONPATH"]
    _, env = _launch(_config(tmp_path, "python plain.py"), tmp_path, {"lr": 0.1})
    assert "NNI_PLATFORM" not in env
    _, env = _launch(_config(tmp_path, "python plain.py", nniCompat=True), tmp_path, {"lr": 0.1})
    assert env["NNI_PLATFORM"] == "local"
    _, env = _launch(
        _config(tmp_path, "python uses_nni.py", nniCompat=False), tmp_path, {"lr": 0.1}
    )
    assert "NNI_PLATFORM" not in env
    _, env = _launch(_config(tmp_path, "python plain.py", nniCompat="shim"), tmp_path, {"lr": 0.1})
    assert env["PYTHONPATH"].split(os.pathsep)[1].endswith("_nni_shim")


def test_metric_capture_wraps_the_command(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        "python train.py --lr {lr}",
        metricCapture={"objective": "acc", "file": "{trial_dir}/m.csv", "stepKey": "epoch"},
    )
    command, _ = _launch(cfg, tmp_path, {"lr": 0.1})
    words = shlex.split(command)
    assert words[:3] == [sys.executable, "-m", "hyperloom.trials.wrap"]
    assert words[words.index("--file") + 1] == str(tmp_path / "trials" / "t1" / "m.csv")
    assert words[words.index("--") + 1 :] == ["/bin/sh", "-c", "python train.py --lr 0.1"]


@settings(max_examples=40, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    )
)
def test_any_text_survives_the_shell(value: str) -> None:
    template = "printf '%s\\0' {x} '{x}' \"{x}\" a{x}b"
    out = subprocess.run(
        ["/bin/sh", "-c", render_command(template, {"x": value})], capture_output=True, check=True
    )
    expected = [value, value, value, f"a{value}b"]
    assert out.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1] == expected
