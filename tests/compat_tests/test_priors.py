"""Orion-style priors on the command line: parsed safely, turned into a space and a template."""

from __future__ import annotations

from pathlib import Path

import pytest
from hyperloom.config import Config
from hyperloom.errors import UsageError
from hyperloom.priors import config_from_argv, parse_argv, parse_prior
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("uniform(0, 1)", {"_type": "uniform", "_value": [0, 1]}),
        ("uniform(1, 5, discrete=True)", {"_type": "randint", "_value": [1, 6]}),
        ("loguniform(1e-5, 1)", {"_type": "loguniform", "_value": [1e-05, 1]}),
        ("loguniform(1e-3, 1, q=0.001)", {"_type": "qloguniform", "_value": [0.001, 1, 0.001]}),
        ("normal(0, 2)", {"_type": "normal", "_value": [0, 2]}),
        ("gaussian(-1, 0.5)", {"_type": "normal", "_value": [-1, 0.5]}),
        ("lognormal(0, 1)", {"_type": "lognormal", "_value": [0, 1]}),
        ("randint(1, 8)", {"_type": "randint", "_value": [1, 8]}),
        ("choices(['adam', 'sgd'])", {"_type": "choice", "_value": ["adam", "sgd"]}),
        ('choices("a", "b", 3)', {"_type": "choice", "_value": ["a", "b", 3]}),
        ("  uniform(-2.5, 2.5)  ", {"_type": "uniform", "_value": [-2.5, 2.5]}),
    ],
)
def test_priors_become_nni_entries(text: str, spec: dict) -> None:
    assert parse_prior(text) == spec


def test_ignored_keywords_are_reported() -> None:
    warnings: list[str] = []
    assert (
        parse_prior("uniform(0, 1, default_value=0.5, precision=3)", warnings=warnings)["_type"]
        == "uniform"
    )
    assert len(warnings) == 2 and "default_value" in warnings[0] and "precision" in warnings[1]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("choices({'a': 0.2, 'b': 0.8})", "weighted"),
        ("fidelity(1, 100, base=2)", "fidelity"),
        ("beta(1, 2)", "unknown prior"),
        ("uniform(0)", "2 arguments"),
        ("uniform('a', 1)", "must be a number"),
        ("uniform(0, 1, shape=3)", "shape"),
        ("loguniform(1, 10, discrete=True)", "discrete loguniform"),
        ("randint(1.5, 3)", "integers"),
        ("uniform(0, 1", "not a valid expression"),
        ("os.system('x')", "must be a call"),
    ],
)
def test_bad_priors_say_what_to_do(text: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_prior(text)


def test_nothing_is_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    for text in (
        f"uniform(__import__('os').system('touch {marker}'), 1)",
        f"choices([open('{marker}', 'w')])",
        "uniform(*[0, 1])",
        "uniform(0, 1, **{'q': 1})",
    ):
        with pytest.raises(UsageError):
            parse_prior(text)
    assert not marker.exists()


def test_argv_template_and_space() -> None:
    argv = [
        "python",
        "train.py",
        "--lr~loguniform(1e-5, 1)",
        "--layers~randint(1, 8)",
        "--data~/datasets/x",
        "--name",
        "my run",
        "-o~choices(['adam', 'sgd'])",
        "model.depth~choices([2, 4])",
        "--out={trial.working_dir}/ckpt",
    ]
    command, space, priors = parse_argv(argv)
    assert command == (
        "python train.py --lr {lr} --layers {layers} '--data~/datasets/x' --name 'my run' "
        "-o {o} model.depth={model.depth} '--out={trial_dir}/ckpt'"
    )
    assert list(space) == ["lr", "layers", "o", "model.depth"]
    assert [p.flag for p in priors] == ["--lr", "--layers", "-o", ""]


def test_duplicate_and_missing_priors() -> None:
    with pytest.raises(UsageError, match="two priors"):
        parse_argv(["python", "t.py", "--lr~uniform(0, 1)", "--lr~uniform(0, 2)"])
    with pytest.raises(UsageError, match="no search space"):
        config_from_argv(["python", "t.py", "--lr", "0.1"])
    with pytest.raises(UsageError, match="no trial command"):
        parse_argv([])


def test_config_from_argv_is_a_valid_config(tmp_path: Path) -> None:
    raw = config_from_argv(
        ["python", "train.py", "--lr~loguniform(1e-5, 1)", "--layers~randint(1, 8)"],
        tuner="tpe",
        max_trials=50,
        concurrency=2,
        mode="minimize",
        code_directory=tmp_path,
        metric_capture={"objective": "loss"},
    )
    assert raw["trialCommand"] == "python train.py --lr {lr} --layers {layers}"
    assert raw["maxTrialNumber"] == 50 and raw["trialConcurrency"] == 2
    cfg = Config.from_dict(raw, base_dir=tmp_path)
    assert cfg.mode == "minimize"
    assert cfg.tuner.name == "tpe"
    assert cfg.extras["metricCapture"] == {"objective": "loss"}
    assert cfg.experiment_name == "train"
    names = sorted(p.name for p in cfg.search_space.parameters)
    assert names == ["layers", "lr"]


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(1e-6, 1e6, allow_nan=False),
)
def test_uniform_bounds_round_trip(low: float, width: float) -> None:
    high = low + width
    if high <= low:
        return
    spec = parse_prior(f"uniform({low!r}, {high!r})")
    assert spec == {"_type": "uniform", "_value": [low, high]}
