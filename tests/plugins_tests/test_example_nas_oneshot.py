"""``examples/nas-oneshot`` as a user runs it: ``hyperloom run config.yml`` (the three real
one-shot searches, shortened through the example's environment variables and options), then
``hyperloom nas retrain ID``. Real trial processes, torch and the Fashion-MNIST files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from hyperloom import open_experiment
from test_oneshot_cli import cli, run_source

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nas-oneshot"


def _fashion_mnist() -> bool:
    root = Path(os.environ.get("HYPERLOOM_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
    return (root / "train-images-idx3-ubyte.gz").is_file()


SHORT = {"NAS_ONESHOT_EPOCHS": "1", "NAS_ONESHOT_RETRAIN_EPOCHS": "1"}


@pytest.mark.skipif(not _fashion_mnist(), reason="dataset-fashion-mnist is not installed")
def test_the_example_searches_with_one_yardstick_then_retrains(tmp_path: Path) -> None:
    config = yaml.safe_load((EXAMPLE / "config.yml").read_text())
    config["trialCommand"] = f"{sys.executable} search.py"
    config["trialCodeDirectory"] = str(EXAMPLE)
    # fewer candidates than the defaults' 50 (the options search.py passes to each method)
    for key, value in {"n_evals": 4, "n_candidates": 4, "rerank": 2, "rerank_epochs": 1}.items():
        config["searchSpace"][key] = {"_type": "choice", "_value": [value]}
    config["maxTrialNumber"] = 3
    home, src_dir, src_id, done = run_source(tmp_path, config, SHORT, timeout=300)
    assert sorted(t.params["method"] for t in done) == ["darts", "enas", "spos"]
    for t in done:
        assert t.status.name == "SUCCEEDED", (t.params, t.reason)
        extras = t.metrics
        # the value is the shared yardstick, not each method's own kind of score
        assert t.value == extras["finetuned_acc"] and 0.0 < t.value <= 1.0
        assert {"search_val_acc", "inherited_acc", "params", "latency_ms"} <= set(extras)
        arch = json.loads((src_dir / "trials" / t.trial_id / "architecture.json").read_text())
        assert arch and all(isinstance(k, str) for k in arch)

    args = ["nas", "retrain", src_id, "--out", str(tmp_path / "retrain.yml"), "-q"]
    out = cli(args, home, EXAMPLE, SHORT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    (retrain_dir,) = [d for d in home.iterdir() if d != src_dir]
    with open_experiment(retrain_dir) as view:
        retrained = view.trials()
    assert len(retrained) == 3 and all(t.status.name == "SUCCEEDED" for t in retrained)
    assert all(0.0 < (t.value or 0.0) <= 1.0 for t in retrained)
