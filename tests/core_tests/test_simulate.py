"""The simulate executor: table curves played through the real manager, tuner, assessor and
store on a virtual clock, driven by the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from hyperloom import open_experiment
from hyperloom.types import TrialStatus

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]
STEPS = 27


def make_table(path: Path, n: int = 60) -> None:
    rows = []
    for i in range(n):
        q = i / (n - 1)
        curve = [q * (1 - 0.9 ** (s + 1)) for s in range(STEPS)]
        rows.append(
            {
                "params": {"x": i},
                "curve": curve,
                "seconds": [60.0 * (s + 1) for s in range(STEPS)],
                "metrics": {"size": i * 10},
            }
        )
    path.write_text(json.dumps({"metric": "acc", "mode": "maximize", "rows": rows}))


def write(tmp_path: Path, table: Path, **kw: Any) -> Path:
    cfg: dict[str, Any] = {
        "experimentName": "sim",
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(60))}},
        "trialConcurrency": 4,
        "maxTrialNumber": 60,
        "tuner": {"name": "random", "classArgs": {"seed": 1}},
        "assessor": {
            "name": "asha",
            "classArgs": {"min_resource": 1, "reduction_factor": 3, "max_resource": STEPS},
        },
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    path = tmp_path / "sim.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_table_runs_through_the_real_manager_on_virtual_time(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    make_table(table)
    t0 = time.monotonic()
    out = subprocess.run(
        [*HYPERLOOM, "run", str(write(tmp_path, table)), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    exp_id = out.stdout.split()[1]
    with open_experiment(exp_id) as view:
        trials = list(view.trials())
    assert len(trials) == 60
    by_status = {s: [t for t in trials if t.status is s] for s in TrialStatus}
    assert by_status[TrialStatus.EARLY_STOPPED], "ASHA stopped some simulated trials"
    assert by_status[TrialStatus.SUCCEEDED]
    full = by_status[TrialStatus.SUCCEEDED][0]
    assert len(full.intermediate) == STEPS
    assert full.metrics.get("size") == full.params["x"] * 10
    # virtual time: a full trial lasted 27 virtual minutes, the whole run a few seconds of wall
    assert abs((full.ended - full.started) - 60.0 * STEPS) < 1.0
    span = max(t.ended for t in trials) - min(t.started for t in trials)
    assert span > 60.0 * STEPS and span > 10 * wall
    stopped = by_status[TrialStatus.EARLY_STOPPED][0]
    assert len(stopped.intermediate) < STEPS and stopped.value is not None


def test_bad_tables_are_config_errors(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    rows = [{"params": {"x": 0}, "curve": [0.1, 0.2], "seconds": [10.0, 5.0]}]
    table.write_text(json.dumps({"rows": rows}))
    out = subprocess.run(
        [*HYPERLOOM, "run", str(write(tmp_path, table)), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "must not decrease" in out.stderr and "rows[0]" in out.stderr
    assert "Traceback" not in out.stderr
    table.write_text(json.dumps({"rows": [{"params": {"x": 0}}]}))
    out = subprocess.run(
        [*HYPERLOOM, "run", str(write(tmp_path, table)), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "'curve'" in out.stderr, out.stderr


def test_a_config_of_only_a_table_takes_its_space_and_mode_and_resumes_elsewhere(
    tmp_path: Path,
) -> None:
    sub = tmp_path / "bench"
    sub.mkdir()
    rows = [
        {"params": {"x": x, "op": op}, "curve": [10.0 - x, 5.0 - x + (op == "b")]}
        for x in (1, 2, 3)
        for op in ("a", "b")
    ]
    (sub / "curves.json").write_text(json.dumps({"mode": "minimize", "rows": rows}))
    cfg = {
        "trainingService": {"platform": "simulate", "table": "curves.json"},  # the config's folder
        "maxTrialNumber": 3,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    (sub / "sim.yml").write_text(yaml.safe_dump(cfg))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = [*HYPERLOOM, "run", str(sub / "sim.yml"), "--no-dashboard"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    exp_id = out.stdout.split()[1]
    with open_experiment(exp_id) as view:
        assert view.mode == "minimize"  # the table's
        assert view.space.to_nni() == {  # the rows' values, numbers in order
            "x": {"_type": "choice", "_value": [1, 2, 3]},
            "op": {"_type": "choice", "_value": ["a", "b"]},
        }
        assert len(view.trials()) == 3
    third = tmp_path / "third"
    third.mkdir()
    more = [*HYPERLOOM, "resume", exp_id, "--more", "3", "--no-dashboard"]
    out = subprocess.run(more, capture_output=True, text=True, timeout=120, cwd=third)
    assert out.returncode == 0, out.stderr
    with open_experiment(exp_id) as view:
        trials = view.trials()
    assert len(trials) == 6 and all(t.status is TrialStatus.SUCCEEDED for t in trials)
    assert min(t.value for t in trials if t.value is not None) == 2.0  # x=3, op a: 5 - 3


def test_the_end_of_run_summary_of_several_objectives_is_their_pareto_front(
    tmp_path: Path,
) -> None:
    rows = [
        {"params": {"x": x}, "curve": [float(x)], "metrics": {"cost": float(x * x)}}
        for x in range(6)
    ]
    (tmp_path / "t.json").write_text(json.dumps({"rows": rows}))
    cfg = {
        "trainingService": {"platform": "simulate", "table": "t.json"},
        "objectives": [{"name": "acc", "mode": "maximize"}, {"name": "cost", "mode": "minimize"}],
        "tuner": {"name": "random", "classArgs": {"seed": 0}},
        "maxTrialNumber": 6,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    (tmp_path / "mo.yml").write_text(yaml.safe_dump(cfg))
    run = [*HYPERLOOM, "run", str(tmp_path / "mo.yml"), "--no-dashboard"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "Pareto front, first" in text and "acc (max), cost (min)" in text
    assert "5, 25" in text and "0, 0" in text  # both ends of the front, every value shown


def test_the_nearest_row_answers_a_parameter_set_the_table_lacks() -> None:
    from hyperloom._executor_sim import _NearestRows

    rows = [
        {"lr": 0.001, "op": "conv", "depth": 2},
        {"lr": 0.01, "op": "conv", "depth": 2},
        {"lr": 0.1, "op": "pool", "depth": 4},
    ]
    index = _NearestRows(rows)
    # numbers by rank among the rows' values: 0.003 lies between 0.001 and 0.01, nearer 0.001
    # in rank than 0.1 whatever the scale
    assert json.loads(index.nearest({"lr": 0.002, "op": "conv", "depth": 2}))["lr"] == 0.001
    assert json.loads(index.nearest({"lr": 0.009, "op": "conv", "depth": 2}))["lr"] == 0.01
    # a categorical mismatch costs a whole unit: pool's row wins only when lr and depth agree
    assert json.loads(index.nearest({"lr": 0.1, "op": "conv", "depth": 4}))["op"] == "pool"
    assert json.loads(index.nearest({"lr": 0.01, "op": "pool", "depth": 2}))["op"] == "conv"
    # values outside the rows' range and unknown categories still find a row
    got = json.loads(index.nearest({"lr": 5.0, "op": "skip", "depth": 9}))
    assert got == {"depth": 4, "lr": 0.1, "op": "pool"}


def run_table(
    tmp_path: Path, table: Path, tuner: dict[str, Any], trials: int, **ts: Any
) -> subprocess.CompletedProcess[str]:
    """``hyperloom run`` of a config that names only the table (and its options) and a tuner."""
    cfg = {
        "trainingService": {"platform": "simulate", "table": str(table), **ts},
        "tuner": tuner,
        "maxTrialNumber": trials,
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    path = tmp_path / "sim.yml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run(
        [*HYPERLOOM, "run", str(path), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_sparse_table_answers_missing_points_by_the_nearest_row_or_refuses(
    tmp_path: Path,
) -> None:
    rows = [
        {"params": {"a": a, "b": b}, "curve": [float(a + b), float(a + b) + 0.5]}
        for a in range(6)
        for b in range(6)
        if (a + b) % 2 == 0  # half of the grid: a random search asks for the other half too
    ]
    table = tmp_path / "sparse.json"
    table.write_text(json.dumps({"mode": "maximize", "rows": rows}))
    out = run_table(tmp_path, table, {"name": "random", "classArgs": {"seed": 3}}, 20)
    assert out.returncode == 0, out.stderr
    assert "36 points and the table 18 rows" in out.stderr and "nearest row" in out.stderr
    with open_experiment(out.stdout.split()[1]) as view:
        trials = view.trials()
        log = (view.dir / "manager.log").read_text()
    assert len(trials) == 20 and all(t.status is TrialStatus.SUCCEEDED for t in trials)
    off_grid = [t for t in trials if (t.params["a"] + t.params["b"]) % 2]
    assert off_grid, "seed 3 asks for points that are no row"
    for t in off_grid:  # a neighbour one step away in a or in b: its sum is one off
        assert abs(t.value - 0.5 - (t.params["a"] + t.params["b"])) == 1.0
        row = rows[int(t.metrics["table_row"])]["params"]  # the row that answered, by index
        assert abs(row["a"] - t.params["a"]) + abs(row["b"] - t.params["b"]) == 1
    assert all("table_row" not in t.metrics for t in trials if t not in off_grid)
    assert f"{len(off_grid)} trial(s) had parameters that are no row" in log
    out = run_table(
        tmp_path, table, {"name": "random", "classArgs": {"seed": 3}}, 20, missingRows="error"
    )
    assert "no row has the parameters" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    out = run_table(tmp_path, table, {"name": "random"}, 20, missingRows="closest")
    assert out.returncode == 2 and "sim.yml: trainingService.missingRows" in out.stderr
    assert "'closest'" in out.stderr and "Traceback" not in out.stderr


def test_a_table_of_random_configurations_is_searched_over_ranges(tmp_path: Path) -> None:
    import random

    rng = random.Random(0)
    rows = []
    for _ in range(40):
        p = {
            "lr": 10 ** rng.uniform(-4, -1),
            "drop": rng.uniform(0.0, 0.5),
            "width": rng.choice([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8, 24, 48]),
            "op": rng.choice(["a", "b"]),
        }
        rows.append({"params": p, "curve": [p["drop"], 1.0 - p["drop"]]})
    table = tmp_path / "random.json"
    table.write_text(json.dumps({"mode": "maximize", "rows": rows}))
    out = run_table(tmp_path, table, {"name": "tpe", "classArgs": {"seed": 1}}, 30)
    assert out.returncode == 0, out.stderr
    assert "continuous parameters and the table 40 rows" in out.stderr
    with open_experiment(out.stdout.split()[1]) as view:
        space = view.space.to_nni()
        trials = view.trials()
    lrs = sorted(r["params"]["lr"] for r in rows)
    assert space["lr"] == {"_type": "loguniform", "_value": [lrs[0], lrs[-1]]}
    assert space["drop"]["_type"] == "uniform"
    assert space["width"] == {"_type": "qloguniform", "_value": [8, 4096, 1]}
    assert space["op"] == {"_type": "choice", "_value": ["a", "b"]}
    assert len(trials) == 30 and all(t.status is TrialStatus.SUCCEEDED for t in trials)
    # every value is a row's: the nearest row answered each suggestion
    finals = {1.0 - r["params"]["drop"] for r in rows}
    assert all(any(abs(t.value - f) < 1e-9 for f in finals) for t in trials)
