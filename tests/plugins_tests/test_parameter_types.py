"""Parameter-type plugins: a ``hyperloom.parameter_types`` entry point adds a ``_type`` that every
tuner handles through the numeric interface. Uses the ``pow2`` type of the example package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom import registry
from hyperloom.errors import PluginError, SearchSpaceError
from hyperloom.space import SearchSpace
from hyperloom.types import TrialResult, TrialStatus

EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "plugin-package" / "src"
POW2 = "hyperloom_example_plugin.pow2:make_pow2"
SPACE = {
    "width": {"_type": "pow2", "_value": [8, 512]},
    "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
    "block": {
        "_type": "choice",
        "_value": [
            {"_name": "plain"},
            {"_name": "wide", "mult": {"_type": "pow2", "_value": [2, 8]}},
        ],
    },
}


@pytest.fixture
def pow2_plugin(fake_dist: Any, monkeypatch: pytest.MonkeyPatch, clean_types: None) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    fake_dist("pow2-types", "1.0", {"hyperloom.parameter_types": {"pow2": POW2}})
    yield
    for mod in [m for m in sys.modules if m.startswith("hyperloom_example_plugin")]:
        sys.modules.pop(mod, None)


def test_unknown_type_without_plugin(clean_types: None) -> None:
    with pytest.raises(SearchSpaceError, match="unknown _type 'pow2'"):
        SearchSpace.from_nni(SPACE)


def test_type_plugin_is_resolved_by_the_parser(pow2_plugin: None) -> None:
    space = SearchSpace.from_nni(SPACE)
    width = space[("width",)]
    assert width.type_name == "pow2" and width.is_int
    assert (width.low, width.high) == (3.0, 9.0)
    for seed in range(30):
        p = space.sample(seed)
        space.validate(p)
        assert p["width"] in {8, 16, 32, 64, 128, 256, 512}
    assert not space.contains({**space.sample(0), "width": 48})
    with pytest.raises(SearchSpaceError, match="powers of two"):
        SearchSpace.from_nni({"w": {"_type": "pow2", "_value": [8, 100]}})


def test_type_plugin_disabled(pow2_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_DISABLE_PLUGINS", "1")
    with pytest.raises(SearchSpaceError, match="unknown _type 'pow2'"):
        SearchSpace.from_nni(SPACE)


def test_type_from_two_distributions_is_ambiguous(
    pow2_plugin: None, fake_dist: Any, tmp_path: Path
) -> None:
    fake_dist(
        "other-types", "3.0", {"hyperloom.parameter_types": {"pow2": "x:y"}}, where=tmp_path / "o"
    )
    with pytest.raises(PluginError) as e:
        SearchSpace.from_nni(SPACE)
    assert "pow2-types 1.0" in str(e.value) and "other-types 3.0" in str(e.value)


def _drive(tuner: Any, space: SearchSpace, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        p = tuner.suggest(f"t{i}")
        assert p is not None
        space.validate(p)
        out.append(p)
        value = -abs(p["width"] - 64) / 64 - abs(p["lr"] - 0.01)
        tuner.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, value, (), i))
    return out


@pytest.mark.parametrize("name", ["random", "tpe", "evolution", "anneal", "rl"])
def test_every_tuner_handles_the_plugin_type(pow2_plugin: None, name: str) -> None:
    if name == "rl":
        pytest.importorskip("torch")
    info = [i for i in registry.discover("tuner") if i.name == name]
    assert info, f"tuner {name!r} is not registered"
    error = registry.try_load(info[0])[1]
    assert error is None, f"tuner {name!r} does not load: {error}"
    space = SearchSpace.from_nni(SPACE)
    tuner = registry.load_tuner(name, space, seed=0)
    points = _drive(tuner, space, 20)
    widths = {p["width"] for p in points}
    assert len(widths) >= 2, f"{name} never moved along the pow2 parameter: {widths}"


def test_grid_tuner_enumerates_the_plugin_type(pow2_plugin: None) -> None:
    space = SearchSpace.from_nni({"width": {"_type": "pow2", "_value": [8, 512]}})
    tuner = registry.load_tuner("grid", space)
    points = []
    while (p := tuner.suggest(f"t{len(points)}")) is not None and len(points) < 20:
        space.validate(p)
        points.append(p["width"])
    # a plugin type is not "finite" to the space, so grid takes the type's own grid(n) values
    assert len(points) == len(set(points)) >= 3
    assert points == sorted(points) and points[0] == 8 and points[-1] == 512
