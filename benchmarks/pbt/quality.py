"""Quality: hyperloom pbt vs Ray Tune's PopulationBasedTraining vs random search vs the best
fixed hyperparameters, on the same toy trial (``toy.py``: the best learning rate and weight
decay change over training) and the same total steps, over seeds.

    python benchmarks/pbt/quality.py [--seeds 10] [--no-ray] [--json out.json]

Every method trains a population of 8 for 100 steps (800 steps; PBT adds the few steps an
exploited child repeats from its donor's checkpoint, counted and printed). Both PBTs use the
same options: perturbation every 4 steps, quantile 0.25, resample probability 0.25, factors
0.8/1.2, a checkpoint every 4 steps (at each perturbation step). The score of a run is the true (noise-free) final accuracy of
the trial with the best final reported (noisy) value, which is what a user would pick. "best
fixed" is an oracle: the best constant (lr, wd) of a 41 x 21 log grid, noise-free.

hyperloom's pbt runs through ``_drive.py`` (the manager's calls to the scheduler and the
checkpoint registry, in-process) rather than ``hyperloom run``: it measures the algorithm.
Ray runs its own controller with a function trainable that checkpoints every 4 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import toy
from _drive import Driver, make
from hyperloom.space import SearchSpace

POP = 8
INTERVAL = 4
COMMON = {"quantile_fraction": 0.25, "resample_probability": 0.25}


def run_hyperloom(seed: int, synch: str) -> tuple[float, int]:
    sched = make(
        seed,
        population_size=POP,
        perturbation_interval=INTERVAL,
        perturbation_factors=(0.8, 1.2),
        synch=synch,
        **COMMON,
    )
    drv = Driver(sched, slots=POP, seed=seed, ckpt_every=INTERVAL)
    c = drv.run()
    return drv.best_final(), c.total_steps


def run_random(seed: int) -> tuple[float, int]:
    space = SearchSpace.from_nni(toy.SPACE)
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed + 10_000)
    best_v, best_acc = -np.inf, 0.0
    for _ in range(POP):
        p = space.sample(rng)
        acc = 0.0
        for _ in range(toy.STEPS):
            acc = toy.step(acc, p["lr"], p["wd"])
            v = toy.measure(acc, noise)
        if v > best_v:
            best_v, best_acc = v, acc
    return best_acc, POP * toy.STEPS


def best_fixed() -> tuple[float, dict[str, float]]:
    best = max(
        (toy.run_fixed(lr, wd), lr, wd)
        for lr in np.logspace(-4, 0, 41)
        for wd in np.logspace(-5, -1, 21)
    )
    return best[0], {"lr": float(best[1]), "wd": float(best[2])}


def _ray_trainable(config: dict[str, Any]) -> None:
    import ray.tune as tune

    sys.path.insert(0, config["_dir"])
    import toy as toy_mod

    noise = np.random.default_rng(abs(hash((config["_seed"], config["lr"], config["wd"]))) % 2**32)
    acc, start = 0.0, 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = json.loads(Path(d, "state.json").read_text())
        acc, start = float(state["acc"]), int(state["step"]) + 1
    for s in range(start, toy_mod.STEPS):
        acc = toy_mod.step(acc, config["lr"], config["wd"])
        metrics = {"value": toy_mod.measure(acc, noise), "acc": acc, "step": s}
        if s % config["_every"] and s != toy_mod.STEPS - 1:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as d:
            Path(d, "state.json").write_text(json.dumps({"acc": acc, "step": s}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def run_ray(seed: int, storage: str) -> tuple[float, int]:
    import ray
    import ray.tune as tune
    from ray.tune.schedulers import PopulationBasedTraining

    for attempt in range(3):  # a loaded machine can time the raylet's start out
        if ray.is_initialized():
            break
        try:
            ray.init(
                num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
            )
        except Exception:
            if attempt == 2:
                raise
            time.sleep(10)
    pbt = PopulationBasedTraining(
        time_attr="step",
        perturbation_interval=INTERVAL,
        hyperparam_mutations={
            "lr": tune.loguniform(1e-4, 1.0),
            "wd": tune.loguniform(1e-5, 1e-1),
        },
        perturbation_factors=(1.2, 0.8),
        synch=False,
        **COMMON,
    )
    rng = np.random.default_rng(seed)
    space = SearchSpace.from_nni(toy.SPACE)
    starts = [space.sample(rng) for _ in range(POP)]
    tuner = tune.Tuner(
        tune.with_resources(_ray_trainable, {"cpu": 0.25}),
        param_space={
            # the same kind of initial population as hyperloom's: one seeded draw per member
            "member": tune.grid_search(list(range(POP))),
            "lr": tune.sample_from(lambda spec: starts[spec.config["member"]]["lr"]),
            "wd": tune.sample_from(lambda spec: starts[spec.config["member"]]["wd"]),
            "_seed": seed,
            "_every": INTERVAL,
            "_dir": str(Path(__file__).resolve().parent),
        },
        tune_config=tune.TuneConfig(
            scheduler=pbt, metric="value", mode="max", num_samples=1, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            name=f"pbt-quality-{seed}",
            storage_path=storage,
            verbose=0,
        ),
    )
    grid = tuner.fit()
    best_v, best_acc, total = -np.inf, 0.0, 0
    for r in grid:
        df = r.metrics_dataframe
        total += 0 if df is None else len(df)
        m = r.metrics or {}
        if m.get("step") == toy.STEPS - 1 and m.get("value", -np.inf) > best_v:
            best_v, best_acc = m["value"], m["acc"]
    return float(best_acc), total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument(
        "--ray-seeds", type=int, default=None, help="run Ray only on the first N seeds (slow)"
    )
    ap.add_argument("--json", default=str(Path(__file__).with_name("quality.json")))
    ap.add_argument(
        "--merge-ray",
        default=None,
        metavar="JSONL",
        help="instead of running: merge Ray scores ({seed: [score, steps, seconds]} lines, from "
        "separate run_ray calls) into the --no-ray JSON given as --json",
    )
    args = ap.parse_args()
    if args.merge_ray:
        return merge_ray(Path(args.json), Path(args.merge_ray))
    fixed, fixed_params = best_fixed()
    methods: dict[str, list[float]] = {
        "hyperloom pbt (async)": [],
        "hyperloom pbt (sync)": [],
        "random search": [],
    }
    steps: dict[str, list[int]] = {k: [] for k in methods}
    secs: dict[str, float] = dict.fromkeys(methods, 0.0)
    if not args.no_ray:
        methods["ray tune PBT"], steps["ray tune PBT"], secs["ray tune PBT"] = [], [], 0.0
    storage = tempfile.mkdtemp(prefix="pbt-ray-")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # a loaded machine: give the raylet and its agents time to start
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "300")
    os.environ.setdefault("RAY_agent_register_timeout_ms", "300000")
    for seed in range(args.seeds):
        for name in methods:
            if name == "ray tune PBT" and args.ray_seeds is not None and seed >= args.ray_seeds:
                continue
            t = time.perf_counter()
            if name == "hyperloom pbt (async)":
                score, n = run_hyperloom(seed, "async")
            elif name == "hyperloom pbt (sync)":
                score, n = run_hyperloom(seed, "sync")
            elif name == "random search":
                score, n = run_random(seed)
            else:
                score, n = run_ray(seed, storage)
            secs[name] += time.perf_counter() - t
            methods[name].append(score)
            steps[name].append(n)
        print(
            f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in methods.items()), flush=True
        )
        table(args.json, seed + 1, methods, steps, secs, fixed, fixed_params, show=False)
    table(args.json, args.seeds, methods, steps, secs, fixed, fixed_params, show=True)
    return 0


def merge_ray(path: Path, jsonl: Path) -> int:
    """Adds Ray's per-seed scores to a ``--no-ray`` result and prints the same-seed medians."""
    data = json.loads(path.read_text())
    ray: dict[int, float] = {}
    for line in jsonl.read_text().splitlines():
        for k, v in json.loads(line).items():
            ray[int(k)] = float(v[0])
    seeds = sorted(ray)
    rows = {r["method"]: r for r in data["rows"]}
    same = {name: statistics.median([r["scores"][i] for i in seeds]) for name, r in rows.items()}
    same["ray tune PBT"] = statistics.median(ray[i] for i in seeds)
    spread = {name: float(np.std([r["scores"][i] for i in seeds])) for name, r in rows.items()}
    spread["ray tune PBT"] = float(np.std([ray[i] for i in seeds]))
    data["ray"] = {"seeds": seeds, "scores": [ray[i] for i in seeds]}
    data["same_seeds"] = {"n": len(seeds), "seeds": seeds, "median": same, "std": spread}
    path.write_text(json.dumps(data, indent=2))
    print(f"on Ray's {len(seeds)} seeds {seeds}:")
    for name in same:
        print(f"  {name:24} median {same[name]:.4f}  std {spread[name]:.4f}")
    return 0


def table(
    path: str,
    seeds: int,
    methods: dict[str, list[float]],
    steps: dict[str, list[int]],
    secs: dict[str, float],
    fixed: float,
    fixed_params: dict[str, float],
    *,
    show: bool,
) -> None:
    """Writes the JSON over the seeds done so far (and prints the table with ``show``)."""
    rows = []
    if show:
        print(
            f"\n{'method':24} {'median':>7} {'IQR':>7} {'std':>7} {'min':>7} {'max':>7} "
            f"{'steps':>6} {'s/run':>6}"
        )
    for name, vals in methods.items():
        q1, q3 = np.percentile(vals, [25, 75])
        row = {
            "method": name,
            "median": statistics.median(vals),
            "iqr": float(q3 - q1),
            "std": float(np.std(vals)),
            "min": min(vals),
            "max": max(vals),
            "median_steps": statistics.median(steps[name]),
            "seconds_per_run": secs[name] / max(1, len(vals)),
            "seeds": len(vals),
            "scores": vals,
        }
        rows.append(row)
        if show:
            print(
                f"{name:24} {row['median']:7.4f} {row['iqr']:7.4f} {row['std']:7.4f} "
                f"{row['min']:7.4f} {row['max']:7.4f} {row['median_steps']:6.0f} "
                f"{row['seconds_per_run']:6.2f}"
            )
    if show:
        print(
            f"{'best fixed (oracle)':24} {fixed:7.4f}   lr={fixed_params['lr']:.3g} "
            f"wd={fixed_params['wd']:.3g} (noise-free, {toy.STEPS} steps)"
        )
    k = min(len(v) for v in methods.values())  # the seeds every method ran (Ray's, when fewer)
    same = {name: statistics.median(v[:k]) for name, v in methods.items() if k}
    if show and k < seeds:
        print(
            f"on the {k} seeds every method ran: "
            + ", ".join(f"{n} {m:.4f}" for n, m in same.items())
        )
    out = {
        "seeds": seeds,
        "rows": rows,
        "same_seeds": {"n": k, "median": same},
        "best_fixed": fixed,
        "best_fixed_params": fixed_params,
    }
    Path(path).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
