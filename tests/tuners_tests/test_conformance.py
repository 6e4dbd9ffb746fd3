"""Every registered tuner passes the conformance suite (one test per tuner and check)."""

from __future__ import annotations

import importlib.util

import pytest
from hyperloom.plugins.testing.tuners import TUNER_CHECKS, run_tuner_check
from hyperloom.registry import discover, load

TUNERS = sorted({info.name for info in discover("tuner")})


def test_builtins_are_registered() -> None:
    assert {"random", "grid", "tpe", "evolution", "rl", "anneal"} <= set(TUNERS)


@pytest.mark.parametrize("check", list(TUNER_CHECKS))
@pytest.mark.parametrize("name", TUNERS)
def test_conformance(name: str, check: str) -> None:
    if name == "rl" and importlib.util.find_spec("torch") is None:
        pytest.skip("the rl tuner needs torch")
    result = run_tuner_check(check, load("tuner", name))
    assert result.name == check
    assert result.ok, f"{name}: {result.detail}"
