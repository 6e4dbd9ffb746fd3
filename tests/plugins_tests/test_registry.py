"""Discovery and loading with fake installed distributions: broken, duplicate and disabled
plugins, classArgs checks, module:Class names and search-space options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hyperloom import registry
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace

GOOD_TUNER = """
from hyperloom.tuners.random import RandomTuner

class GoodTuner(RandomTuner):
    def __init__(self, space, *, mode="maximize", seed=None, temperature=1.0):
        super().__init__(space, mode=mode, seed=seed)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
"""

SPACE_MOD = """
def space(width=4, name="x"):
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    return {name: {"_type": "randint", "_value": [0, width]}}

FIXED = {"a": {"_type": "choice", "_value": [1, 2]}}

def bad_space():
    return {"a": {"_type": "uniform", "_value": [2, 1]}}
"""


def test_discover_reads_metadata_only(fake_dist: Any) -> None:
    fake_dist("acme-tuners", "2.1", {"hyperloom.tuners": {"acme": "acme_not_imported:Tuner"}})
    infos = [i for i in registry.discover("tuner") if i.name == "acme"]
    assert len(infos) == 1
    info = infos[0]
    assert (info.distribution, info.version, info.value) == (
        "acme-tuners",
        "2.1",
        "acme_not_imported:Tuner",
    )
    assert info.kind == "tuner" and not info.builtin
    import sys

    assert "acme_not_imported" not in sys.modules
    assert any(i.name == "random" and i.builtin for i in registry.discover("tuner"))


def test_broken_plugin_breaks_nothing_until_used(fake_dist: Any) -> None:
    fake_dist(
        "broken-dist",
        "0.3",
        {"hyperloom.tuners": {"broken": "broken_mod:Tuner"}},
        modules={"broken_mod": "import this_module_does_not_exist\n"},
    )
    # discovery and other plugins are unaffected
    assert any(i.name == "broken" for i in registry.discover("tuner"))
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    assert registry.load_tuner("random", space, seed=0).suggest("t0") is not None
    # used: the error names plugin, distribution and cause
    with pytest.raises(PluginError) as e:
        registry.load_tuner("broken", space)
    msg = str(e.value)
    assert "'broken'" in msg and "broken-dist 0.3" in msg
    assert "this_module_does_not_exist" in msg and "ModuleNotFoundError" in msg
    obj, err = registry.try_load(next(i for i in registry.discover("tuner") if i.name == "broken"))
    assert obj is None and err is not None and "broken-dist" in err


def test_plugin_raising_at_import_names_the_cause(fake_dist: Any) -> None:
    fake_dist(
        "crashy",
        "1.0",
        {"hyperloom.assessors": {"crashy": "crashy_mod:A"}},
        modules={"crashy_mod": "raise RuntimeError('license server unreachable')\n"},
    )
    with pytest.raises(PluginError, match=r"crashy 1\.0.*RuntimeError: license server unreachable"):
        registry.load_assessor("crashy")


def test_missing_attribute_is_reported(fake_dist: Any) -> None:
    fake_dist(
        "half",
        "1.0",
        {"hyperloom.tuners": {"half": "half_mod:Nope"}},
        modules={"half_mod": "X = 1\n"},
    )
    with pytest.raises(PluginError, match=r"half 1\.0.*AttributeError"):
        registry.load("tuner", "half")


def test_duplicate_names_name_both_distributions(fake_dist: Any, tmp_path: Path) -> None:
    fake_dist("alpha-plugins", "1.0", {"hyperloom.tuners": {"twin": "a_mod:T"}})
    fake_dist(
        "beta-plugins", "2.0", {"hyperloom.tuners": {"twin": "b_mod:T"}}, where=tmp_path / "other"
    )
    with pytest.raises(PluginError) as e:
        registry.load("tuner", "twin")
    msg = str(e.value)
    assert "alpha-plugins 1.0" in msg and "beta-plugins 2.0" in msg
    assert "module:Class" in msg


def test_same_distribution_twice_on_path_is_not_a_duplicate(fake_dist: Any, tmp_path: Path) -> None:
    mod = {"once_mod": "class T:\n    pass\n"}
    fake_dist("once", "1.0", {"hyperloom.tuners": {"once": "once_mod:T"}}, modules=mod)
    fake_dist("once", "1.0", {"hyperloom.tuners": {"once": "once_mod:T"}}, where=tmp_path / "copy")
    assert registry.load("tuner", "once").__name__ == "T"


def test_disable_plugins_keeps_builtins_only(
    fake_dist: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist("extra", "1.0", {"hyperloom.tuners": {"extra": "extra_mod:T"}})
    assert any(i.name == "extra" for i in registry.discover("tuner"))
    monkeypatch.setenv("HYPERLOOM_DISABLE_PLUGINS", "1")
    names = {i.name for i in registry.discover_all()}
    assert "extra" not in names and {"random", "nas_cell"} <= names
    assert all(i.builtin for i in registry.discover_all())
    with pytest.raises(PluginError, match="HYPERLOOM_DISABLE_PLUGINS"):
        registry.load("tuner", "extra")
    monkeypatch.setenv("HYPERLOOM_DISABLE_PLUGINS", "0")
    assert any(i.name == "extra" for i in registry.discover("tuner"))


def test_unknown_name_suggests_the_closest(fake_dist: Any) -> None:
    with pytest.raises(PluginError, match="Did you mean 'random'"):
        registry.load("tuner", "randon")


def test_class_args_are_validated_before_anything_starts(fake_dist: Any) -> None:
    fake_dist(
        "good",
        "1.0",
        {"hyperloom.tuners": {"good": "good_mod:GoodTuner"}},
        modules={"good_mod": GOOD_TUNER},
    )
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    tuner = registry.load_tuner("good", space, seed=1, temperature=2.0)
    assert tuner.temperature == 2.0
    with pytest.raises(
        PluginError, match=r"unknown argument 'temprature'.*Did you mean 'temperature'"
    ):
        registry.load_tuner("good", space, temprature=2.0)
    with pytest.raises(PluginError, match="temperature must be > 0"):
        registry.load_tuner("good", space, temperature=-1.0)


def test_module_class_with_code_directory(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "my_local_tuner.py").write_text(GOOD_TUNER, encoding="utf-8")
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    import sys

    try:
        tuner = registry.load_tuner(
            "my_local_tuner:GoodTuner", space, code_directory=code, temperature=3.0
        )
        assert tuner.temperature == 3.0
    finally:
        sys.modules.pop("my_local_tuner", None)
        if str(code.resolve()) in sys.path:
            sys.path.remove(str(code.resolve()))
    with pytest.raises(PluginError, match=r"cannot import tuner 'nowhere_mod:T'"):
        registry.load_tuner("nowhere_mod:T", space)


def test_search_space_plugin_options(fake_dist: Any) -> None:
    fake_dist(
        "spaces",
        "1.0",
        {
            "hyperloom.search_spaces": {
                "sp": "space_mod:space",
                "fixed": "space_mod:FIXED",
                "bad": "space_mod:bad_space",
            }
        },
        modules={"space_mod": SPACE_MOD},
    )
    sp = registry.load_search_space("sp", {"width": 3, "name": "k"})
    assert isinstance(sp, SearchSpace) and sp.to_nni() == {
        "k": {"_type": "randint", "_value": [0, 3]}
    }
    with pytest.raises(PluginError, match=r"unknown argument 'widht'.*Did you mean 'width'"):
        registry.load_search_space("sp", {"widht": 3})
    with pytest.raises(PluginError, match=r"search space plugin 'sp'.*width must be >= 1"):
        registry.load_search_space("sp", {"width": 0})
    assert len(registry.load_search_space("fixed")) == 1
    with pytest.raises(PluginError, match="takes no options"):
        registry.load_search_space("fixed", {"x": 1})
    with pytest.raises(PluginError, match=r"'bad' produced an invalid space.*low must be < high"):
        registry.load_search_space("bad")


def test_first_party_nas_spaces_load_by_name() -> None:
    cell = registry.load_search_space("nas_cell", {"num_nodes": 2, "reduction": False})
    assert len(cell) == 8
    chain = registry.load_search_space("nas_chain", {"max_depth": 3})
    assert {p.name for p in chain.parameters} >= {"depth", "width", "layer0_op", "layer2_skip"}
    with pytest.raises(PluginError, match="'num_nodes'"):
        registry.load_search_space("nas_cell", {"num_nodes": 0})
