"""The real example plugin package: pip-installed into a temporary venv, then used by name.

The venv is created from the test interpreter without pip; a ``.pth`` file makes the test
environment's site-packages (hyperloom, numpy, setuptools) visible in it, and the test
environment's pip installs the package there with ``--no-deps --no-build-isolation --no-index``,
so it works offline and in seconds. Nothing is installed into the test environment itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "plugin-package"
CLI = "import sys; from hyperloom.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin-venv")
    env_dir = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120
    )
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_parent_env.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n", encoding="utf-8"
    )
    src = root / "src"
    shutil.copytree(
        PACKAGE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(src),
        ],
        check=True,
        timeout=300,
    )
    return env_dir


def _run(
    venv: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    full_env.pop("HYPERLOOM_DISABLE_PLUGINS", None)
    full_env.update(env or {})
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", CLI, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_installed_plugins_are_listed(venv: Path) -> None:
    out = _run(venv, "plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(out.stdout)}
    for key in [
        ("tuner", "example_hill"),
        ("assessor", "example_leader_gap"),
        ("search_space", "example_mlp"),
        ("parameter_type", "pow2"),
    ]:
        assert rows[key]["distribution"] == "hyperloom-example-plugin", key
        assert rows[key]["version"] == "0.2.0" and rows[key]["ok"], rows[key]
    disabled = _run(
        venv, "plugins", "--json", "--no-import", env={"HYPERLOOM_DISABLE_PLUGINS": "1"}
    )
    assert not any(r["name"] == "example_hill" for r in json.loads(disabled.stdout))


def test_installed_tuner_and_assessor_pass_the_conformance_suite(venv: Path) -> None:
    for name in ("example_hill", "example_leader_gap"):
        out = _run(venv, "plugins", "check", name, "--json")
        assert out.returncode == 0, (name, out.stdout, out.stderr)
        report = json.loads(out.stdout)
        assert report["ok"] and len(report["checks"]) >= 3


def test_space_check_shows_the_plugin_space(venv: Path) -> None:
    out = _run(
        venv, "space", "check", "--plugin", "example_mlp", "--option", "max_layers=5", "--json"
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    types = {p["name"]: p["type"] for p in shown["parameters"]}
    assert types == {
        "layers": "randint",
        "width": "pow2",
        "activation": "choice",
        "lr": "loguniform",
    }
    bad = _run(venv, "space", "check", "--plugin", "example_mlp", "--option", "max_width=100")
    assert bad.returncode == 2 and "max_width" in bad.stderr


def test_experiment_uses_all_three_by_name(venv: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(PACKAGE / "demo", demo)
    home = tmp_path / "home"
    out = _run(
        venv,
        "run",
        "config.yml",
        "--no-dashboard",
        "-q",
        cwd=demo,
        env={"HYPERLOOM_HOME": str(home)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (exp_dir,) = [p for p in home.iterdir() if p.is_dir()]
    db = sqlite3.connect(f"file:{exp_dir / 'experiment.db'}?mode=ro", uri=True)
    try:
        config = json.loads(db.execute("select config_json from experiment").fetchone()[0])
        trials = db.execute("select params_json, status, value from trials").fetchall()
    finally:
        db.close()
    assert config["tuner"]["name"] == "example_hill"
    assert config["assessor"]["name"] == "example_leader_gap"
    assert len(trials) == 12
    params = [json.loads(p) for p, _, _ in trials]
    assert all(p["width"] in {16, 32, 64, 128, 256, 512} and 1 <= p["layers"] <= 4 for p in params)
    statuses = {s for _, s, _ in trials}
    assert statuses <= {"SUCCEEDED", "EARLY_STOPPED"} and "SUCCEEDED" in statuses
    assert max(v for _, s, v in trials if s == "SUCCEEDED") > 0.5
