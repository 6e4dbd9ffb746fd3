"""Simulate-executor functions over the recorded curves: ``trainingService: {platform: simulate,
function: "_sim_fn:<dataset>", steps: <epochs>}`` answers a point of :class:`_problems.Problem`'s
search space with the curve and epoch seconds of the nearest recorded configuration, exactly as
``_drive.replay`` does (for ``anytime_sim.py``; this folder must be on ``sys.path``)."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

from _problems import Problem


@cache
def problem(name: str) -> Problem:
    return Problem(name)


@lru_cache(maxsize=100_000)
def _row(name: str, key: str) -> int:
    return problem(name).lookup(json.loads(key))


def _play(name: str, params: dict[str, Any], step: int) -> tuple[float, float]:
    p = problem(name)
    row = _row(name, json.dumps(params, sort_keys=True))
    return float(p.curves[row, step]), float(p.seconds[row, step])


def digits(params: dict[str, Any], step: int) -> tuple[float, float]:
    return _play("digits", params, step)


def mnist1d(params: dict[str, Any], step: int) -> tuple[float, float]:
    return _play("mnist1d", params, step)


def fashion_sgd(params: dict[str, Any], step: int) -> tuple[float, float]:
    return _play("fashion_sgd", params, step)


def fashion(params: dict[str, Any], step: int) -> tuple[float, float]:
    return _play("fashion", params, step)
