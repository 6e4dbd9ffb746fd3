"""Shared test fixtures: every test gets its own HYPERLOOM_HOME."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("hlhome")
    monkeypatch.setenv("HYPERLOOM_HOME", str(home))
    yield home
    _kill_leftovers(str(home))


def _kill_leftovers(home: str) -> None:
    """Kills processes a failed test left behind (managers and trials inherit HYPERLOOM_HOME)."""
    import psutil

    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get("HYPERLOOM_HOME") == home:
                proc.kill()
        except (psutil.Error, OSError):
            continue


@pytest.fixture
def hl_home() -> Path:
    return Path(os.environ["HYPERLOOM_HOME"])


@pytest.fixture
def python() -> str:
    """The interpreter that runs the tests (and has hyperloom installed)."""
    return sys.executable
