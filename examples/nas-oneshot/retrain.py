"""Retrains one searched architecture from scratch, as an ordinary trial.

Parameters: ``architecture`` (the path of an ``architecture.json`` a one-shot trial wrote) and
``seed``. Model settings come from the ``oneshot.json`` beside it (the defaults of
``common.py`` when missing). Reports validation accuracy per epoch, then
``report_final(val_acc, test_acc=..., params=..., flops=..., latency_ms=...)``.
``hyperloom nas retrain ID`` writes the config that runs this for every architecture and seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import common
import torch
from hyperloom import trials
from hyperloom.plugins.nas import build_model, measure_latency, train_standalone

torch.set_num_threads(1)


def main() -> None:
    params: dict[str, Any] = trials.get_params({"architecture": "out/architecture.json"})
    path = Path(params["architecture"])
    arch = json.loads(path.read_text())
    meta_path = path.with_name("oneshot.json")
    model = dict(common.MODEL)
    if meta_path.exists():
        model.update(json.loads(meta_path.read_text()).get("model", {}))
    seed = int(params.get("seed", 0))
    data = common.data()
    torch.manual_seed(seed)
    net = build_model(arch, data.input_shape, common.NUM_CLASSES, **model)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        trials.report(metrics["val_acc"], step=epoch)
        return trials.should_stop()

    scores = train_standalone(net, data, epochs=common.RETRAIN_EPOCHS, seed=seed, on_epoch=on_epoch)
    lat = measure_latency(net, data.input_shape, runs=30)
    trials.report_final(
        scores["val_acc"],
        test_acc=scores["test_acc"],
        params=net.num_parameters(),
        flops=net.flops(),
        latency_ms=lat["latency_ms"],
        source=str(path),
    )


if __name__ == "__main__":
    main()
