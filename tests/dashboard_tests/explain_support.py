"""Stores for the explaining views (importance, contour, slices, curves, NAS parallel
coordinates), written with the real Store API. The value is a known function of the
parameters, so a test can say which parameters matter."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

from hyperloom.store import Store
from hyperloom.types import TrialStatus

#: lr and batch_size matter; dropout a little; layers, warmup and the optimizer's own
#: sub-parameters (momentum: conditional) do not
EXPLAIN_SPACE: dict[str, Any] = {
    "lr": {"_type": "loguniform", "_value": [1e-5, 1e-1]},
    "batch_size": {"_type": "choice", "_value": [16, 32, 64, 128, 256]},
    "dropout": {"_type": "uniform", "_value": [0.0, 0.6]},
    "layers": {"_type": "randint", "_value": [1, 9]},
    "warmup": {"_type": "uniform", "_value": [0.0, 1.0]},
    "optimizer": {
        "_type": "choice",
        "_value": [
            {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0.0, 0.99]}},
            {"_name": "adam"},
        ],
    },
}
BATCH_EFFECT = {16: 0.0, 32: 0.03, 64: 0.06, 128: 0.02, 256: -0.05}

NAS_OPS = [
    "conv_3x3",
    "conv_5x5",
    "sep_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
]
#: a NAS cell: 12 edges, each one of eight operations
NAS_SPACE: dict[str, Any] = {
    f"cell_edge_{i:02d}_op": {"_type": "choice", "_value": NAS_OPS} for i in range(12)
}


def explain_value(p: dict[str, Any]) -> float:
    """The known accuracy: a bowl in log10(lr), a bump per batch size, a slope in dropout."""
    u = math.log10(p["lr"])
    return 0.93 - 0.045 * (u + 2.7) ** 2 + BATCH_EFFECT[p["batch_size"]] - 0.02 * p["dropout"]


def _config(name: str, space: dict[str, Any], mode: str, n: int) -> dict[str, Any]:
    return {
        "experimentName": name,
        "trialCommand": "python train.py",
        "trialConcurrency": 4,
        "maxTrialNumber": n,
        "searchSpace": space,
        "tuner": {"name": "random", "classArgs": {"mode": mode}},
        "assessor": {"name": "median_stop", "classArgs": {}},
    }


def build_explain(
    d: Path, n: int = 120, seed: int = 0, exp_id: str | None = None, running: int = 0
) -> Store:
    """``n`` trials of the explain space: most succeed, some stop early (an assessor verdict)
    or fail; ``running`` more are still running. Returns the open store (close it)."""
    from hyperloom.space import SearchSpace

    d.mkdir(parents=True, exist_ok=True)
    store = Store.create(
        d,
        experiment_id=exp_id or d.name,
        name="resnet-lr-batch",
        config=_config("resnet-lr-batch", EXPLAIN_SPACE, "maximize", n + running),
        space=EXPLAIN_SPACE,
    )
    store.set_experiment_status("RUNNING")
    space = SearchSpace.from_nni(EXPLAIN_SPACE)
    rng = random.Random(seed)
    t0 = time.time() - 40 * (n + running)
    for i in range(n + running):
        p = space.sample(rng.randrange(1 << 30))
        tid = f"tr{i:04d}"
        seq = store.allocate_sequence()
        store.add_trial(tid, seq, p)
        start = t0 + 40 * i
        store.start_trial(tid, started=start, pid=2000 + i, pgid=2000 + i, devices=[i % 2])
        final = explain_value(p) + rng.gauss(0, 0.004)
        steps = 12 if i < n else 5
        rate = 2.0 + 3.0 * rng.random()
        stop_early = i < n and i % 9 == 4
        v = 0.0
        for step in range(steps):
            v = final * (1 - math.exp(-(step + 1) / rate)) + rng.uniform(-0.004, 0.004)
            store.add_metric(tid, step, v, {"loss": 1 - v}, t=start + 3 * step)
            if stop_early and step == 5:
                break
        if i >= n:
            continue
        if stop_early:
            store.add_event(
                "assessor",
                tid,
                {
                    "verdict": "STOP",
                    "reason": "below the median of completed trials at step 5",
                    "step": 5,
                    "assessor": "median_stop",
                },
            )
            store.add_event(
                "stop_request",
                tid,
                {"status": "EARLY_STOPPED", "reason": "assessor: below the median"},
            )
            store.finish_trial(
                tid,
                TrialStatus.EARLY_STOPPED,
                ended=start + 18,
                exit_code=-15,
                reason="assessor: below the median of completed trials at step 5",
            )
        elif i % 17 == 11:
            store.add_event("channel_reject", tid, {"reason": "not a number: 'nan%'"})
            store.finish_trial(
                tid, TrialStatus.FAILED, ended=start + 30, exit_code=1, reason="exit code 1"
            )
        else:
            store.set_final(tid, final, {"loss": 1 - final})
            store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=start + 36, exit_code=0)
    return store


def build_nas(d: Path, n: int = 300, seed: int = 1) -> Store:
    """``n`` finished trials over 12 categorical axes (a NAS cell); value: some ops help."""
    d.mkdir(parents=True, exist_ok=True)
    store = Store.create(
        d,
        experiment_id=d.name,
        name="nas-cell-12-edges",
        config=_config("nas-cell-12-edges", NAS_SPACE, "maximize", n),
        space=NAS_SPACE,
    )
    store.set_experiment_status("DONE")
    rng = random.Random(seed)
    gain = {
        "conv_3x3": 0.02,
        "sep_conv_3x3": 0.025,
        "conv_5x5": 0.015,
        "dil_conv_5x5": 0.01,
        "max_pool_3x3": 0.0,
        "avg_pool_3x3": 0.0,
        "skip_connect": 0.005,
        "none": -0.03,
    }
    t0 = time.time() - 60 * n
    for i in range(n):
        p = {k: rng.choice(NAS_OPS) for k in NAS_SPACE}
        tid = f"nas{i:04d}"
        store.add_trial(tid, store.allocate_sequence(), p)
        store.start_trial(tid, started=t0 + 60 * i, pid=3000 + i, pgid=3000 + i, devices=[0])
        v = 0.7 + sum(gain[o] for o in p.values()) + rng.gauss(0, 0.01)
        for step in range(5):
            store.add_metric(tid, step, v * (1 - math.exp(-(step + 1))), {}, t=t0 + 60 * i + step)
        store.set_final(tid, v, {})
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=t0 + 60 * i + 50, exit_code=0)
    return store
