"""Hardening of the launch path: templates a second shell would parse are refused (class 8), and
a CLI whose reader goes away (``| head -2``) still runs its experiment to the end (class 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyperloom.config import Config
from hyperloom.errors import ConfigError
from hyperloom.launch import check_trial_command, prepare_launch

HERE = Path(__file__).resolve().parent
BEHAVE = HERE / "trials" / "behave.py"
HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]

# Templates where the value of {x} is parsed by a second shell.
NESTED = [
    "sh -c 'echo {x}'",
    'bash -c "echo {x}"',
    "/bin/sh -ec 'echo {x} > /dev/null'",
    "env A=1 dash -c {x}",
    "echo $(echo {x})",
    "echo \"$(printf '%s' '{x}')\"",
    "echo `echo {x}`",
    "eval echo {x}",
    "echo ${UNSET_VAR:-{x}}",
    "true; sh -e -c 'echo {params_json}'",
]
# Templates that stay safe: values reach the script as one argument.
SAFE = [
    "echo {x}",
    "sh -c 'echo \"$1\"' _ {x}",
    "bash -o pipefail -c 'echo \"$1\" | cat' _ '{x}'",
    'echo $(date +%s) ${HOME} {x} "it\'s {x}"',
    "awk '{print}' /dev/null; echo {x}",
    "sh -c 'echo {trial_id} {sequence}'",
]


def _payloads(tmp_path: Path) -> list[str]:
    marker = tmp_path / "pwned"
    return [
        f'"; touch {marker} #',
        f"'; touch {marker} #",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"; touch {marker}",
    ]


def _config(tmp_path: Path, command: str, values: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "experimentName": "quoting",
        "trialCommand": command,
        "trialCodeDirectory": str(tmp_path),
        "trialConcurrency": 1,
        "maxTrialNumber": len(values),
        "searchSpace": {"x": {"_type": "choice", "_value": values}},
        "tuner": {"name": "grid"},
        "dashboard": False,
        **extra,
    }


@pytest.mark.parametrize("template", NESTED)
def test_nested_shell_templates_are_refused_by_the_checker(template: str) -> None:
    with pytest.raises(ValueError, match="paramsAs: env"):
        check_trial_command(template, ["x"])


@pytest.mark.parametrize("template", SAFE)
def test_safe_templates_pass_the_checker(template: str) -> None:
    assert check_trial_command(template, ["x"]) == template


def test_unknown_braces_inside_sh_c_are_not_placeholders() -> None:
    check_trial_command("sh -c 'awk \"{print}\" f'", ["x"])
    with pytest.raises(ValueError):
        check_trial_command("sh -c 'awk \"{print}\" f'", None)  # None: every {name} counts


@pytest.mark.parametrize("template", NESTED[:5])
def test_cli_refuses_injectable_template_before_running_anything(
    template: str, tmp_path: Path, hl_home: Path
) -> None:
    """Through the real CLI and a real shell: the file a value would touch is never made."""
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path, template, _payloads(tmp_path))))
    out = subprocess.run([*HYPERLOOM, "run", str(cfg)], capture_output=True, text=True, timeout=120)
    assert not (tmp_path / "pwned").exists()
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "trialCommand" in out.stderr and "paramsAs: env" in out.stderr
    assert "Traceback" not in out.stderr
    assert not any(hl_home.iterdir()), "no experiment may be created"


@pytest.mark.parametrize("template", NESTED)
def test_prepare_launch_refuses_too(template: str, tmp_path: Path) -> None:
    """The Python API path (no CLI): the command is never rendered for a shell."""
    cfg = Config.from_dict(_config(tmp_path, template, _payloads(tmp_path)), base_dir=tmp_path)
    trial_dir = tmp_path / "trials" / "T0001"
    trial_dir.mkdir(parents=True)
    with pytest.raises(ConfigError, match="paramsAs: env"):
        prepare_launch(
            cfg,
            params={"x": _payloads(tmp_path)[0]},
            trial_id="T0001",
            trial_dir=trial_dir,
            experiment_id="e1",
            sequence=1,
        )


def test_safe_forms_deliver_hostile_values_intact_through_a_real_run(
    tmp_path: Path, hl_home: Path
) -> None:
    """The ways the refusal points to (positional arguments after ``sh -c``, ``paramsAs: env``)
    run every payload as data through the real engine."""
    payloads = _payloads(tmp_path)
    out_file = tmp_path / "seen.txt"
    script = f'printf "%s\\n" "$1" "$HYPERLOOM_PARAM_X" >> {out_file}'
    command = f"sh -c '{script}' _ {{x}}"
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path, command, payloads, paramsAs="env")))
    res = subprocess.run(
        [*HYPERLOOM, "run", str(cfg), "--no-dashboard"], capture_output=True, text=True, timeout=300
    )
    # the trials report nothing (they only print), so none succeeds: exit 1, and they all ran
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert not (tmp_path / "pwned").exists()
    seen = out_file.read_text().splitlines()
    assert sorted(seen) == sorted(payloads * 2)


# ------------------------------------------------------------------------------------------------
# class 10: the reader of the CLI's output goes away


def _status(exp_id: str) -> dict[str, Any]:
    out = subprocess.run(
        [*HYPERLOOM, "status", exp_id, "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def test_run_piped_into_head_completes_done(tmp_path: Path, hl_home: Path) -> None:
    """``hyperloom run cfg.yml | head -2``: head exits after the first two lines; the run goes on
    (progress lines every 5 s, the summary at the end all hit a closed pipe) and ends DONE."""
    n = 6
    cfg = {
        "experimentName": "pipe",
        "trialCommand": f"{sys.executable} {BEHAVE}",
        "trialCodeDirectory": str(HERE),
        "trialConcurrency": 2,
        "maxTrialNumber": n,
        "searchSpace": {
            "steps": {"_type": "choice", "_value": [3]},
            "sleep": {"_type": "choice", "_value": [0.7]},
            "noise": {"_type": "uniform", "_value": [0, 1]},
        },
        "tuner": {"name": "random", "classArgs": {"mode": "maximize"}},
        "dashboard": False,
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = (
        f"{' '.join(HYPERLOOM)} run {path} 2>{tmp_path / 'stderr.txt'} | head -2; "
        'echo "manager-exit=${PIPESTATUS[0]}"'
    )
    out = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("experiment "), out.stdout
    exp_id = lines[0].split()[1]
    stderr = (tmp_path / "stderr.txt").read_text()
    assert lines[-1] == "manager-exit=0", (out.stdout, stderr)
    assert "Traceback" not in stderr
    status = _status(exp_id)
    assert status["status"] == "DONE", status
    assert status["counts"]["SUCCEEDED"] == n, status["counts"]


def test_json_output_into_a_closed_pipe_is_quiet(tmp_path: Path, hl_home: Path) -> None:
    """``hyperloom list --json | head -1`` with a long listing: no traceback, exit 0."""
    for i in range(3):
        d = hl_home / f"exp{i:05d}"
        d.mkdir()
        from hyperloom.store import Store

        Store.create(d, experiment_id=d.name, name="x" * 20000, config={}, space={}).close()
    cmd = f"{' '.join(HYPERLOOM)} list --json | head -c 10 >/dev/null; " + (
        'echo "exit=${PIPESTATUS[0]}"'
    )
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "exit=0", out
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
