"""Property-based tests of the search-space and config parsers, and of sampling.

Parsers: no input, however malformed, may raise anything but a ``HyperloomError`` (the CLI turns
those into one message and exit code 2; anything else would be a traceback). Sampling: every
sample of a valid space is a point of it, with NNI's semantics (q-grid, clipping, exclusive
randint bound, nested choices), and the grid of a small finite space is the whole space.
"""

from __future__ import annotations

import json
import math
import os
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hyperloom.config import Config
from hyperloom.errors import HyperloomError
from hyperloom.space import Choice, Normal, RandInt, SearchSpace, Uniform
from hyperloom.tuners.grid import iter_grid
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

# HYPERLOOM_FUZZ_SCALE=10 runs 10x the examples (a deeper search than the suite's default)
_SCALE = float(os.environ.get("HYPERLOOM_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=int(150 * _SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SAMPLING = settings(
    max_examples=int(100 * _SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

TYPES = [
    "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform",
    "normal", "qnormal", "lognormal", "qlognormal",
]  # fmt: skip

# -------------------------------------------------------------------------------------------------
# strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=12)
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
numbers = st.integers(-5, 5) | st.floats() | st.sampled_from([0, 0.0, -1, 1e-320, 1e308, 10**400])


@st.composite
def near_valid_param(draw: st.DrawFn, depth: int = 0) -> Any:
    """A parameter body that is often valid and often wrong in exactly one way."""
    type_name = draw(st.sampled_from(TYPES) | st.text(max_size=10) | scalars)
    if type_name == "choice" and depth < 2 and draw(st.booleans()):
        options = []
        for _ in range(draw(st.integers(0, 3))):
            opt: dict[str, Any] = {"_name": draw(st.sampled_from(["a", "b", ""]) | scalars)}
            for k in range(draw(st.integers(0, 2))):
                opt[f"p{k}"] = draw(near_valid_param(depth + 1))
            options.append(opt)
        value: Any = options
    else:
        value = draw(st.lists(numbers | scalars, max_size=4) | json_like)
    body: dict[str, Any] = {"_type": type_name, "_value": value}
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["_type", "_value", "extra"]))] = draw(json_like)
    if draw(st.integers(0, 9)) == 0:
        body.pop(draw(st.sampled_from(["_type", "_value"])))
    return body


near_valid_space = st.dictionaries(
    st.text(string.ascii_letters, max_size=5), near_valid_param(), max_size=4
)


@st.composite
def valid_param(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """A parameter body that must parse (moderate magnitudes)."""
    t = draw(st.sampled_from(TYPES))
    fin = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    if t == "choice":
        if depth < 2 and draw(st.booleans()):
            names = draw(
                st.lists(
                    st.text(string.ascii_lowercase, min_size=1, max_size=4),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
            opts = []
            for name in names:
                sub = draw(
                    st.dictionaries(
                        st.sampled_from(["k", "m", "n"]), valid_param(depth + 1), max_size=2
                    )
                )
                opts.append({"_name": name, **sub})
            return {"_type": "choice", "_value": opts}
        opt = st.integers(-100, 100) | fin | st.text(max_size=5) | st.booleans() | st.none()
        return {"_type": "choice", "_value": draw(st.lists(opt, min_size=1, max_size=5))}
    if t == "randint":
        low = draw(st.integers(-1000, 1000))
        return {"_type": t, "_value": [low, low + draw(st.integers(1, 50))]}
    if t in ("uniform", "quniform"):
        low = draw(fin)
        high = low + draw(st.floats(1e-3, 1e6))
        assume(high > low)
        value = [low, high]
    elif t in ("loguniform", "qloguniform"):
        low = draw(st.floats(1e-6, 1e3))
        high = low * draw(st.floats(1.001, 1e6))
        value = [low, high]
    else:  # normal types: mu, sigma
        mu = draw(st.floats(-10, 10)) if "log" in t else draw(fin)
        value = [mu, draw(st.floats(1e-3, 3 if "log" in t else 1e3))]
    if t.startswith("q"):
        value.append(draw(st.floats(1e-3, 1e3)))
    return {"_type": t, "_value": value}


valid_space = st.dictionaries(
    st.text(string.ascii_lowercase, min_size=1, max_size=4), valid_param(), min_size=1, max_size=4
)


def _only_hyperloom_errors(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except HyperloomError as e:
        assert str(e).strip(), "an error without a message"
        return None


# -------------------------------------------------------------------------------------------------
# parsers never raise anything but HyperloomError


@FUZZ
@given(json_like)
def test_from_nni_arbitrary_json(raw: Any) -> None:
    _only_hyperloom_errors(SearchSpace.from_nni, raw)


@FUZZ
@given(near_valid_space)
def test_from_nni_near_valid(raw: Any) -> None:
    space = _only_hyperloom_errors(SearchSpace.from_nni, raw)
    if space is not None:  # whatever parses can be sampled, checked and shown
        for seed in range(3):
            point = _only_hyperloom_errors(space.sample, seed)
            if point is not None:
                assert space.contains(point) or _has_unbounded_extreme(space), point
        for p in space.parameters:
            assert p.describe()


def _has_unbounded_extreme(space: SearchSpace) -> bool:
    """Normal types with a huge sigma may draw inf; those are left to validate() to reject."""
    return any(
        isinstance(p, Normal) and (abs(p.mu) > 1e300 or p.sigma > 1e300) for p in space.parameters
    )


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fuzzcfg")
    (d / "space.json").write_text(json.dumps({"x": {"_type": "uniform", "_value": [0, 1]}}))
    (d / "code").mkdir()
    return d


VALID = {
    "experimentName": "fuzz",
    "trialCommand": "python train.py",
    "trialCodeDirectory": "code",
    "trialConcurrency": 2,
    "maxTrialNumber": 10,
    "maxExperimentDuration": "1h",
    "maxTrialDuration": "90s",
    "searchSpace": {
        "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
        "layer": {"_type": "choice", "_value": [{"_name": "conv", "k": {"_type": "randint", "_value": [1, 4]}}]},
    },
    "tuner": {"name": "random", "classArgs": {"mode": "minimize"}},
    "assessor": {"name": "median_stop", "classArgs": {}},
    "trainingService": {"platform": "local", "useActiveGpu": False, "gpuIndices": [0]},
    "experimentWorkingDirectory": "exps",
    "channel": "file",
}  # fmt: skip
KEYS = [*VALID, "searchSpaceFile", "trialGpuNumber", "seed", "stopGracePeriod", "maxTrialRetries",
        "nniCompat", "metricCapture", "paramsAs", "dashboard", "authorName", "useAnnotation"]  # fmt: skip


@FUZZ
@given(
    raw=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_like, max_size=6)
    | json_like
)
def test_from_dict_arbitrary(raw: Any, base_dir: Path) -> None:
    if isinstance(raw, dict) and isinstance(raw.get("searchSpace"), dict):
        raw["searchSpace"].pop("plugin", None)  # never import whatever a fuzzer names
    _only_hyperloom_errors(Config.from_dict, raw, base_dir=base_dir)


@st.composite
def mutated_config(draw: st.DrawFn) -> dict[str, Any]:
    cfg = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "drop", "add", "typo", "nested"]))
        key = draw(st.sampled_from(sorted(cfg) or ["trialCommand"]))
        if op == "set":
            cfg[key] = draw(json_like | st.text() | numbers)
        elif op == "drop":
            cfg.pop(key, None)
        elif op == "add":
            cfg[draw(st.sampled_from(KEYS) | st.text(max_size=10))] = draw(json_like)
        elif op == "typo" and key in cfg:
            i = draw(st.integers(0, len(key)))
            cfg[key[:i] + draw(st.sampled_from(["x", "", "_"])) + key[i + 1 :]] = cfg.pop(key)
        elif op == "nested" and isinstance(cfg.get(key), dict) and cfg[key]:
            sub = cfg[key]
            sub[draw(st.sampled_from(sorted(sub)) | st.text(max_size=6))] = draw(
                json_like | st.text()
            )
    return cfg


@FUZZ
@given(raw=mutated_config())
def test_from_dict_mutated_valid(raw: dict[str, Any], base_dir: Path) -> None:
    cfg = _only_hyperloom_errors(Config.from_dict, raw, base_dir=base_dir)
    if cfg is not None:
        assert cfg.trial_command and cfg.trial_concurrency >= 1
        json.dumps(cfg.to_dict())  # what config.yaml is written from


def test_valid_config_parses(base_dir: Path) -> None:
    cfg = Config.from_dict(VALID, base_dir=base_dir)
    assert cfg.max_trial_duration == 90 and cfg.trial_code_directory == base_dir / "code"


VALID_YAML = yaml.safe_dump(VALID, sort_keys=False)


@FUZZ
@given(
    text=st.text(max_size=200)
    | st.builds(
        lambda i, j, s: VALID_YAML[:i] + s + VALID_YAML[j:],
        st.integers(0, len(VALID_YAML)),
        st.integers(0, len(VALID_YAML)),
        st.text(":-[]{}&*!|>'\"%@`#,? \n\t\\", max_size=6) | st.text(max_size=6),
    )
)
def test_load_yaml_text(text: str, base_dir: Path) -> None:
    path = base_dir / "fuzz.yml"
    path.write_text(text, encoding="utf-8")
    _only_hyperloom_errors(Config.load, path)


@FUZZ
@given(data=st.binary(max_size=100))
def test_load_yaml_bytes(data: bytes, base_dir: Path) -> None:
    path = base_dir / "fuzz-bytes.yml"
    path.write_bytes(data)
    _only_hyperloom_errors(Config.load, path)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000,  # deeply nested flow sequence
        "a: " + "{b: " * 3000,
        b"trialCommand: \xff\xfe python\n",  # not UTF-8
        "\ufeff",  # BOM only
    ],
)
def test_load_pathological_yaml(text: str | bytes, base_dir: Path) -> None:
    path = base_dir / "patho.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(HyperloomError):
        Config.load(path)


# -------------------------------------------------------------------------------------------------
# sampling


def _flat_values(space: SearchSpace, point: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(space[path], v) for path, v in space.flatten(point).items()]


def _on_q_grid(v: float, q: float) -> bool:
    k = v / q
    return abs(k - round(k)) <= 1e-6 * max(1.0, abs(k))


@SAMPLING
@given(valid_space, st.integers(0, 2**32 - 1))
def test_samples_are_points_of_the_space(raw: dict[str, Any], seed: int) -> None:
    space = SearchSpace.from_nni(raw)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        point = space.sample(rng)
        space.validate(point)
        json.dumps(point)  # what params.json is written from
        for p, v in _flat_values(space, point):
            if isinstance(p, RandInt):
                assert type(v) is int and p.lower <= v < p.upper  # upper bound exclusive
            elif isinstance(p, Uniform):
                assert p.lower <= v <= p.upper  # clipped to the bounds
                if p.quantum:
                    assert v in (p.lower, p.upper) or _on_q_grid(v, p.quantum), (p, v)
            elif isinstance(p, Normal):
                assert math.isfinite(v)
                if p.log:
                    assert v >= 0
                if p.quantum:
                    assert _on_q_grid(v, p.quantum), (p, v)
            elif isinstance(p, Choice):
                assert p.contains(v)


@SAMPLING
@given(valid_space)
def test_nested_choices_carry_exactly_their_options_params(raw: dict[str, Any]) -> None:
    space = SearchSpace.from_nni(raw)
    point = space.sample(0)

    def check(spec: dict[str, Any], values: dict[str, Any]) -> None:
        assert set(values) - {"_name"} == set(spec) - {"_name"}
        for name, body in spec.items():
            if name == "_name":
                continue
            v = values[name]
            if body["_type"] == "choice" and isinstance(body["_value"][0], dict):
                chosen = [o for o in body["_value"] if o["_name"] == v["_name"]]
                assert len(chosen) == 1
                check(chosen[0], v)

    check(raw, point)
    assert space.flatten(point) == space.flatten(space.assemble(space.flatten(point)))


@st.composite
def small_finite_space(draw: st.DrawFn) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["choice", "randint", "quniform", "nested"]))
        if kind == "choice":
            space[name] = {
                "_type": "choice",
                "_value": draw(st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True)),
            }
        elif kind == "randint":
            low = draw(st.integers(-5, 5))
            space[name] = {"_type": "randint", "_value": [low, low + draw(st.integers(1, 4))]}
        elif kind == "quniform":
            low = draw(st.integers(-3, 3)) + draw(st.sampled_from([0, 0.25, 0.5]))
            space[name] = {
                "_type": "quniform",
                "_value": [low, low + draw(st.integers(1, 3)), draw(st.sampled_from([0.5, 1, 2]))],
            }
        else:
            space[name] = {"_type": "choice", "_value": [
                {"_name": "x", "k": {"_type": "randint", "_value": [0, 2]}},
                {"_name": "y"},
            ]}  # fmt: skip
    return space


@SAMPLING
@given(small_finite_space(), st.integers(0, 2**32 - 1))
def test_grid_covers_every_point_of_a_finite_space(raw: dict[str, Any], seed: int) -> None:
    space = SearchSpace.from_nni(raw)
    grid = [json.dumps(p, sort_keys=True) for p in iter_grid(space, points_per_dim=1000)]
    assert len(grid) == len(set(grid)) == space.size()
    for g in grid:
        space.validate(json.loads(g))
    rng = np.random.default_rng(seed)
    samples = {json.dumps(space.sample(rng), sort_keys=True) for _ in range(60)}
    assert samples <= set(grid)


# -------------------------------------------------------------------------------------------------
# whole configs, classArgs of every built-in tuner and assessor, through the manager's build step
# (what `hyperloom run` checks before it writes anything) and a few suggestions


def _builtins(group: str) -> list[tuple[str, list[str]]]:
    """(name, classArgs it takes) of every built-in of ``group`` (the nni bridges load classes
    by name, which a fuzzer must never choose)."""
    import inspect

    from hyperloom import registry

    out = []
    for info in registry.discover(group):
        if info.distribution != "hyperloom" or info.name == "nni":
            continue
        cls = registry.load(group, info.name)
        skip = {"self", "space", "objectives", "constraints", "mode"}
        params = inspect.signature(cls.__init__).parameters
        out.append((info.name, [p for p in params if p not in skip]))
    return out


TUNERS = _builtins("tuner")
ASSESSORS = _builtins("assessor")
MB = 1024 * 1024
_EDGE_NUMBERS = [0, 1, -1, 2, 0.5, -0.5, 1e-12, 1e12, 10**12, 2**63, 10**400, 1e308]
arg_values = (
    st.sampled_from(_EDGE_NUMBERS)
    | st.integers(-5, 2000)
    | st.floats()
    | st.booleans()
    | st.none()
    | st.sampled_from(["ppo", "reinforce", "gap", "scott", "", "x" * 50])
    | st.lists(st.integers(-3, 3), max_size=3)
    | json_like
)
huge_params = st.sampled_from(
    [
        {"_type": "randint", "_value": [0, 2**31]},
        {"_type": "randint", "_value": [-(2**62), 2**62]},
        {"_type": "quniform", "_value": [0, 1e9, 1e-3]},
        {"_type": "choice", "_value": list(range(2000))},
    ]
)


@st.composite
def whole_config(draw: st.DrawFn) -> dict[str, Any]:
    cfg = json.loads(json.dumps(VALID))
    cfg["trainingService"] = {"platform": "local"}
    name, args = draw(st.sampled_from(TUNERS))
    keys = st.lists(st.sampled_from(args), unique=True, max_size=3) if args else st.just([])
    cargs = {k: draw(arg_values) for k in draw(keys)}
    if draw(st.integers(0, 4)) == 0:
        cargs[draw(st.text(string.ascii_lowercase, min_size=1, max_size=6))] = draw(arg_values)
    if draw(st.booleans()):
        cargs["mode"] = draw(st.sampled_from(["minimize", "maximize", "max", 3]))
    cfg["tuner"] = {"name": name, "classArgs": cargs}
    if draw(st.booleans()):
        aname, aargs = draw(st.sampled_from(ASSESSORS))
        akeys = st.lists(st.sampled_from(aargs), unique=True, max_size=3)
        acargs = {k: draw(arg_values) for k in draw(akeys)}
        cfg["assessor"] = {"name": aname, "classArgs": acargs}
    else:
        cfg.pop("assessor")
    space = draw(valid_space)
    if draw(st.integers(0, 3)) == 0:
        space[draw(st.sampled_from(["big", "lr"]))] = draw(huge_params)
    cfg["searchSpace"] = space
    if draw(st.integers(0, 4)) == 0:
        cfg["seed"] = draw(arg_values)
    if draw(st.integers(0, 4)) == 0:
        cfg[draw(st.sampled_from(KEYS))] = draw(arg_values)
    return cfg


@pytest.fixture(scope="module")
def warm_tuners() -> None:
    """Every built-in tuner made and asked once, so that lazy imports (torch for rl) are not
    charged to the first example that picks it."""
    from hyperloom import registry

    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0, 1]}})
    for name, _ in TUNERS:
        registry.load_tuner(name, space, mode="maximize", seed=0).suggest("T0")


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


@settings(
    max_examples=int(120 * _SCALE),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=whole_config())
def test_whole_configs_build_or_refuse_cleanly(
    raw: dict[str, Any], base_dir: Path, warm_tuners: None
) -> None:
    """Any config: ``Config.from_dict`` and the manager's build step (tuner and assessor made
    from their classArgs) raise nothing but HyperloomError, three suggestions follow for a config
    that builds, and none of it takes more than 500 MB or 20 s."""
    import time

    from hyperloom.manager import Manager

    start, before = time.monotonic(), _rss()
    cfg = _only_hyperloom_errors(Config.from_dict, raw, base_dir=base_dir)
    if cfg is None:
        return
    manager = Manager(cfg, experiment_id="fuzz0001", exp_dir=base_dir / "exp", store=None)
    if _only_hyperloom_errors(manager.build_parts) is None and manager.tuner is None:
        return
    tuner = manager.tuner
    assert tuner is not None
    for i in range(3):
        _only_hyperloom_errors(tuner.suggest, f"T{i:04d}")
    assert _rss() - before < 500 * MB, f"{(_rss() - before) / MB:.0f} MB for {raw}"
    assert time.monotonic() - start < 20, f"{time.monotonic() - start:.1f} s for {raw}"


# the real CLI: every refused config exits 2 with one line on stderr and writes nothing. One
# interpreter forks per config (a fresh process each, without paying Python's start-up each time).
CLI_BATCH = """
import json, os, sys
from hyperloom import registry
from hyperloom.cli import main
import hyperloom.manager
for group in ("tuner", "assessor"):  # imported once, before the forks
    for info in registry.discover(group):
        if info.name != "nni":
            registry.load(group, info.name)
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(["run", sys.argv[1], "--no-dashboard"])  # what the first run imports, imported once
codes = []
for path in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        for fd, name in ((1, ".out"), (2, ".err")):
            os.dup2(os.open(path + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        code = main(["run", path, "--no-dashboard"])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
"""


def _refused(raw: dict[str, Any], base_dir: Path) -> bool:
    from hyperloom.manager import Manager

    try:
        cfg = Config.from_dict(raw, base_dir=base_dir)
        Manager(cfg, experiment_id="fuzz0001", exp_dir=base_dir / "exp", store=None).build_parts()
    except HyperloomError:
        return True
    return False


HAND_PICKED = [
    ("tuner", {"name": "grid", "classArgs": {"points_per_dim": 1e11}}),
    ("tuner", {"name": "tpe", "classArgs": {"n_candidates": 10**12}}),
    ("tuner", {"name": "gp", "classArgs": {"n_candidates": -1}}),
    ("tuner", {"name": "evolution", "classArgs": {"population_size": 10**15}}),
    ("tuner", {"name": "rl", "classArgs": {"algorithm": "bogus"}}),
    ("tuner", {"name": "anneal", "classArgs": {"no_such_arg": 1}}),
    ("tuner", {"name": "random", "classArgs": {"seed": "abc"}}),
    ("assessor", {"name": "asha", "classArgs": {"min_resource": 9, "max_resource": 3}}),
    ("assessor", {"name": "median_stop", "classArgs": {"start_step": "x"}}),
    ("assessor", {"name": "curve_fitting", "classArgs": {"threshold": 1e400}}),
    ("searchSpace", {"n": {"_type": "randint", "_value": [0, 2**31]}, "q": {"_type": "x"}}),
    ("maxExperimentDuration", "9" * 400 + "h"),
    ("seed", -5),
]


@settings(
    max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate]
)
@given(batch=st.lists(whole_config(), min_size=12, max_size=12))
def test_cli_refuses_bad_whole_configs_with_exit_2_and_one_line(
    batch: list[dict[str, Any]], base_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import subprocess
    import sys

    work = tmp_path_factory.mktemp("cli-fuzz")
    home = work / "home"
    configs = []
    for key, value in HAND_PICKED:
        cfg = json.loads(json.dumps(VALID))
        cfg.pop("experimentWorkingDirectory")
        cfg[key] = value
        configs.append(cfg)
    configs += [c for c in batch if _refused(c, base_dir)]
    paths = []
    for i, cfg in enumerate(configs):
        cfg.pop("experimentWorkingDirectory", None)  # every experiment would go under home
        cfg["trialCodeDirectory"] = str(base_dir / "code")
        assert _refused(cfg, base_dir), cfg
        path = work / f"c{i:02d}.yml"
        path.write_text(yaml.safe_dump(cfg))
        paths.append(path)
    env = {**os.environ, "HYPERLOOM_HOME": str(home), "COLUMNS": "60"}
    res = subprocess.run(
        [sys.executable, "-c", CLI_BATCH, *map(str, paths)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    codes = json.loads(res.stdout.strip().splitlines()[-1])
    for path, code in zip(paths, codes, strict=True):
        err = Path(str(path) + ".err").read_text()
        lines = [line for line in err.splitlines() if line.strip()]
        errors = [line for line in lines if not line.startswith("warning: ")]
        assert code == 2, (path.read_text(), err)
        assert len(errors) == 1 and errors[0].startswith("error: "), err
        assert "Traceback" not in err
    assert not home.exists() or not [p for p in home.iterdir() if p.name != ".index"]
