"""Fixtures for the compatibility tests: interpreters with and without nni.

The nni-backed tests (``@pytest.mark.nni``) need a venv with nni 3.0 from PyPI. They use
``$HYPERLOOM_NNI_PYTHON`` (set by ``.ci/run``) or ``<repo>/.venv-nni/bin/python``; with
``HYPERLOOM_MAKE_NNI_VENV=1`` a missing venv is created (``pip install nni==3.0``, minutes).
Otherwise they are skipped. hyperloom is installed into that venv without dependencies (nni pins
``filelock<3.12``; hyperloom's manager works with nni's filelock).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRIALS = REPO / "trials"
CORE = REPO / "core"


def _works(python: str, code: str, timeout: float = 120) -> bool:
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def _pip(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "-q", *args], check=True, timeout=900)


@pytest.fixture(scope="session")
def nni_python() -> str:
    """An interpreter that has nni 3.0 (skips the test when there is none)."""
    python = os.environ.get("HYPERLOOM_NNI_PYTHON") or str(REPO / ".venv-nni" / "bin" / "python")
    if not Path(python).exists() and os.environ.get("HYPERLOOM_MAKE_NNI_VENV") == "1":
        venv = Path(python).parent.parent
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        _pip(python, "nni==3.0")
    if not Path(python).exists() or not _works(python, "import nni"):
        pytest.skip(
            f"no interpreter with nni 3.0 ({python}); set HYPERLOOM_NNI_PYTHON or HYPERLOOM_MAKE_NNI_VENV=1"
        )
    return python


@pytest.fixture(scope="session")
def nni_python_with_hyperloom(nni_python: str) -> str:
    """The nni interpreter, with hyperloom installed into it (no dependencies)."""
    if not _works(nni_python, "import hyperloom.plugins.nni, hyperloom.experiment"):
        _pip(nni_python, "--no-deps", "-e", str(REPO))
        if not _works(nni_python, "import hyperloom.plugins.nni, hyperloom.experiment"):
            pytest.skip("hyperloom cannot be imported next to nni in that venv")
    return nni_python


@pytest.fixture(scope="session")
def foreign_python() -> str:
    """An interpreter where hyperloom is not importable (the system python), else ours."""
    for cand in ("/usr/bin/python3", shutil.which("python3") or ""):
        usable = (
            cand
            and Path(cand).exists()
            and _works(cand, "import sys; assert sys.version_info >= (3, 9)")
        )
        if usable and not _works(cand, "import hyperloom"):
            return cand
    return sys.executable


@pytest.fixture
def trial_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "trial"
    d.mkdir()
    yield d
