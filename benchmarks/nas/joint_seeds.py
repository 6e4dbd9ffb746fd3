"""Joint architecture + hyperparameter search against one-shot searches with default
hyperparameters, repeated over outer seeds at equal compute (issue 21, item 3; session 6).

Per outer seed S, two experiments run through the normal manager (``hyperloom run``), each of
``--trials`` trials; every trial is a whole SPOS search (examples/nas-oneshot/search.py,
``--epochs`` supernet epochs, 50 inherited-weight evaluations) followed by a 4-epoch retraining
of the architecture it found, whose validation accuracy is the trial's value:

* **joint**: ``tpe`` (seed S, 3 random start-up trials) over the supernet's learning rate,
  weight decay and batch size and SPOS's population size, the search seed fixed to S;
* **default**: the default hyperparameters (examples/nas-oneshot/common.py), search seeds
  ``trials*S .. trials*S + trials-1``.

The width is **fixed** (8 channels) in both, unlike the session-3 example (whose joint win came
from a wider network): with the same number of trials, the same epochs and the same width, both
spend the same compute (trial seconds are recorded to check it), and a joint win can only come
from the training hyperparameters and the cells they lead to. Each experiment's pick is its best
trial by validation accuracy; the figure is that pick's held-out test accuracy.

    nice -n 10 python benchmarks/nas/joint_seeds.py --seeds 0 1 2      # -> joint_seeds.json
    python benchmarks/nas/joint_seeds.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
OUT = HERE / "joint_seeds.json"
HYPERLOOM = Path(sys.executable).with_name("hyperloom")


def config(kind: str, seed: int, trials: int, epochs: int) -> str:
    fixed = {"method": ["spos"], "epochs": [epochs], "retrain_epochs": [4]}
    space: dict[str, Any] = {k: {"_type": "choice", "_value": v} for k, v in fixed.items()}
    if kind == "joint":
        space.update(
            seed={"_type": "choice", "_value": [seed]},
            lr={"_type": "loguniform", "_value": [3e-4, 3e-2]},
            weight_decay={"_type": "loguniform", "_value": [1e-6, 1e-2]},
            batch_size={"_type": "choice", "_value": [32, 64, 128]},
            population_size={"_type": "choice", "_value": [5, 10, 20]},
        )
        tuner = {"name": "tpe", "classArgs": {"mode": "maximize", "seed": seed, "n_startup": 3}}
    else:
        space["seed"] = {
            "_type": "choice",
            "_value": list(range(trials * seed, trials * (seed + 1))),
        }
        tuner = {"name": "grid"}
    cfg = {
        "experimentName": f"nas-joint-{kind}-s{seed}",
        "trialCommand": f"{sys.executable} {EXAMPLES / 'nas-oneshot' / 'search.py'}",
        "trialCodeDirectory": str(EXAMPLES / "nas-joint"),
        "trialConcurrency": 1,
        "maxTrialNumber": trials,
        "searchSpace": space,
        "tuner": tuner,
    }
    import yaml  # PyYAML: YAML 1.1 reads a JSON "1e-06" as a string, so dump real YAML

    return str(yaml.safe_dump(cfg, sort_keys=False))


def run_one(kind: str, seed: int, trials: int, epochs: int) -> dict[str, Any]:
    from hyperloom import open_experiment

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(config(kind, seed, trials, epochs))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(HYPERLOOM), "run", f.name, "-q"], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    m = re.search(r"experiment\s+([a-z0-9]{8})", text)
    if m is None:
        raise SystemExit(f"no experiment id in:\n{text}")
    view = open_experiment(m.group(1))
    done = [t for t in view.trials() if t.value is not None]
    best = max(done, key=lambda t: t.value)
    return {
        "experiment": m.group(1),
        "trials": len(done),
        "best_val": best.value,
        "best_test": best.metrics.get("retrained_test_acc"),
        "best_params": {k: v for k, v in best.params.items() if k not in ("method", "epochs")},
        "test_accs": [t.metrics.get("retrained_test_acc") for t in done],
        "val_accs": [t.value for t in done],
        "trial_seconds": sum((t.ended or 0.0) - (t.started or 0.0) for t in done),
        "search_seconds": sum(float(t.metrics.get("search_seconds", 0.0)) for t in done),
    }


def table(out: Path = OUT) -> None:
    res = json.loads(out.read_text())
    med = statistics.median
    print(
        "| outer seed | joint: pick's test acc | default: pick's test acc | joint median trial "
        "| default median trial | joint / default trial seconds |"
    )
    print("|---|---|---|---|---|---|")
    wins = n = 0
    diffs = []
    for s, r in sorted(res.items(), key=lambda kv: int(kv[0])):
        if not {"joint", "default"} <= set(r):
            continue
        j, d = r["joint"], r["default"]
        n += 1
        wins += j["best_test"] > d["best_test"]
        diffs.append(j["best_test"] - d["best_test"])
        print(
            f"| {s} ({j['experiment']} / {d['experiment']}) | {j['best_test']:.3f} | "
            f"{d['best_test']:.3f} | {med(j['test_accs']):.3f} | {med(d['test_accs']):.3f} | "
            f"{j['trial_seconds']:.0f} / {d['trial_seconds']:.0f} |"
        )
    if n:
        print(f"joint beats default in {wins}/{n} outer seeds; median difference {med(diffs):+.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    out = Path(args.out)
    if args.table:
        table(out)
        return
    res = json.loads(out.read_text()) if out.exists() else {}
    for seed in args.seeds:
        for kind in ("joint", "default"):
            if kind in res.get(str(seed), {}):
                continue
            r = run_one(kind, seed, args.trials, args.epochs)
            res.setdefault(str(seed), {})[kind] = {**r, "epochs": args.epochs}
            out.write_text(json.dumps(res, indent=1))
            print(seed, kind, r["experiment"], r["best_test"], r["trial_seconds"], flush=True)
    table(out)


if __name__ == "__main__":
    main()
