"""Two objectives end to end: ``hyperloom run`` on a simulate-executor table, every
multi-objective tuner, then ``hyperloom trials --json`` and ``--pareto`` read the front back.

The table is a small trade-off (accuracy against latency, like NAS-Bench-201's), with the second
objective in each row's ``metrics``; the test checks that every trial's values are the table's,
that the CLI's ``pareto`` flags are the exact front of what ran, and that the tuners search: a
finite space, no configuration twice.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyperloom import open_experiment, pareto
from hyperloom.types import TrialStatus

CHOICES = {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3], "c": [0, 1, 2]}  # 60 configurations


def _row(a: int, b: int, c: int) -> tuple[float, float]:
    """(accuracy, latency): bigger a and b cost latency and buy accuracy; c is a cheap knob
    whose middle value is best."""
    acc = 0.5 + 0.08 * a + 0.05 * b - 0.03 * abs(c - 1) - 0.004 * a * b
    lat = 1.0 + a * a * 0.7 + 1.5 * b + 0.2 * c
    return round(acc, 6), round(lat, 6)


def _table(path: Path) -> dict[tuple[int, int, int], tuple[float, float]]:
    rows, truth = [], {}
    for a, b, c in itertools.product(*CHOICES.values()):
        acc, lat = _row(a, b, c)
        truth[(a, b, c)] = (acc, lat)
        rows.append(
            {
                "params": {"a": a, "b": b, "c": c},
                "curve": [acc * (s + 1) / 4 for s in range(4)],
                "seconds": [30.0 * (s + 1) for s in range(4)],
                "metrics": {"latency_ms": lat},
            }
        )
    path.write_text(json.dumps({"metric": "accuracy", "mode": "maximize", "rows": rows}))
    return truth


def _hyperloom(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperloom.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("tuner", "class_args"),
    [
        ("random", {"seed": 1}),
        ("tpe", {"seed": 2}),  # defaults otherwise, as a user's config would have them
        ("tpe", {"seed": 2, "n_startup": 5}),
        ("evolution", {"seed": 3, "population_size": 6, "sample_size": 3}),
        ("gp", {"seed": 4}),
    ],
)
def test_two_objectives_from_a_table(
    tmp_path: Path, tuner: str, class_args: dict[str, Any]
) -> None:
    table = tmp_path / "table.json"
    truth = _table(table)
    n = 14
    cfg = {
        "experimentName": f"mo-{tuner}",
        "searchSpace": {k: {"_type": "choice", "_value": v} for k, v in CHOICES.items()},
        "trialConcurrency": 2,
        "maxTrialNumber": n,
        "objectives": [
            {"name": "accuracy", "mode": "maximize"},
            {"name": "latency_ms", "mode": "minimize"},
        ],
        "tuner": {"name": tuner, "classArgs": class_args},
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    path = tmp_path / "mo.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = _hyperloom("run", str(path), "--no-dashboard")
    assert out.returncode == 0, out.stderr
    exp_id = out.stdout.split()[1]
    with open_experiment(exp_id) as view:
        trials = list(view.trials())
        front_ids = {t.trial_id for t in view.pareto_front()}
    assert len(trials) == n
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    keys = [(t.params["a"], t.params["b"], t.params["c"]) for t in trials]
    assert len(set(keys)) == n  # a finite space: nothing twice
    for t, k in zip(trials, keys, strict=True):
        assert list(t.values) == pytest.approx(list(truth[k]))  # both objectives recorded
    vals = [tuple(t.values) for t in trials]
    mask = pareto.pareto_mask(pareto.as_losses(vals, ["maximize", "minimize"]))
    assert front_ids == {t.trial_id for t, m in zip(trials, mask, strict=True) if m}
    assert front_ids
    # the hypervolume of what ran is positive and at most that of the table's true front
    every = [tuple(v) for v in truth.values()]
    losses_all = pareto.as_losses(every, ["maximize", "minimize"])
    ref = pareto.reference_point(losses_all)
    found = pareto.hypervolume(pareto.as_losses(vals, ["maximize", "minimize"]), ref)
    assert 0 < found <= pareto.hypervolume(losses_all, ref) + 1e-12
    if tuner != "tpe" or "n_startup" in class_args:
        return
    # the CLI reads the same front back: --json flags every trial, --pareto lists the front
    env_dir = str(tmp_path / "exps" / exp_id)
    got = _hyperloom("trials", env_dir, "--json")
    assert got.returncode == 0, got.stderr
    rows = {r["trial_id"]: r for r in json.loads(got.stdout)}
    assert {tid for tid, r in rows.items() if r["pareto"]} == front_ids
    assert all(
        r["values"]
        == pytest.approx(list(truth[(r["params"]["a"], r["params"]["b"], r["params"]["c"])]))
        for r in rows.values()
    )
    shown = _hyperloom("trials", env_dir, "--pareto")
    assert shown.returncode == 0, shown.stderr
    assert all(tid in shown.stdout for tid in front_ids)
    assert not any(tid in shown.stdout for tid in set(rows) - front_ids)
