"""Weight-sharing fidelity, before and after: Kendall's tau between inherited-weight accuracy and
standalone accuracy for 50 sampled architectures of the nas-oneshot setting (Fashion-MNIST 7x7,
examples/nas-oneshot/common.py), for several ways of training and evaluating the supernet.

The standalone accuracies are the end-to-end benchmark's retraining (``train_standalone``, 4
epochs of Adam, test accuracy on the 1,000 held-out images), run once for two seeds and cached
in ``fidelity_standalone.json``; the tau between the two seeds is the noise ceiling (no
supernet can rank better than a second retraining does). Each supernet variant then costs only
its own training and 50 inherited-weight evaluations:

    nice -n 10 python benchmarks/nas/fidelity.py --standalone            # once (~11 CPU min)
    nice -n 10 python benchmarks/nas/fidelity.py --variant spos15 spos60_fair ...
    python benchmarks/nas/fidelity.py --table

Variants (see VARIANTS): the number of supernet epochs, uniform vs fair (FairNAS strict-
fairness) path sampling, learning-rate warmup, and the evaluation protocol (batch-norm
recalibration batches, validation rows). Results go to ``fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _setup import common
from hyperloom.plugins.nas import Supernet, evaluate_inherited, kendall_tau, train_standalone
from hyperloom.plugins.nas._oneshot import SearchResult
from hyperloom.plugins.nas._spos import train_single_path

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
STANDALONE = HERE / "fidelity_standalone.json"
RESULTS = HERE / "fidelity.json"
N_ARCHS = 50
RETRAIN_EPOCHS = 4

#: name -> (supernet training options, evaluation options)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # the previous defaults: 15 epochs, uniform paths, BN on 2 batches, 500 validation rows
    "spos15": ({"epochs": 15}, {"bn_batches": 2}),
    "spos15_nobn": ({"epochs": 15}, {"bn_batches": 0}),
    "spos15_bn8": ({"epochs": 15}, {"bn_batches": 8}),
    "spos15_fair": ({"epochs": 15, "sampling": "fair"}, {"bn_batches": 2}),
    "spos60": ({"epochs": 60}, {"bn_batches": 2}),
    "spos60_fair": ({"epochs": 60, "sampling": "fair"}, {"bn_batches": 2}),
    "spos60_fair_warm": ({"epochs": 60, "sampling": "fair", "warmup_epochs": 3}, {"bn_batches": 2}),
    "spos60_fair_bn8": ({"epochs": 60, "sampling": "fair"}, {"bn_batches": 8}),
    "spos120_fair": ({"epochs": 120, "sampling": "fair"}, {"bn_batches": 2}),
    "spos120": ({"epochs": 120}, {"bn_batches": 2}),
}


def sample_archs(data: Any, n: int = N_ARCHS, seed: int = 0) -> list[dict[str, Any]]:
    net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
    rng = np.random.default_rng(seed + 100)
    return [net.sample(rng) for _ in range(n)]


def standalone(seeds: list[int], limit: int | None = None) -> None:
    data = common.data()
    archs = sample_archs(data)
    rows: list[dict[str, Any]] = (
        json.loads(STANDALONE.read_text())["rows"] if STANDALONE.exists() else []
    )
    if not rows:
        rows = [{"arch": a, "runs": {}} for a in archs]
    for i, row in enumerate(rows[:limit]):
        for seed in seeds:
            if str(seed) in row["runs"]:
                continue
            torch.manual_seed(seed)
            net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
            model = net.extract(row["arch"], inherit=False)
            row["params"] = model.num_parameters()
            c0 = time.process_time()
            scores = train_standalone(model, data, epochs=RETRAIN_EPOCHS, seed=seed)
            row["runs"][str(seed)] = {**scores, "cpu": time.process_time() - c0}
            print(i, seed, f"{scores['test_acc']:.3f}", row["params"], flush=True)
            STANDALONE.write_text(json.dumps({"retrain_epochs": RETRAIN_EPOCHS, "rows": rows}))


def common_seeds(rows: list[dict[str, Any]]) -> list[str]:
    """The retraining seeds every architecture has."""
    return sorted(set.intersection(*(set(r["runs"]) for r in rows)))


def target(rows: list[dict[str, Any]]) -> list[float]:
    """Standalone accuracy: test accuracy averaged over the retraining seeds all rows have."""
    seeds = common_seeds(rows)
    return [statistics.mean(r["runs"][s]["test_acc"] for s in seeds) for r in rows]


def run_variant(name: str, seed: int = 0) -> dict[str, Any]:
    train_opts, eval_opts = VARIANTS[name]
    data = common.data()
    rows = json.loads(STANDALONE.read_text())["rows"]
    torch.manual_seed(seed)
    net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
    res = SearchResult("spos", rows[0]["arch"], 0.0)
    c0, w0 = time.process_time(), time.perf_counter()
    opts = {"batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, **train_opts}
    train_single_path(net, data, seed=seed, result=res, **opts)
    train_cpu = time.process_time() - c0
    c1 = time.process_time()
    inherited = [evaluate_inherited(net, r["arch"], data, **eval_opts) for r in rows]
    eval_ms = 1000 * (time.process_time() - c1) / len(rows)
    final = target(rows)
    params = [r["params"] for r in rows]
    out = {
        "variant": name,
        "seed": seed,
        "train": opts,
        "eval": eval_opts,
        "tau": kendall_tau(inherited, final),
        "tau_params": kendall_tau(params, final),
        "tau_inherited_vs_params": kendall_tau(inherited, params),
        "supernet_acc_last": res.history[-1]["supernet_acc"],
        "train_cpu_s": train_cpu,
        "train_wall_s": time.perf_counter() - w0,
        "eval_cpu_ms": eval_ms,
        "inherited": inherited,
        # the architecture the inherited accuracy would pick, and its standalone accuracy
        "top1_standalone": final[int(np.argmax(inherited))],
        "mean_standalone": statistics.mean(final),
    }
    print(
        f"{name} seed {seed}: tau {out['tau']:.3f} (params {out['tau_params']:.3f}), "
        f"supernet acc {out['supernet_acc_last']:.3f}, train {train_cpu:.0f} CPU s, "
        f"top-1 pick {out['top1_standalone']:.3f} vs mean {out['mean_standalone']:.3f}",
        flush=True,
    )
    return out


def _spos_supernet(seed: int) -> tuple[Any, list[dict[str, Any]], Any, float]:
    """The data, the 50 standalone rows and one supernet trained with the current SPOS defaults
    (15 fair epochs), with the CPU seconds its training took."""
    data = common.data()
    rows = json.loads(STANDALONE.read_text())["rows"]
    torch.manual_seed(seed)
    net = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
    res = SearchResult("spos", rows[0]["arch"], 0.0)
    c0 = time.process_time()
    opts = {"batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "epochs": 15, "sampling": "fair"}
    train_single_path(net, data, seed=seed, result=res, **opts)
    return data, rows, net, time.process_time() - c0


def eval_sweep(seed: int = 0, bn: tuple[int, ...] = (0, 2, 8, 15), k: int = 8) -> dict[str, Any]:
    """One supernet with the current SPOS defaults (15 fair epochs), evaluated several ways:
    batch-norm recalibration on 0 / 2 / 8 / 15 training batches of 128 (15 is the whole
    training split), and, for each, the size-calibrated score of ``SizeCalibration`` simulated
    with ``k`` of the 50 cells as the calibration cells (their seed-0 standalone *test*
    accuracy stands in for the validation accuracy a search would use; tau on the other 50-k,
    median over 200 draws of the k)."""
    from hyperloom.plugins.nas._proxies import fit_size_calibration

    data, rows, net, train_cpu = _spos_supernet(seed)
    final = np.array(target(rows))
    params = np.array([r["params"] for r in rows], float)
    rng = np.random.default_rng(seed)
    draws = [rng.choice(len(rows), k, replace=False) for _ in range(200)]
    out: dict[str, Any] = {"variant": "eval_sweep", "seed": seed, "train_cpu_s": train_cpu,
                           "k": k, "by_bn": {}}  # fmt: skip
    for b in bn:
        c1 = time.process_time()
        inh = np.array([evaluate_inherited(net, r["arch"], data, bn_batches=b) for r in rows])
        ms = 1000 * (time.process_time() - c1) / len(rows)
        taus = []
        for idx in draws:
            w_a, w_s = fit_size_calibration(inh[idx], final[idx], params[idx])
            rest = np.setdiff1d(np.arange(len(rows)), idx)
            taus.append(kendall_tau(w_a * inh[rest] + w_s * np.log(params[rest]), final[rest]))
        out["by_bn"][str(b)] = {
            "tau": kendall_tau(list(inh), list(final)),
            "tau_calibrated_median": float(np.median(taus)),
            "tau_calibrated_q25": float(np.quantile(taus, 0.25)),
            "eval_cpu_ms": ms,
            "inherited": inh.tolist(),
        }
        print(
            f"bn_batches={b}: tau {out['by_bn'][str(b)]['tau']:.3f}, size-calibrated (k={k}) "
            f"median {np.median(taus):.3f} (q25 {np.quantile(taus, 0.25):.3f}), {ms:.0f} CPU ms",
            flush=True,
        )
    return out


def same_size_tau(x: Any, y: Any, size: Any, tol: float = 0.03) -> tuple[float, int]:
    """Kendall's tau over the pairs of cells whose parameter counts differ by at most ``tol``
    (relative): the ranking that size cannot give."""
    from oneshot_e2e import pair_tau

    return pair_tau(list(x), list(y), list(size), tol)


def size_fit_tau(x: Any, final: Any, size: Any, k: int, seed: int) -> float:
    """The size-calibrated score of ``x`` (``fit_size_calibration`` on ``k`` of the cells,
    their seed-0 standalone test accuracy as the target), its tau on the others: median over
    200 draws."""
    from hyperloom.plugins.nas._proxies import fit_size_calibration

    x, final, size = (np.asarray(v, float) for v in (x, final, size))
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(200):
        idx = rng.choice(len(x), k, replace=False)
        rest = np.setdiff1d(np.arange(len(x)), idx)
        w_a, w_s = fit_size_calibration(x[idx], final[idx], size[idx])
        taus.append(kendall_tau(list(w_a * x[rest] + w_s * np.log(size[rest])), list(final[rest])))
    return float(np.median(taus))


def finetune(seed: int = 0, ft_epochs: int = 1) -> dict[str, Any]:
    """Session 6. One supernet with the current SPOS defaults (15 fair epochs); each of the 50
    cells is ranked by (a) its inherited accuracy (BN recalibrated on 2 batches), (b) its
    validation accuracy after ``ft_epochs`` epoch(s) of training *from the inherited weights*
    (``train_standalone``, the retraining's optimiser), and (c), the control at the same cost,
    after ``ft_epochs`` epoch(s) from fresh weights (an early-stopped standalone run). Each is
    scored by Kendall's tau against the 4-epoch retraining, over all pairs and over the pairs
    of (nearly) equal size, and with the size calibration fitted on 8 cells."""
    data, rows, net, train_cpu = _spos_supernet(seed)
    final = target(rows)
    params = [r["params"] for r in rows]
    signals: dict[str, list[float]] = {"inherited": [], "finetuned": [], "fresh": []}
    cpu: dict[str, float] = dict.fromkeys(signals, 0.0)
    for i, r in enumerate(rows):
        c1 = time.process_time()
        signals["inherited"].append(evaluate_inherited(net, r["arch"], data, bn_batches=2))
        c2 = time.process_time()
        model = net.extract(r["arch"], inherit=True)
        signals["finetuned"].append(
            train_standalone(model, data, epochs=ft_epochs, seed=seed)["val_acc"]
        )
        c3 = time.process_time()
        torch.manual_seed(seed)
        model = net.extract(r["arch"], inherit=False)
        signals["fresh"].append(
            train_standalone(model, data, epochs=ft_epochs, seed=seed)["val_acc"]
        )
        c4 = time.process_time()
        for name, dt in zip(signals, (c2 - c1, c3 - c2, c4 - c3), strict=True):
            cpu[name] += dt
        print(i, {k: round(v[-1], 3) for k, v in signals.items()}, flush=True)
    out: dict[str, Any] = {"variant": f"finetune{ft_epochs}", "seed": seed, "train_cpu_s": train_cpu,
                           "signals": {}}  # fmt: skip
    for name, x in signals.items():
        t_same, n_pairs = same_size_tau(x, final, params)
        out["signals"][name] = {
            "tau": kendall_tau(x, final), "tau_same_size": t_same, "same_size_pairs": n_pairs,
            "tau_size_calibrated_k8": size_fit_tau(x, final, params, 8, seed),
            "cpu_ms_per_cell": 1000 * cpu[name] / len(rows), "values": x,
        }  # fmt: skip
        v = out["signals"][name]
        print(
            f"{name}: tau {v['tau']:.3f}, same-size pairs {t_same:.3f} ({n_pairs}), "
            f"size-calibrated (k=8) {v['tau_size_calibrated_k8']:.3f}, "
            f"{v['cpu_ms_per_cell']:.0f} CPU ms per cell",
            flush=True,
        )
    t_same, n_pairs = same_size_tau(params, final, params)
    out["params"] = {"tau": kendall_tau(params, final), "tau_same_size": t_same}
    return out


def ft_epochs_sweep(seed: int = 0) -> dict[str, Any]:
    """Session 7. The default supernet (15 fair epochs), each of the 50 cells fine-tuned from
    the inherited weights for 2 and 3 epochs (batch order ``seed``) and for 1 epoch with
    another batch order (``seed + 100``): whether a longer fine-tuning ranks better (the
    re-ranking of ``rerank_finetuned``). Kendall's tau against the 4-epoch retraining (mean
    over its seeds) and against its residual after a fit on log(parameters)."""
    data, rows, net, _ = _spos_supernet(seed)
    final = target(rows)
    logp = np.log([r["params"] for r in rows])
    X = np.c_[np.ones(len(rows)), logp]
    resid = np.asarray(final) - X @ np.linalg.lstsq(X, np.asarray(final), rcond=None)[0]
    out: dict[str, Any] = {"variant": "ft_epochs", "seed": seed, "signals": {}}
    for name, (ep, s) in {
        "ft2": (2, seed),
        "ft3": (3, seed),
        "ft1_other_order": (1, seed + 100),
    }.items():
        c0 = time.process_time()
        vals = [
            train_standalone(net.extract(r["arch"], inherit=True), data, epochs=ep, seed=s)[
                "val_acc"
            ]
            for r in rows
        ]
        out["signals"][name] = {
            "tau": kendall_tau(vals, final), "tau_size_residual": kendall_tau(vals, list(resid)),
            "cpu_ms_per_cell": 1000 * (time.process_time() - c0) / len(rows), "values": vals,
        }  # fmt: skip
        print(name, {k: v for k, v in out["signals"][name].items() if k != "values"}, flush=True)
    return out


def table() -> None:
    data = json.loads(STANDALONE.read_text())
    rows = data["rows"]
    seeds = common_seeds(rows)
    print(
        f"{len(rows)} architectures, standalone = {data['retrain_epochs']}-epoch retraining, "
        f"test acc averaged over seeds {seeds}"
    )
    both = [r for r in rows if {"0", "1"} <= set(r["runs"])]
    if len(both) >= 3:
        a = [r["runs"]["0"]["test_acc"] for r in both]
        b = [r["runs"]["1"]["test_acc"] for r in both]
        sd = statistics.pstdev(x - y for x, y in zip(a, b, strict=True)) / 2**0.5
        print(
            f"noise: on the {len(both)} architectures retrained with seeds 0 and 1, "
            f"tau(seed 0, seed 1) = {kendall_tau(a, b):.3f}; retraining sd {sd:.3f}"
        )
    final = target(rows)
    print(f"parameter count alone: tau = {kendall_tau([r['params'] for r in rows], final):.3f}")
    if not RESULTS.exists():
        return
    res = json.loads(RESULTS.read_text())
    print(
        "| variant | seeds | Kendall tau (median) | supernet acc | train CPU s | "
        "standalone acc of its top-1 | eval CPU ms |"
    )
    print("|---|---|---|---|---|---|---|")
    by: dict[str, list[dict[str, Any]]] = {}
    for r in res:
        by.setdefault(r["variant"], []).append(r)
    for r in by.get("eval_sweep", []):
        for b, v in r["by_bn"].items():
            print(
                f"eval sweep seed {r['seed']}, bn_batches={b}: tau {v['tau']:.3f}, "
                f"size-calibrated (k={r['k']}) {v['tau_calibrated_median']:.3f}"
            )
    for name in VARIANTS:
        if name not in by:
            continue
        rs = by[name]
        med = statistics.median
        print(
            f"| {name} | {len(rs)} | {med(r['tau'] for r in rs):.3f} | "
            f"{med(r['supernet_acc_last'] for r in rs):.3f} | "
            f"{med(r['train_cpu_s'] for r in rs):.0f} | "
            f"{med(r['top1_standalone'] for r in rs):.3f} | {med(r['eval_cpu_ms'] for r in rs):.0f} |"
        )
    print(
        f"(mean standalone accuracy of the 50: {statistics.mean(final):.3f}, best {max(final):.3f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--standalone", action="store_true")
    ap.add_argument("--standalone-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--limit", type=int, default=None, help="--standalone: the first N only.")
    ap.add_argument("--variant", nargs="+", default=[])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--table", action="store_true")
    ap.add_argument(
        "--eval-sweep", action="store_true",
        help="One default supernet per --seeds, BN recalibration batches and size calibration.",
    )  # fmt: skip
    ap.add_argument(
        "--finetune", type=int, default=0,
        help="Session 6: rank by N epochs of training from inherited vs fresh weights.",
    )  # fmt: skip
    ap.add_argument(
        "--ft-sweep", action="store_true",
        help="Session 7: rank by 2 and 3 fine-tuned epochs, and 1 with another batch order.",
    )  # fmt: skip
    args = ap.parse_args()
    if args.ft_sweep:
        for seed in args.seeds:
            out = ft_epochs_sweep(seed)
            prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
            prev = [p for p in prev if (p["variant"], p["seed"]) != ("ft_epochs", seed)]
            RESULTS.write_text(json.dumps([*prev, out], indent=1))
        return
    if args.finetune:
        for seed in args.seeds:
            out = finetune(seed, args.finetune)
            prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
            prev = [p for p in prev if (p["variant"], p["seed"]) != (out["variant"], seed)]
            RESULTS.write_text(json.dumps([*prev, out], indent=1))
        return
    if args.eval_sweep:
        for seed in args.seeds:
            out = eval_sweep(seed)
            prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
            prev = [p for p in prev if (p["variant"], p["seed"]) != ("eval_sweep", seed)]
            RESULTS.write_text(json.dumps([*prev, out], indent=1))
        return
    if args.standalone:
        standalone(args.standalone_seeds, args.limit)
    for name in args.variant:
        for seed in args.seeds:
            out = run_variant(name, seed)
            prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
            prev = [p for p in prev if (p["variant"], p["seed"]) != (name, seed)]
            RESULTS.write_text(json.dumps([*prev, out], indent=1))
    if args.table or not (args.standalone or args.variant):
        table()


if __name__ == "__main__":
    main()
