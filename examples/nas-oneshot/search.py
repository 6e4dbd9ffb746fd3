"""One one-shot NAS search as a hyperloom trial.

Parameters (all optional): ``method`` (darts, enas, spos), ``seed``, ``epochs``, ``lr``, ``weight_decay``,
``channels``, and the method's own settings (``arch_lr``, ``order``, ``warmup_epochs``,
``max_skip`` for DARTS; ``n_candidates``, ``warmup_paths`` for ENAS; ``n_evals``,
``population_size``, ``sampling`` for SPOS; ``size_calibration``, ``calibration_epochs``,
``finetune_epochs``, ``rerank``, ``rerank_epochs`` for both single-path methods);
``retrain_epochs`` > 0 also retrains the derived architecture from scratch and reports that
accuracy as the final value (the joint search does this).

Reports the supernet's validation accuracy after every epoch (``report(acc, step=epoch)``),
writes the derived architecture to ``architecture.json`` in the trial directory (a point of the
space, ready for ``hyperloom nas retrain``) and the search's details to ``oneshot.json``, and
ends with ``report_final(value, ...)``. The value is the derived architecture's validation
accuracy after one epoch of fine-tuning from the supernet's weights (``finetuned_acc``, the same
yardstick for every method), or its retrained accuracy with ``retrain_epochs``. The extras are
the search's own score (``search_val_acc``: inherited weights for DARTS, which score its
discretized cell near chance; fine-tunings from them for the single-path defaults), the
inherited-weight accuracy, size, FLOPs and measured latency.

Outside an experiment (``python search.py --method darts``) it writes to ``./out/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import common
import torch
from hyperloom import trials
from hyperloom.plugins.nas import (
    Supernet,
    evaluate_finetuned,
    evaluate_inherited,
    measure_latency,
    one_shot_search,
    train_standalone,
)

torch.set_num_threads(1)

KNOWN = {
    "darts": ("lr", "weight_decay", "arch_lr", "order", "warmup_epochs", "max_skip", "batch_size"),
    "enas": (
        "lr",
        "weight_decay",
        "n_candidates",
        "batch_size",
        "warmup_paths",
        "size_calibration",
        "calibration_epochs",
        "finetune_epochs",
        "rerank",
        "rerank_epochs",
    ),
    "spos": (
        "lr",
        "weight_decay",
        "n_evals",
        "population_size",
        "batch_size",
        "sampling",
        "size_calibration",
        "calibration_epochs",
        "finetune_epochs",
        "rerank",
        "rerank_epochs",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="one one-shot NAS search")
    parser.add_argument("--method", default="spos", choices=sorted(KNOWN))
    cli = parser.parse_args()
    params: dict[str, Any] = trials.get_params({"method": cli.method})
    method = str(params.get("method", cli.method))
    seed = int(params.get("seed", 0))
    torch.manual_seed(seed)
    data = common.data()
    model = {**common.MODEL, "channels": int(params.get("channels", common.MODEL["channels"]))}
    net = Supernet(common.SPACE, data.input_shape, common.NUM_CLASSES, **model)
    options = dict(common.DEFAULTS[method])
    options.update({k: params[k] for k in KNOWN[method] if k in params})
    ints = ("max_skip", "size_calibration", "calibration_epochs", "finetune_epochs", "rerank")
    for key in (*ints, "rerank_epochs"):
        if key in options:
            options[key] = int(options[key])

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        trials.report(metrics["supernet_acc"], step=epoch)
        return trials.should_stop()

    t0 = time.perf_counter()
    epochs = int(params.get("epochs", common.epochs(method)))
    result = one_shot_search(
        method, net, data, epochs=epochs, seed=seed, on_epoch=on_epoch, **options
    )
    out = trials.trial_dir() or Path("out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "architecture.json").write_text(json.dumps(result.arch, indent=1, sort_keys=True))
    standalone = net.extract(result.arch, inherit=False)
    lat = measure_latency(standalone, data.input_shape, runs=30)
    final: dict[str, Any] = {
        # the search's own score of the cell (fine-tuned from the inherited weights by the
        # single-path defaults since session 7), and its plain inherited-weight accuracy
        "search_val_acc": result.val_acc,
        "inherited_acc": evaluate_inherited(net, result.arch, data, n_val=500),
        # one yardstick for the three methods: their own scores differ in kind (DARTS's
        # discretized cell with inherited weights alone scores near chance)
        "finetuned_acc": evaluate_finetuned(net, result.arch, data, epochs=1, seed=seed),
        "params": standalone.num_parameters(),
        "flops": standalone.flops(),
        "latency_ms": lat["latency_ms"],
        "search_seconds": time.perf_counter() - t0,
    }
    value = final["finetuned_acc"]
    retrain_epochs = int(params.get("retrain_epochs", 0))
    if retrain_epochs > 0:
        scores = train_standalone(
            standalone, data, epochs=retrain_epochs, seed=seed,
            lr=float(params.get("retrain_lr", 3e-3)),
        )  # fmt: skip
        value = scores["val_acc"]
        final.update(retrained_val_acc=scores["val_acc"], retrained_test_acc=scores["test_acc"])
    meta = {
        "method": method,
        "options": options,
        "seed": seed,
        "space": common.SPACE,
        "model": model,
        "data": common.DATA,
        "history": result.history,
        "notes": result.notes,
        **final,
    }
    (out / "oneshot.json").write_text(json.dumps(meta, indent=1))
    print(f"{method}: {result.arch}\n{final} notes={result.notes}")
    trials.report_final(value, **final)


if __name__ == "__main__":
    main()
