"""The multi-objective benchmark through ``hyperloom run`` on the simulate executor.

    nice -n 10 python benchmarks/multiobjective/sim_check.py [--problems nb201_cifar10]
        [--tuners random,tpe,tpe_ls,evolution] [--seeds 2] [--budget 100] [--concurrency 1]

mo_vs_optuna.py drives the tuners directly (suggest/observe). Here each problem's exhaustive
table becomes a simulate-executor table (``{"metric", "rows": [{"params", "curve", "seconds",
"metrics"}]}``: the first objective is the curve, a 4-step learning curve ending at the table's
value; the second is the row's metric), and every tuner runs through the real CLI, manager and
store with its default arguments (and ``seed``). The hypervolume regret of the stored values is
computed exactly as in mo_vs_optuna.py, and printed next to the direct driver's regret for the
same seed (from mo_vs_optuna*.json), so a difference between the two paths shows. Writes
sim_check.json next to this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hyperloom import open_experiment

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from mo_vs_optuna import HL_VARIANTS, PROBLEMS, Problem, _Table  # noqa: E402


def _table(prob: _Table, path: Path) -> None:
    assert prob.choices is not None
    rows = []
    keys = list(prob.choices)
    for key, losses in prob._rows.items():
        params = {k: prob.choices[k][int(c)] for k, c in zip(keys, key, strict=True)}
        v0 = prob.signs[0] * losses[0]  # the table's own units
        v1 = prob.signs[1] * losses[1]
        rows.append(
            {
                "params": params,
                "curve": [
                    v0 * (s + 1) / 4 if prob.signs[0] < 0 else v0 * (4 - s) for s in range(4)
                ],
                "seconds": [60.0 * (s + 1) for s in range(4)],
                "metrics": {prob.metrics[1]: v1},
            }
        )
    mode = "maximize" if prob.signs[0] < 0 else "minimize"
    path.write_text(json.dumps({"metric": prob.metrics[0], "mode": mode, "rows": rows}))


def run(
    prob: Problem, table: Path, tuner: str, seed: int, budget: int, conc: int, work: Path
) -> Any:
    assert isinstance(prob, _Table)
    modes = ["maximize" if s < 0 else "minimize" for s in prob.signs]
    cfg = {
        "experimentName": f"sim-{prob.name}-{tuner}-{seed}",
        "searchSpace": prob.nni_space(),
        "trialConcurrency": conc,
        "maxTrialNumber": budget,
        "objectives": [{"name": m, "mode": md} for m, md in zip(prob.metrics, modes, strict=True)],
        # tpe_ls: tpe with local_search (as in mo_vs_optuna.py's hl_tpe_ls)
        "tuner": {
            "name": HL_VARIANTS.get(tuner, (tuner, {}))[0],
            "classArgs": {"seed": seed, **HL_VARIANTS.get(tuner, (tuner, {}))[1]},
        },
        "trainingService": {"platform": "simulate", "table": str(table)},
        "experimentWorkingDirectory": str(work),
        "dashboard": False,
    }
    path = work / f"{prob.name}-{tuner}-{seed}.yml"
    path.write_text(yaml.safe_dump(cfg))
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "hyperloom.cli", "run", str(path), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    secs = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    with open_experiment(out.stdout.split()[1]) as view:
        trials = sorted(view.trials(), key=lambda t: t.sequence)
    vals = np.array([t.values for t in trials if t.values and len(t.values) == 2], dtype=float)
    losses = vals * np.array(prob.signs)
    return {
        "n": len(vals),
        "seconds": secs,
        "regret50": prob.regret(losses[:50]),
        f"regret{budget}": prob.regret(losses[:budget]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", default="nb201_cifar10")
    ap.add_argument("--tuners", default="random,tpe,evolution")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/hl-mo-sim"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out_path = HERE / "sim_check.json"
    data: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    direct: dict[str, Any] = {}
    for f in sorted(HERE.glob("mo_vs_optuna*.json")):
        direct.update(json.loads(f.read_text()).get("runs", {}))
    print(
        "| problem | tuner | seed | concurrency | sim regret50 | direct | sim regret100 | direct |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for pname in args.problems.split(","):
        prob = PROBLEMS[pname]()
        table = args.work / f"{pname}.json"
        if not table.exists():
            assert isinstance(prob, _Table), "tables only (the synthetic problems are continuous)"
            _table(prob, table)
        for tuner in args.tuners.split(","):
            for seed in range(args.seeds):
                key = f"{pname}|{tuner}|{seed}|c{args.concurrency}|b{args.budget}"
                if key not in data:
                    data[key] = run(
                        prob, table, tuner, seed, args.budget, args.concurrency, args.work
                    )
                    out_path.write_text(json.dumps(data, indent=1, sort_keys=True))
                r = data[key]
                d = direct.get(f"{pname}|hl_{tuner}|{seed}", {})
                b = args.budget
                print(
                    f"| {pname} | {tuner} | {seed} | {args.concurrency} | {r['regret50']:.4f} | "
                    f"{d.get('regret50', float('nan')):.4f} | {r[f'regret{b}']:.4f} | "
                    f"{d.get(f'regret{b}', float('nan')):.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
