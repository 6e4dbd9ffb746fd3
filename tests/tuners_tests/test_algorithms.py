"""Behaviour of the built-in search algorithms beyond the contract: option checks, learning,
concurrency, and the optional torch dependency."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from hyperloom.errors import MissingDependencyError, PluginError
from hyperloom.registry import load_tuner
from hyperloom.space import SearchSpace
from hyperloom.tuners.anneal import AnnealTuner
from hyperloom.tuners.evolution import EvolutionTuner
from hyperloom.tuners.random import RandomTuner
from hyperloom.tuners.tpe import TPETuner
from hyperloom.types import TrialResult, TrialStatus

SPHERE = SearchSpace.from_nni(
    {f"x{i}": {"_type": "uniform", "_value": [-5.0, 5.0]} for i in range(4)}
)


def sphere(p: dict[str, Any]) -> float:
    return float(sum((v - 1.0) ** 2 for v in p.values()))


def best_after(tuner: Any, space: SearchSpace, f: Any, n: int) -> float:
    best = np.inf
    for i in range(n):
        p = tuner.suggest(str(i))
        v = f(p)
        best = min(best, v)
        tuner.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, v))
    return float(best)


@pytest.mark.parametrize(
    ("name", "args", "bad"),
    [
        ("tpe", {"gamma": 1.5}, "gamma"),
        ("tpe", {"n_candidates": 0}, "n_candidates"),
        ("tpe", {"constant_liar": "yes"}, "constant_liar"),
        ("evolution", {"population_size": 1}, "population_size"),
        ("evolution", {"population_size": 4, "sample_size": 5}, "sample_size"),
        ("evolution", {"crossover_rate": 2}, "crossover_rate"),
        ("anneal", {"shrink_coef": -1}, "shrink_coef"),
        ("anneal", {"n_startup": 0}, "n_startup"),
        ("rl", {"algorithm": "a2c"}, "algorithm"),
        ("rl", {"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_options_name_the_argument(name: str, args: dict[str, Any], bad: str) -> None:
    if name == "rl":
        pytest.importorskip("torch")
    with pytest.raises(PluginError, match=bad):
        load_tuner(name, SPHERE, **args)


def test_unknown_option_is_rejected_by_signature() -> None:
    with pytest.raises(PluginError, match="n_startup"):
        load_tuner("tpe", SPHERE, n_start=3)


@pytest.mark.parametrize("cls", [TPETuner, EvolutionTuner, AnnealTuner])
def test_model_based_tuners_beat_random_on_a_sphere(cls: type) -> None:
    ours = [best_after(cls(SPHERE, mode="minimize", seed=s), SPHERE, sphere, 80) for s in range(5)]
    rand = [
        best_after(RandomTuner(SPHERE, mode="minimize", seed=s), SPHERE, sphere, 80)
        for s in range(5)
    ]
    assert np.median(ours) < 0.5 * np.median(rand), (ours, rand)


def test_tpe_constant_liar_spreads_concurrent_suggestions() -> None:
    space = SearchSpace.from_nni({"x": {"_type": "uniform", "_value": [0.0, 1.0]}})
    tuner = TPETuner(space, mode="minimize", seed=0, n_startup=10)
    for i in range(30):
        p = tuner.suggest(f"h{i}")
        tuner.observe(TrialResult(f"h{i}", p, TrialStatus.SUCCEEDED, (p["x"] - 0.3) ** 2))
    batch = [tuner.suggest(f"p{i}")["x"] for i in range(8)]  # type: ignore[index]
    gaps = np.diff(np.sort(batch))
    assert len(set(batch)) == 8
    assert gaps.min() > 1e-4, batch


def test_tpe_handles_conditional_spaces_and_learns_the_branch() -> None:
    space = SearchSpace.from_nni(
        {
            "model": {
                "_type": "choice",
                "_value": [
                    {"_name": "a", "x": {"_type": "uniform", "_value": [0, 1]}},
                    {"_name": "b", "y": {"_type": "uniform", "_value": [0, 10]}},
                    {"_name": "c"},
                ],
            }
        }
    )

    def f(p: dict[str, Any]) -> float:
        m = p["model"]
        return {"a": 1.0 + m.get("x", 0), "b": abs(m.get("y", 0) - 7) * 0.1, "c": 0.5}[m["_name"]]

    tuner = TPETuner(space, mode="minimize", seed=3)
    names = []
    for i in range(60):
        p = tuner.suggest(str(i))
        names.append(p["model"]["_name"])
        tuner.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, f(p)))
    assert names[30:].count("b") > 20


def test_rl_learns_a_categorical_sequence() -> None:
    pytest.importorskip("torch")
    from hyperloom.tuners.rl import RLTuner

    options = ["a", "b", "c", "d", "e"]
    space = SearchSpace.from_nni(
        {f"l{i}": {"_type": "choice", "_value": options} for i in range(6)}
    )

    def f(p: dict[str, Any]) -> float:
        return float(sum(v == "c" for v in p.values()))

    tuner = RLTuner(space, mode="maximize", seed=0, batch_size=8)
    scores = []
    for i in range(120):
        p = tuner.suggest(str(i))
        scores.append(f(p))
        tuner.observe(TrialResult(str(i), p, TrialStatus.SUCCEEDED, scores[-1]))
    assert np.mean(scores[-30:]) > 2.5, scores  # random search averages 6 / 5 = 1.2


def test_rl_without_torch_raises_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperloom.tuners import rl

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"torch==2\.13\.0"):
        rl.RLTuner(SPHERE)


def test_rl_module_import_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, hyperloom.tuners.rl; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
