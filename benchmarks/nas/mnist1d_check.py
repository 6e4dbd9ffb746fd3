"""The size-matched end-to-end check on a second dataset: MNIST-1D (issue 21, session 7).

The same protocol as ``oneshot_e2e.py`` + ``size_matched.py`` on Fashion-MNIST, so a result
there is not Fashion-only: the nas-oneshot space and network (examples/nas-oneshot/common.py),
data from the ``mnist1d`` package's generator (2,000 training, 500 validation and 1,000 test
signals of length 40, shaped 1x40; generator seed 0, never downloaded). Per seed, one method
searches with its defaults (common.DEFAULTS, common.EPOCHS), the derived cell is retrained from
scratch (``train_standalone``, 4 epochs, the seed), and 5 random cells of the space whose
parameter count is within 3% of it (never the cell itself) are retrained identically; the
method wins the seed when it beats their mean. Results go to ``mnist1d_check.json`` after every
retraining (resumable: a seed whose search is stored is not searched again).

    nice -n 10 python benchmarks/nas/mnist1d_check.py --method spos --seeds 0 1 2 3 4
    python benchmarks/nas/mnist1d_check.py --table
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from _setup import common
from hyperloom.plugins.nas import Supernet, load_dataset, one_shot_search, train_standalone
from size_matched import fill_matched

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
OUT = HERE / "mnist1d_check.json"
DATA = {"n_train": 2000, "n_val": 500, "n_test": 1000, "seed": 0}
N_MATCHED = 5
TOL = 0.03
RETRAIN_EPOCHS = 4


def data() -> Any:
    return load_dataset("mnist1d", **DATA)


def retrain(arch: dict[str, Any], d: Any, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    net = Supernet(common.SPACE, d.input_shape, 10, **common.MODEL).extract(arch, inherit=False)
    w0, c0 = time.perf_counter(), time.process_time()
    scores = train_standalone(net, d, epochs=RETRAIN_EPOCHS, seed=seed)
    return {**scores, "wall": time.perf_counter() - w0, "cpu": time.process_time() - c0}


def run(method: str, seeds: list[int]) -> None:
    d = data()
    state = json.loads(OUT.read_text()) if OUT.exists() else {"data": DATA, "runs": {}}
    probe = Supernet(common.SPACE, d.input_shape, 10, **common.MODEL)
    for seed in seeds:
        run_ = state["runs"].setdefault(f"{method}:{seed}", {})
        if "arch" not in run_:
            torch.manual_seed(seed)
            net = Supernet(common.SPACE, d.input_shape, 10, **common.MODEL)
            w0, c0 = time.perf_counter(), time.process_time()
            res = one_shot_search(
                method, net, d, epochs=common.EPOCHS[method], seed=seed, **common.DEFAULTS[method]
            )
            search = {
                "search_wall": time.perf_counter() - w0,
                "search_cpu": time.process_time() - c0,
            }
            run_.update(arch=res.arch, val_acc_search=res.val_acc, notes=res.notes, **search)
            run_.update(retrain(res.arch, d, seed))
            run_["params"] = probe.extract(res.arch, inherit=False).num_parameters()
            OUT.write_text(json.dumps(state, indent=1))
            print(method, seed, run_["params"], run_["test_acc"], search, flush=True)
        size = int(run_["params"])
        slot = run_.setdefault("matched", [])
        fill_matched(
            probe,
            slot,
            size,
            run_["arch"],
            seed,
            TOL,
            lambda arch, seed=seed: retrain(arch, d, seed),
            lambda: OUT.write_text(json.dumps(state, indent=1)),
            "  matched",
        )
    OUT.write_text(json.dumps(state, indent=1))


def table() -> None:
    state = json.loads(OUT.read_text())
    by_method: dict[str, list[dict[str, Any]]] = {}
    for name, r in sorted(state["runs"].items()):
        if len(r.get("matched", [])) >= N_MATCHED:
            by_method.setdefault(name.split(":")[0], []).append(r)
    print(
        "| method (MNIST-1D) | seeds | retrained test acc (median) | its params (median) "
        "| mean of 5 size-matched random (median) | beats it | median margin | search + "
        "retrain CPU s (median) | wall s (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for m, rows in by_method.items():
        acc = [r["test_acc"] for r in rows]
        mm = [statistics.mean(x["test_acc"] for x in r["matched"]) for r in rows]
        wins = sum(a > b for a, b in zip(acc, mm, strict=True))
        med = statistics.median
        print(
            f"| {m} | {len(rows)} | {med(acc):.3f} | {med(r['params'] for r in rows):.0f} "
            f"| {med(mm):.3f} | {wins}/{len(rows)} "
            f"| {med(a - b for a, b in zip(acc, mm, strict=True)):+.3f} "
            f"| {med(r['search_cpu'] + r['cpu'] for r in rows):.0f} "
            f"| {med(r['search_wall'] + r['wall'] for r in rows):.0f} |"
        )
        print(
            f"{m} per seed: "
            + " / ".join(
                f"{a:.3f} vs {b:.3f} ({r['params']})" for a, b, r in zip(acc, mm, rows, strict=True)
            )
        )
        # the retraining noise of the controls: sd of the 5 matched cells' accuracies
        sds = [statistics.stdev(x["test_acc"] for x in r["matched"]) for r in rows]
        print(f"{m}: sd among the 5 size-matched random cells (median over seeds) {med(sds):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="spos", choices=("spos", "enas", "darts"))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        table()
    else:
        run(args.method, args.seeds)


if __name__ == "__main__":
    main()
