"""Hardening of configs: duplicate YAML keys, alias bombs, the dashboard key, overflowing
durations, negative seeds, duplicate choice options, too deeply nested choices, and asha's
resource bounds; each is one ConfigError line (exit 2 from the CLI, no traceback)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyperloom.assessors.asha import ASHAAssessor
from hyperloom.config import MAX_ALIASES, Config
from hyperloom.errors import ConfigError, PluginError

SPACE = {"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}
GOOD = f"trialCommand: python t.py\nsearchSpace: {SPACE}\n"


def _load_err(tmp_path: Path, text: str) -> str:
    path = tmp_path / "exp.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        Config.load(path)
    msg = str(e.value)
    assert "\n" not in msg and "exp.yml" in msg, msg
    return msg


def _err(raw: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        Config.from_dict({"trialCommand": "t", "searchSpace": SPACE, **raw}, base_dir=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _cli(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "hyperloom", "run", str(path), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_good_config_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "exp.yml"
    path.write_text(GOOD, encoding="utf-8")
    assert Config.load(path).trial_command == "python t.py"


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path: Path) -> None:
    msg = _load_err(tmp_path, GOOD + "trialConcurrency: 2\nseed: 1\ntrialConcurrency: 8\n")
    assert "'trialConcurrency'" in msg and "lines 3 and 5" in msg, msg
    nested = "trialCommand: t\nsearchSpace:\n  lr: {_type: uniform, _value: [0, 1]}\n"
    msg = _load_err(tmp_path, nested + "  lr: {_type: uniform, _value: [0, 2]}\n")
    assert "'lr'" in msg and "lines 3 and 4" in msg, msg


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    start = time.monotonic()
    msg = _load_err(tmp_path, GOOD + "\n".join(lines) + "\n")
    assert time.monotonic() - start < 5
    assert "expands to more than" in msg, msg


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    text = GOOD + "x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    assert "aliases" in _load_err(tmp_path, text)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = "trialCommand: t\nsearchSpace:\n  a: &u {_type: uniform, _value: [0, 1]}\n  b: *u\n"
    path = tmp_path / "exp.yml"
    path.write_text(text, encoding="utf-8")
    assert len(Config.load(path).search_space) == 2


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ({"port": 70000}, "port"),
        ({"port": "80"}, "port"),
        ({"port": True}, "port"),
        ({"prot": 8080}, "prot"),
        ({"host": "0.0.0.0"}, "allowRemote"),
        ({"host": "example.org", "port": 80}, "allowRemote"),
        ({"enabled": "yes"}, "enabled"),
        ("on", "dashboard"),
    ],
)
def test_dashboard_is_validated(tmp_path: Path, value: Any, expect: str) -> None:
    msg = _err({"dashboard": value}, tmp_path)
    assert "dashboard" in msg and expect in msg, msg


@pytest.mark.parametrize(
    "value",
    [
        False,
        {"port": 0},
        {"host": "localhost", "port": 8080},
        {"host": "::1"},
        {"host": "0.0.0.0", "allowRemote": True, "port": 65535},
    ],
)
def test_good_dashboard_values(tmp_path: Path, value: Any) -> None:
    cfg = Config.from_dict(
        {"trialCommand": "t", "searchSpace": SPACE, "dashboard": value}, base_dir=tmp_path
    )
    assert cfg.extras["dashboard"] == value


@pytest.mark.parametrize("key", ["maxExperimentDuration", "maxTrialDuration", "stopGracePeriod"])
@pytest.mark.parametrize("value", ["9" * 400, "9" * 400 + "d", 10**400, 1e308 * 10])
def test_overflowing_durations_name_the_key(tmp_path: Path, key: str, value: Any) -> None:
    msg = _err({key: value}, tmp_path)
    assert key in msg and len(msg) < 400, msg


def test_negative_seed_names_key_and_value(tmp_path: Path) -> None:
    msg = _err({"seed": -5}, tmp_path)
    assert "seed" in msg and "-5" in msg, msg


@pytest.mark.parametrize("options", [[1, 1.0, True], ["a", "a"], [0.5, 0.5]])
def test_duplicate_choice_options_are_a_config_error(tmp_path: Path, options: Any) -> None:
    msg = _err({"searchSpace": {"c": {"_type": "choice", "_value": options}}}, tmp_path)
    assert "duplicate options" in msg and repr(options[0]) in msg, msg


def test_choices_nested_too_deeply_are_refused(tmp_path: Path) -> None:
    space: dict[str, Any] = {"leaf": {"_type": "uniform", "_value": [0, 1]}}
    for _ in range(40):
        space = {"n": {"_type": "choice", "_value": [{"_name": "o", **space}]}}
    msg = _err({"searchSpace": space}, tmp_path)
    assert "levels deep" in msg and "32" in msg, msg


def test_asha_min_resource_above_max_resource_is_refused() -> None:
    with pytest.raises(PluginError) as e:
        ASHAAssessor(min_resource=50, max_resource=10)
    assert "min_resource (50)" in str(e.value) and "max_resource (10)" in str(e.value)
    ASHAAssessor(min_resource=10, max_resource=10)  # equal: no rung, but not an error
    start = time.monotonic()
    with pytest.raises(PluginError, match="min_early_stopping_rate"):
        ASHAAssessor(min_early_stopping_rate=10**12)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (GOOD + "seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        (GOOD + "maxTrialDuration: " + "9" * 400 + "\n", "maxTrialDuration"),
        (GOOD + "dashboard: {host: 0.0.0.0}\n", "allowRemote"),
        (GOOD + "seed: -5\n", "seed"),
    ],
)
def test_cli_exits_2_with_one_line(tmp_path: Path, text: str, expect: str) -> None:
    proc = _cli(tmp_path, text)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert expect in out and "Traceback" not in out, out


def test_cli_refuses_an_alias_bomb_fast(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join(['*' + 'abcdefghi'[i]] * 9)}]")
    start = time.monotonic()
    proc = _cli(tmp_path, GOOD + "\n".join(lines) + "\n")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out, out
    assert time.monotonic() - start < 60


def test_yaml_safe_dump_round_trip_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "exp.yml"
    path.write_text(yaml.safe_dump({"trialCommand": "t", "searchSpace": SPACE}), encoding="utf-8")
    assert Config.load(path).search_space.to_nni() == SPACE
