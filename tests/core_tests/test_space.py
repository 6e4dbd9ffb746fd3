"""Unit tests of the search space: NNI's semantics per type, and every validation error."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperloom.errors import SearchSpaceError
from hyperloom.space import Choice, Normal, RandInt, SearchSpace, Uniform
from hyperloom.tuners.grid import iter_grid

N = 2000  # samples per distribution check (a few ms each)


def _draws(spec: dict[str, Any], n: int = N, seed: int = 0) -> np.ndarray:
    space = SearchSpace.from_nni({"p": spec})
    rng = np.random.default_rng(seed)
    return np.array([space.sample(rng)["p"] for _ in range(n)])


# -------------------------------------------------------------------------------------------------
# semantics of each type


def test_choice_draws_every_option_of_any_scalar_type() -> None:
    options = [1, 2.5, "relu", True, None]
    space = SearchSpace.from_nni({"c": {"_type": "choice", "_value": options}})
    rng = np.random.default_rng(0)
    seen = [space.sample(rng)["c"] for _ in range(300)]
    assert {json.dumps(v) for v in seen} == {json.dumps(v) for v in options}
    p = space[("c",)]
    assert isinstance(p, Choice) and p.n_choices == 5 and p.is_categorical
    assert p.index(True) == 3 and p.index(1) == 0  # True is not the option 1
    assert p.from_internal(p.to_internal("relu")) == "relu"


def test_randint_upper_bound_is_exclusive() -> None:
    xs = _draws({"_type": "randint", "_value": [-2, 3]})
    assert set(xs.tolist()) == {-2, -1, 0, 1, 2}
    assert all(
        type(v) is int for v in _draws({"_type": "randint", "_value": [0, 2]}, n=20).tolist()
    )
    assert set(_draws({"_type": "randint", "_value": [7, 8]}, n=50).tolist()) == {7}
    p = SearchSpace.from_nni({"r": {"_type": "randint", "_value": [0, 10]}})[("r",)]
    assert (
        isinstance(p, RandInt) and p.high == 9 and p.from_internal(12.7) == 9 and not p.contains(10)
    )


def test_uniform_within_bounds_and_spread() -> None:
    xs = _draws({"_type": "uniform", "_value": [-1, 3]})
    assert xs.min() >= -1 and xs.max() <= 3
    assert abs(xs.mean() - 1.0) < 0.15


def test_quniform_rounds_to_q_and_clips_to_bounds() -> None:
    # NNI: clip(round(uniform(low, high) / q) * q, low, high)
    xs = _draws({"_type": "quniform", "_value": [0, 11, 4]})
    assert set(xs.tolist()) == {0.0, 4.0, 8.0, 11.0}  # 12 is clipped to 11
    ys = _draws({"_type": "quniform", "_value": [0.5, 2.7, 1]})
    assert set(ys.tolist()) <= {0.5, 1.0, 2.0, 2.7}
    assert 2.7 in ys.tolist()  # round(2.6) = 3 is clipped to 2.7


def test_loguniform_is_uniform_in_log_space() -> None:
    xs = _draws({"_type": "loguniform", "_value": [1e-4, 1]})
    assert xs.min() >= 1e-4 and xs.max() <= 1
    assert abs(np.median(np.log10(xs)) - (-2)) < 0.2  # median near the geometric mean
    p = SearchSpace.from_nni({"lr": {"_type": "loguniform", "_value": [1e-4, 1]}})[("lr",)]
    assert p.is_log and math.isclose(p.low, math.log(1e-4)) and p.high == 0.0


def test_qloguniform_on_grid_and_clipped() -> None:
    xs = _draws({"_type": "qloguniform", "_value": [1, 1000, 10]})
    assert xs.min() >= 1 and xs.max() <= 1000
    assert all(v == 1 or v % 10 == 0 for v in xs.tolist())  # round(1.x / 10) = 0 is clipped to 1
    assert 1.0 in xs.tolist()
    assert np.median(xs) < 100  # log-distributed: most mass at the low end


def test_normal_has_mu_and_sigma() -> None:
    xs = _draws({"_type": "normal", "_value": [5, 2]}, n=4000)
    assert abs(xs.mean() - 5) < 0.15 and abs(xs.std() - 2) < 0.15
    p = SearchSpace.from_nni({"n": {"_type": "normal", "_value": [5, 2]}})[("n",)]
    assert isinstance(p, Normal) and p.low == -math.inf and p.high == math.inf


def test_qnormal_rounds_without_clipping() -> None:
    xs = _draws({"_type": "qnormal", "_value": [0, 10, 4]})
    assert all(v % 4 == 0 for v in xs.tolist())
    assert xs.min() < -12 and xs.max() > 12  # unbounded


def test_lognormal_is_exp_of_normal() -> None:
    xs = _draws({"_type": "lognormal", "_value": [1, 0.5]}, n=4000)
    assert xs.min() > 0
    assert abs(np.median(xs) - math.e) < 0.15
    assert abs(np.log(xs).std() - 0.5) < 0.05


def test_qlognormal_rounds_exp_of_normal() -> None:
    xs = _draws({"_type": "qlognormal", "_value": [3, 1, 5]})
    assert xs.min() >= 0 and all(v % 5 == 0 for v in xs.tolist())


def test_q_rounding_never_gives_negative_zero() -> None:
    xs = _draws({"_type": "quniform", "_value": [-1, 1, 0.5]}, n=500)
    assert all(not (v == 0 and math.copysign(1, v) < 0) for v in xs.tolist())
    ys = _draws({"_type": "qnormal", "_value": [0, 0.1, 1]}, n=200)
    assert all(not (v == 0 and math.copysign(1, v) < 0) for v in ys.tolist())


def test_nested_choice_samples_carry_the_options_params() -> None:
    raw = {
        "layer": {"_type": "choice", "_value": [
            {"_name": "conv", "kernel": {"_type": "choice", "_value": [3, 5]}},
            {"_name": "pool", "size": {"_type": "randint", "_value": [2, 4]},
             "inner": {"_type": "choice", "_value": [{"_name": "max"}, {"_name": "avg", "p": {"_type": "uniform", "_value": [0, 1]}}]}},
            {"_name": "skip"},
        ]},
        "lr": {"_type": "loguniform", "_value": [1e-3, 1e-1]},
    }  # fmt: skip
    space = SearchSpace.from_nni(raw)
    paths = [p.path for p in space.parameters]
    assert paths == [("layer",), ("layer", 0, "kernel"), ("layer", 1, "size"), ("layer", 1, "inner"),
                     ("layer", 1, "inner", 1, "p"), ("lr",)]  # fmt: skip
    assert space[("layer", 1, "inner", 1, "p")].condition == (("layer", 1, "inner"), 1)
    rng = np.random.default_rng(1)
    kinds = set()
    for _ in range(200):
        pt = space.sample(rng)
        space.validate(pt)
        kinds.add(pt["layer"]["_name"])
        expected = {
            "conv": {"_name", "kernel"},
            "pool": {"_name", "size", "inner"},
            "skip": {"_name"},
        }
        assert set(pt["layer"]) == expected[pt["layer"]["_name"]]
        assert space.assemble(space.flatten(pt)) == pt
    assert kinds == {"conv", "pool", "skip"}


def test_validate_rejects_points_outside_the_space() -> None:
    space = SearchSpace.from_nni({
        "r": {"_type": "randint", "_value": [0, 3]},
        "q": {"_type": "quniform", "_value": [0, 1, 0.25]},
        "c": {"_type": "choice", "_value": [{"_name": "a", "k": {"_type": "choice", "_value": [1, 2]}}, {"_name": "b"}]},
    })  # fmt: skip
    ok = {"r": 2, "q": 0.75, "c": {"_name": "a", "k": 2}}
    space.validate(ok)
    bad = [
        ({**ok, "r": 3}, "'r': 3 is outside randint [0, 3)"),
        ({**ok, "r": True}, "'r': True"),
        ({**ok, "q": 0.3}, "'q': 0.3 is outside"),
        ({**ok, "c": {"_name": "z"}}, "'c': {'_name': 'z'} is not one of ['a', 'b']"),
        ({**ok, "c": {"_name": "a", "k": 3}}, "'c/0/k': 3"),
        ({**ok, "c": {"_name": "b", "k": 1}}, "unexpected ['k']"),
        ({"r": 1}, "missing ['c', 'q']"),
    ]
    for point, msg in bad:
        with pytest.raises(SearchSpaceError, match=None) as e:
            space.validate(point)
        assert msg in str(e.value), (msg, str(e.value))
        assert not space.contains(point)


def test_size_grid_and_internal_round_trip() -> None:
    space = SearchSpace.from_nni({
        "c": {"_type": "choice", "_value": ["a", "b"]},
        "r": {"_type": "randint", "_value": [0, 3]},
        "q": {"_type": "quniform", "_value": [0, 1, 0.5]},
    })  # fmt: skip
    assert space.is_finite and space.size() == 2 * 3 * 3
    assert len(list(iter_grid(space))) == 18
    cont = SearchSpace.from_nni({"u": {"_type": "uniform", "_value": [0, 1]}})
    assert not cont.is_finite and cont.size() == math.inf
    assert cont[("u",)].grid(5) == [0.0, 0.25, 0.5, 0.75, 1.0]  # documented: evenly spaced points
    u = SearchSpace.from_nni({"u": {"_type": "qloguniform", "_value": [1, 100, 1]}})[("u",)]
    assert isinstance(u, Uniform) and u.from_internal(u.to_internal(37)) == 37
    assert u.from_internal(99.0) == 100  # internal values clip to the bounds


def test_space_is_immutable_and_json_round_trips() -> None:
    raw = {"x": {"_type": "uniform", "_value": [0, 1]}}
    space = SearchSpace.from_nni(raw)
    raw["x"]["_value"][1] = 5
    assert space.to_nni() == {"x": {"_type": "uniform", "_value": [0, 1]}}
    assert SearchSpace.from_nni(space.to_nni()) == space and hash(space) == hash(
        SearchSpace.from_nni(space.to_nni())
    )


# -------------------------------------------------------------------------------------------------
# validation errors: each names the parameter path and the bad value

ERRORS = [
    (
        {"lr": {"_type": "unifrom", "_value": [0, 1]}},
        ["'lr'", "'unifrom'", "did you mean 'uniform'"],
    ),
    ({"lr": {"_type": 7, "_value": [0, 1]}}, ["'lr'", "unknown _type 7", "known types"]),
    ({"lr": {"_type": "uniform", "_value": [1, 1]}}, ["'lr'", "low=1", "high=1"]),
    ({"lr": {"_type": "quniform", "_value": [2, 1, 0.1]}}, ["'lr'", "low=2", "high=1"]),
    ({"n": {"_type": "randint", "_value": [5, 5]}}, ["'n'", "low=5", "high=5", "exclusive"]),
    ({"n": {"_type": "randint", "_value": [1.5, 4]}}, ["'n'", "integers", "1.5"]),
    ({"lr": {"_type": "loguniform", "_value": [0, 1]}}, ["'lr'", "log bounds", "low=0"]),
    ({"lr": {"_type": "qloguniform", "_value": [-1, 1, 0.1]}}, ["'lr'", "log bounds", "low=-1"]),
    ({"c": {"_type": "choice", "_value": []}}, ["'c'", "empty"]),
    ({"q": {"_type": "quniform", "_value": [0, 1, 0]}}, ["'q'", "q=0"]),
    ({"q": {"_type": "qnormal", "_value": [0, 1, -2]}}, ["'q'", "q=-2"]),
    ({"s": {"_type": "normal", "_value": [0, 0]}}, ["'s'", "sigma=0"]),
    ({"s": {"_type": "lognormal", "_value": [0, -1]}}, ["'s'", "sigma=-1"]),
    ({"v": {"_type": "uniform", "_value": [0, 1, 2]}}, ["'v'", "[low, high]", "[0, 1, 2]"]),
    ({"v": {"_type": "quniform", "_value": [0, 1]}}, ["'v'", "[low, high, q]", "[0, 1]"]),
    ({"v": {"_type": "normal", "_value": 3}}, ["'v'", "[mu, sigma]", "3"]),
    ({"v": {"_type": "choice", "_value": "abc"}}, ["'v'", "list of options", "'abc'"]),
    ({"v": {"_type": "choice", "_value": [[1, 2]]}}, ["'v'", "[1, 2]"]),
    ({"v": {"_type": "uniform", "_value": [0, "1"]}}, ["'v'", "_value[1]", "'1'"]),
    ({"v": {"_type": "uniform", "_value": [0, True]}}, ["'v'", "_value[1]", "True"]),
    ({"v": {"_type": "uniform", "_value": [0, float("inf")]}}, ["'v'", "finite", "inf"]),
    ({"v": {"_type": "uniform", "_value": [0, 10**400]}}, ["'v'", "finite"]),
    ({"v": {"_type": "uniform", "_value": [-1e308, 1e308]}}, ["'v'", "range"]),
    ({"v": {"_type": "randint", "_value": [0, 2**80]}}, ["'v'", "randint", str(2**80)]),
    ({"v": {"_type": "uniform", "_value": [0, 1], "q": 2}}, ["'v'", "unknown keys ['q']"]),
    ({"v": {"_type": "uniform"}}, ["'v'", "_value"]),
    ({"v": 5}, ["'v'", "got 5"]),
    (["x"], ["top level", "['x']"]),
    (
        {"n": {"_type": "choice", "_value": [{"_name": "a"}, {"_name": "a"}]}},
        ["'n'", "duplicate _name 'a'"],
    ),
    ({"n": {"_type": "choice", "_value": [{"_name": "a"}, 3]}}, ["'n'", "nested choice", "3"]),
    ({"n": {"_type": "choice", "_value": [{"k": 1}]}}, ["'n'", "option 0", "_name"]),
    (
        {
            "n": {
                "_type": "choice",
                "_value": [
                    {"_name": "a"},
                    {"_name": "b", "k": {"_type": "randint", "_value": [3, 1]}},
                ],
            }
        },
        ["'n/1/k'", "low=3", "high=1"],
    ),
    (
        {
            "n": {
                "_type": "choice",
                "_value": [{"_name": "b", "k": {"_type": "uniforn", "_value": [0, 1]}}],
            }
        },
        ["'n/0/k'", "'uniforn'"],
    ),
]


@pytest.mark.parametrize(("raw", "parts"), ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_every_bad_space_is_a_clear_error(raw: Any, parts: list[str]) -> None:
    with pytest.raises(SearchSpaceError) as e:
        SearchSpace.from_nni(raw)
    msg = str(e.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert "\n" not in msg


# -------------------------------------------------------------------------------------------------
# files


def test_load_json_and_yaml_files(tmp_path: Path) -> None:
    raw = {
        "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
        "bs": {"_type": "choice", "_value": [16, 32]},
    }
    (tmp_path / "s.json").write_text(json.dumps(raw))
    (tmp_path / "s.yml").write_text(
        "lr:\n  _type: loguniform\n  _value: [1.0e-4, 1.0e-1]\nbs: {_type: choice, _value: [16, 32]}\n"
    )
    assert (
        SearchSpace.load(tmp_path / "s.json")
        == SearchSpace.load(tmp_path / "s.yml")
        == SearchSpace.from_nni(raw)
    )


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "cannot read"),
        ("lr: [unclosed", "not valid JSON or YAML"),
        (b"\xff\xfe{}", "UTF-8"),
        ("[" * 5000, "s.json"),
        ('{"lr": {"_type": "uniform", "_value": [1, 0]}}', "'lr'"),
    ],
    ids=["missing", "malformed", "not-utf8", "deep", "invalid"],
)
def test_load_errors_name_the_file(
    tmp_path: Path, content: str | bytes | None, expect: str
) -> None:
    path = tmp_path / "s.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(SearchSpaceError) as e:
        SearchSpace.load(path)
    assert expect in str(e.value) and "s.json" in str(e.value)
