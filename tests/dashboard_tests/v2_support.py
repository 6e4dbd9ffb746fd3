"""Stores for the Pareto, lineage and rungs pages, written through the real Store API (schema v2:
``finish_trial(values=)``, ``add_trial(parent=, perturbation=)``, ``set_checkpoint``,
``set_status``)."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import config
from hyperloom.store import Store
from hyperloom.types import TrialStatus

MO_SPACE = {
    "width": {"_type": "randint", "_value": [8, 256]},
    "depth": {"_type": "randint", "_value": [1, 8]},
}


def needs_v2() -> None:
    """Skips the test on a store without the schema v2 writers."""
    if not hasattr(Store, "set_checkpoint") or not hasattr(Store, "set_status"):
        pytest.skip("needs store schema v2 (parent, values, checkpoints)")


def mo_config(n_objectives: int = 2, constraint: float | None = 4e5) -> dict[str, Any]:
    cfg = config("maximize")
    cfg["tuner"] = {"name": "random", "classArgs": {}}
    del cfg["assessor"]
    objs = [{"name": "accuracy", "mode": "maximize"}, {"name": "latency_ms", "mode": "minimize"}]
    if n_objectives == 3:
        objs.append({"name": "energy", "mode": "minimize"})
    cfg["objectives"] = objs
    if constraint is not None:
        cfg["constraints"] = [{"metric": "params", "max": constraint}]
    return cfg


def make_mo(
    d: Path, n: int = 40, n_objectives: int = 2, seed: int = 0, constraint: float | None = 4e5
) -> tuple[Store, list[dict[str, Any]]]:
    """A finished multi-objective experiment: accuracy (max) against latency (min) (and energy,
    min); ``params`` above ``constraint`` is infeasible. Returns the store and the trials."""
    needs_v2()
    d.mkdir(parents=True)
    store = Store.create(
        d,
        experiment_id=d.name,
        name="mo-demo",
        config=mo_config(n_objectives, constraint),
        space=MO_SPACE,
    )
    store.set_experiment_status("DONE")
    rng = random.Random(seed)
    t0 = time.time() - 5000
    out = []
    for i in range(n):
        tid = f"m{i:04d}"
        seq = store.allocate_sequence()
        width, depth = rng.randint(8, 256), rng.randint(1, 8)
        store.add_trial(tid, seq, {"width": width, "depth": depth})
        store.start_trial(tid, started=t0 + 10 * i)
        size = width * width * depth
        acc = 0.6 + 0.35 * (1 - math.exp(-size / 60000)) + rng.uniform(-0.03, 0.03)
        lat = 0.5 + size / 20000 + rng.uniform(0, 1.5)
        energy = lat * rng.uniform(0.5, 1.5)
        vals = [acc, lat, energy][:n_objectives]
        metrics = {"latency_ms": lat, "params": float(size), "energy": energy}
        for step in range(3):
            store.add_metric(tid, step, acc * (step + 1) / 3, t=t0 + 10 * i + step)
        store.set_final(tid, acc, metrics)
        store.finish_trial(
            tid,
            TrialStatus.SUCCEEDED,
            ended=t0 + 10 * i + 5,
            exit_code=0,
            value=acc,
            values=vals,
        )
        out.append({"trial_id": tid, "sequence": seq, "values": vals, "params": float(size)})
    return store, out


def pbt_config() -> dict[str, Any]:
    cfg = config("maximize")
    cfg["tuner"] = {"name": "pbt", "classArgs": {"mode": "maximize", "population_size": 4}}
    del cfg["assessor"]
    return cfg


def make_pbt(d: Path, population: int = 4, generations: int = 3, interval: int = 5) -> Store:
    """A PBT-like experiment: each generation, the worst member is replaced by a copy of the best
    one, warm-started from its checkpoint at the generation's last step with a perturbed lr.
    Trial ``g{gen}m{k}``; every member's value at step s is ``lr * 10 + s`` (so curves are easy
    to check)."""
    needs_v2()
    d.mkdir(parents=True)
    store = Store.create(
        d,
        experiment_id=d.name,
        name="pbt-demo",
        config=pbt_config(),
        space={"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}},
    )
    store.set_experiment_status("DONE")
    t0 = time.time() - 5000
    members: list[tuple[str, float]] = []
    for k in range(population):
        tid = f"g0m{k}"
        store.add_trial(tid, store.allocate_sequence(), {"lr": 0.01 * (k + 1)}, t=t0)
        store.start_trial(tid, started=t0)
        members.append((tid, 0.01 * (k + 1)))
    total = interval * generations
    alive = {tid: lr for tid, lr in members}
    start = {tid: 0 for tid in alive}
    for gen in range(generations):
        lo, hi = gen * interval, (gen + 1) * interval
        for tid, lr in list(alive.items()):
            for step in range(max(lo, start[tid]), hi):
                store.add_metric(tid, step, lr * 10 + step, t=t0 + step)
            store.set_checkpoint(tid, hi - 1, f"/ckpt/{tid}/{hi - 1}")
        if gen == generations - 1:
            break
        ranked = sorted(alive.items(), key=lambda kv: kv[1])
        worst, best = ranked[0], ranked[-1]
        store.finish_trial(
            worst[0],
            TrialStatus.EARLY_STOPPED,
            ended=t0 + hi,
            exit_code=-15,
            reason="pbt: exploited",
            value=worst[1] * 10 + hi - 1,
        )
        del alive[worst[0]]
        child = f"g{gen + 1}m0"
        new_lr = best[1] * 1.2
        store.add_trial(
            child,
            store.allocate_sequence(),
            {"lr": new_lr},
            t=t0 + hi,
            parent=best[0],
            perturbation={"lr": [best[1], new_lr]},
        )
        store.start_trial(child, started=t0 + hi)
        alive[child] = new_lr
        start[child] = hi
    for tid, lr in alive.items():
        store.set_final(tid, lr * 10 + total - 1)
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=t0 + total, exit_code=0)
    return store


def hyperband_config() -> dict[str, Any]:
    cfg = config("maximize")
    cfg["tuner"] = {"name": "hyperband", "classArgs": {"mode": "maximize"}}
    del cfg["assessor"]
    return cfg


def make_rungs(d: Path, n: int = 9) -> Store:
    """Successive halving by pause and resume with rungs at steps 0, 2 and 8: every trial
    reports to step 0 and pauses; a third are resumed to step 2 and pause again; one of those is
    resumed to step 8 and finishes. The others end EARLY_STOPPED at their rung, except the last
    trial, which stays PAUSED at step 0."""
    needs_v2()
    d.mkdir(parents=True)
    store = Store.create(
        d,
        experiment_id=d.name,
        name="hb-demo",
        config=hyperband_config(),
        space={"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}},
    )
    store.set_experiment_status("RUNNING")
    t0 = time.time() - 5000
    ids = [f"r{i:02d}" for i in range(n)]
    quality = {tid: (i * 7 % n) / n for i, tid in enumerate(ids)}
    t = t0

    def run(tid: str, a: int, b: int) -> None:
        nonlocal t
        for step in range(a, b + 1):
            t += 1
            store.add_metric(tid, step, quality[tid] * (step + 1), t=t)

    def pause(tid: str, step: int) -> None:
        # as the manager does: the verdict, then the pause itself
        store.add_event("assessor", tid, {"verdict": "PAUSE", "reason": "rung", "step": step}, t)
        store.set_status(tid, TrialStatus.PAUSED, reason=f"paused at rung step {step}")
        store.add_event("paused", tid, {"step": step, "checkpoint": step, "reason": "rung"}, t)

    def resume(tid: str, step: int) -> None:
        store.add_event("resumed", tid, {"start_step": step + 1, "checkpoint": step}, t)
        store.set_status(tid, TrialStatus.RUNNING)

    for tid in ids:
        store.add_trial(tid, store.allocate_sequence(), {"lr": 0.01}, t=t)
        store.start_trial(tid, started=t)
        run(tid, 0, 0)
        pause(tid, 0)
    ranked = sorted(ids, key=lambda x: -quality[x])
    top = ranked[: n // 3]
    for tid in top:
        resume(tid, 0)
        run(tid, 1, 2)
        pause(tid, 2)
    best = top[0]
    resume(best, 2)
    run(best, 3, 8)
    store.set_final(best, quality[best] * 9)
    store.finish_trial(best, TrialStatus.SUCCEEDED, ended=t, exit_code=0)
    for tid in ids:
        if tid != best and tid != ids[-1]:
            store.finish_trial(tid, TrialStatus.EARLY_STOPPED, ended=t, reason="not promoted")
    return store
