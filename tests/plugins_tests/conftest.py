"""Fixtures for plugin tests: fake installed distributions (a ``*.dist-info`` folder with
``entry_points.txt`` on ``sys.path``), and a clean parameter-type table."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

FakeDist = Callable[..., Path]


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory on ``sys.path`` (import caches invalidated)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def fake_dist(site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """``fake_dist(name, version, entry_points={group: {name: value}}, modules={mod: source},
    where=None)`` installs a fake distribution: a ``*.dist-info`` folder and plain modules."""
    created: list[str] = []

    def make(
        name: str,
        version: str = "1.0",
        entry_points: Mapping[str, Mapping[str, str]] | None = None,
        modules: Mapping[str, str] | None = None,
        where: Path | None = None,
    ) -> Path:
        root = where or site_dir
        if where is not None:
            monkeypatch.syspath_prepend(str(where))
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = []
        for group, eps in (entry_points or {}).items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in eps.items()]
            lines.append("")
        (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
        for mod, source in (modules or {}).items():
            (root / f"{mod}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            created.append(mod)
        return info

    yield make
    for mod in created:
        sys.modules.pop(mod, None)


@pytest.fixture
def clean_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the parameter-type table, so types a test registers do not leak."""
    from hyperloom import space

    monkeypatch.setattr(space, "_TYPES", dict(space._TYPES))


@pytest.fixture(autouse=True)
def _plugins_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERLOOM_DISABLE_PLUGINS", raising=False)
