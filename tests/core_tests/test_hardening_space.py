"""Hardening of search spaces and tuners: huge finite spaces cost no memory (sizes are computed,
grids enumerated lazily), absurd classArgs are refused by name, duplicate and too deeply nested
choices are refused."""

from __future__ import annotations

import importlib
import time
from typing import Any

import psutil
import pytest
from hyperloom.errors import PluginError, SearchSpaceError
from hyperloom.space import MAX_NESTING, SearchSpace
from hyperloom.tuners.grid import LazyGrid, iter_grid

HUGE: dict[str, Any] = {
    "x": {"_type": "randint", "_value": [0, 2**31]},
    "c": {"_type": "choice", "_value": ["a", "b", "c"]},
    "q": {"_type": "quniform", "_value": [0, 1e9, 0.001]},
    "lr": {"_type": "loguniform", "_value": [1e-5, 1.0]},
}
FINITE_HUGE: dict[str, Any] = {k: v for k, v in HUGE.items() if k != "lr"}

TUNERS = {
    "random": "hyperloom.tuners.random:RandomTuner",
    "grid": "hyperloom.tuners.grid:GridTuner",
    "tpe": "hyperloom.tuners.tpe:TPETuner",
    "evolution": "hyperloom.tuners.evolution:EvolutionTuner",
    "anneal": "hyperloom.tuners.anneal:AnnealTuner",
    "rl": "hyperloom.tuners.rl:RLTuner",
}


def _cls(name: str) -> Any:
    module, cls = TUNERS[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:  # rl needs torch
        pytest.skip(f"{name}: {e}")


@pytest.mark.parametrize("raw", [HUGE, FINITE_HUGE, {"x": HUGE["x"]}], ids=["mixed", "finite", "x"])
@pytest.mark.parametrize("name", sorted(TUNERS))
def test_every_tuner_on_a_huge_finite_space_stays_small_and_fast(name: str, raw: Any) -> None:
    cls = _cls(name)
    cls(SearchSpace.from_nni({"c": {"_type": "choice", "_value": [1, 2]}}), seed=0)  # imports
    proc = psutil.Process()
    before = proc.memory_info().rss
    start = time.monotonic()
    space = SearchSpace.from_nni(raw)
    tuner = cls(space, seed=0)
    points = [tuner.suggest(f"T{i:04d}") for i in range(20)]
    grown = (proc.memory_info().rss - before) / 2**20
    assert grown < 200, f"{name}: RSS grew {grown:.0f} MB"
    assert time.monotonic() - start < 20
    for p in points:
        if isinstance(p, dict):
            space.validate(p)


def test_size_is_arithmetic_and_exact() -> None:
    space = SearchSpace.from_nni(FINITE_HUGE)
    n_q = 10**12 + 1  # the multiples of 0.001 in [0, 1e9]
    assert space.size() == float(2**31 * 3 * n_q)
    assert SearchSpace.from_nni({"x": HUGE["x"]}).size() == 2**31
    big = {f"x{i}": {"_type": "randint", "_value": [0, 2**63]} for i in range(20)}
    assert SearchSpace.from_nni(big).size() == float("inf")  # beyond a float: counted as inf


def test_quniform_size_counts_bounds_that_are_not_multiples() -> None:
    small = SearchSpace.from_nni({"q": {"_type": "quniform", "_value": [0.5, 10.5, 2]}})
    assert small.size() == len(small[("q",)].grid(1000)) == 6  # 0.5, 2, ..., 10 (10.5 snaps to 10)
    big = SearchSpace.from_nni({"q": {"_type": "quniform", "_value": [0.5, 1e6 + 0.5, 2]}})
    assert big.size() == 500_000 + 1  # 0.5, then 2, 4, ..., 1e6
    p = big[("q",)]
    assert [p.grid_at(10**7, k) for k in (0, 1, 500_000)] == [0.5, 2.0, 1e6]
    odd = SearchSpace.from_nni({"q": {"_type": "quniform", "_value": [0.5, 1e6 + 1.5, 2]}})
    assert odd.size() == 500_000 + 2  # 1e6 + 1.5 snaps to 1e6 + 2, clipped to 1e6 + 1.5
    assert odd[("q",)].grid_at(10**7, 500_001) == 1e6 + 1.5


def test_grid_is_lazy_and_indexable_in_product_order() -> None:
    grid = LazyGrid(SearchSpace.from_nni(FINITE_HUGE), 5)
    assert len(grid) == 5 * 3 * 5
    assert grid[0] == {"x": 0, "c": "a", "q": 0.0}
    assert grid[len(grid) - 1] == {"x": 2**31 - 1, "c": "c", "q": 1e9}
    full = LazyGrid(SearchSpace.from_nni(FINITE_HUGE), 1 << 30)
    assert full.size == 2**30 * 3 * 2**30  # (len() stops at 2**63; size does not)
    assert full[full.size - 1]["x"] == 2**31 - 1
    wide = SearchSpace.from_nni({f"x{i}": HUGE["x"] for i in range(10)})
    assert LazyGrid(wide, 1 << 30).size == 2**300
    it = iter_grid(SearchSpace.from_nni(FINITE_HUGE), 1 << 30)
    qs = [next(it)["q"] for _ in range(3)]  # 2**30 evenly spaced multiples of 0.001
    assert qs[0] == 0.0 and qs[0] < qs[1] < qs[2] < 2.0


def test_lazy_grid_equals_the_product_on_nested_spaces() -> None:
    import itertools

    raw = {
        "a": {"_type": "choice", "_value": [1, 2]},
        "m": {
            "_type": "choice",
            "_value": [
                {"_name": "p", "k": {"_type": "randint", "_value": [0, 3]}},
                {"_name": "q"},
            ],
        },
        "u": {"_type": "uniform", "_value": [0, 1]},
    }
    space = SearchSpace.from_nni(raw)
    got = list(iter_grid(space, 3))
    subs = [{"_name": "p", "k": k} for k in range(3)] + [{"_name": "q"}]
    want = [
        {"a": a, "m": m, "u": u} for a, m, u in itertools.product([1, 2], subs, [0.0, 0.5, 1.0])
    ]
    assert got == want
    assert space.size() == float("inf")


@pytest.mark.parametrize(
    ("name", "args", "key"),
    [
        ("grid", {"points_per_dim": 10**11}, "points_per_dim"),
        ("grid", {"points_per_dim": 1e11}, "points_per_dim"),
        ("tpe", {"n_candidates": 10**12}, "n_candidates"),
        ("evolution", {"population_size": 10**12, "sample_size": 5}, "population_size"),
        ("evolution", {"sample_size": 10**12}, "sample_size"),
        ("anneal", {"n_startup": 10**12}, "n_startup"),
    ],
)
def test_absurd_class_args_are_refused_by_name(name: str, args: Any, key: str) -> None:
    cls = _cls(name)
    start = time.monotonic()
    with pytest.raises(PluginError) as e:
        cls(SearchSpace.from_nni(HUGE), seed=0, **args)
    assert key in str(e.value) and repr(args[key]) in str(e.value)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("options", [[1, 1.0, True], ["a", "b", "a"], [None, None], [2, 2.0]])
def test_duplicate_choice_options_are_refused(options: list[Any]) -> None:
    space = SearchSpace.from_nni({"c": {"_type": "choice", "_value": options}})
    with pytest.raises(SearchSpaceError, match="duplicate options") as e:
        space.check_duplicate_options()
    assert "'c'" in str(e.value) and repr(options[0]) in str(e.value)


def test_a_boolean_and_a_number_are_distinct_options() -> None:
    space = SearchSpace.from_nni({"c": {"_type": "choice", "_value": [1, True, 0, False]}})
    space.check_duplicate_options()
    assert space.size() == 4


def _nested(depth: int) -> dict[str, Any]:
    space: dict[str, Any] = {"leaf": {"_type": "uniform", "_value": [0, 1]}}
    for _ in range(depth):
        space = {"n": {"_type": "choice", "_value": [{"_name": "o", **space}]}}
    return space


def test_nesting_up_to_the_limit_is_fine_and_deeper_is_refused() -> None:
    SearchSpace.from_nni(_nested(MAX_NESTING))
    with pytest.raises(SearchSpaceError, match="levels deep"):
        SearchSpace.from_nni(_nested(MAX_NESTING + 1))
    with pytest.raises(SearchSpaceError, match="levels deep"):
        SearchSpace.from_nni(_nested(500))


def test_a_yaml_space_file_refuses_duplicate_keys_and_alias_bombs(tmp_path: Any) -> None:
    dup = tmp_path / "space.yml"
    dup.write_text("lr: {_type: uniform, _value: [0, 1]}\nlr: {_type: uniform, _value: [0, 2]}\n")
    with pytest.raises(SearchSpaceError, match="duplicate key 'lr' at lines 1 and 2"):
        SearchSpace.load(dup)
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join(['*' + 'abcdefghi'[i]] * 9)}]")
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    with pytest.raises(SearchSpaceError, match="expands to more than"):
        SearchSpace.load(bomb)
    assert time.monotonic() - start < 5
