"""One multi-objective NAS trial: train the sampled cell from scratch briefly on the
nas-oneshot task (Fashion-MNIST 7x7, examples/nas-oneshot/common.py), then report three
objectives: validation accuracy (maximize), parameter count and latency measured on the
trial's own device at batch size 1 (minimize both).

Epochs: ``NAS_MO_EPOCHS`` (3 by default; the tests use 1).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from hyperloom import trials
from hyperloom.plugins.nas import build_model, measure_latency, train_standalone

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nas-oneshot"))
import common

torch.set_num_threads(1)


def main() -> None:
    arch = trials.get_params({k: v["_value"][0] for k, v in common.SPACE.items()})
    data = common.data()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = build_model(arch, data.input_shape, common.NUM_CLASSES, **common.MODEL)
    epochs = int(os.environ.get("NAS_MO_EPOCHS", "3"))

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        trials.report(metrics["val_acc"], step=epoch)
        return trials.should_stop()

    scores = train_standalone(net, data, epochs=epochs, on_epoch=on_epoch)
    lat = measure_latency(net.to(device), data.input_shape, runs=30)
    trials.report_final(
        {"accuracy": scores["val_acc"], "params": net.num_parameters(),
         "latency_ms": lat["latency_ms"]},
        test_acc=scores["test_acc"], flops=net.flops(), device=lat["device"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
