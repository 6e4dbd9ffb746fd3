"""Compares a joint search (config-joint.yml) with the default-hyperparameter baseline
(config-default.yml): the best trial of each by validation accuracy (of the retrained
architecture), its held-out test accuracy, the medians over trials, and the compute spent.

    python compare.py JOINT_ID DEFAULT_ID
"""

from __future__ import annotations

import statistics
import sys

from hyperloom import open_experiment


def main() -> None:
    print(
        "| search | trials | best val (retrained) | its test acc | median test acc | "
        "total trial seconds | best params |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, exp in zip(("joint (tpe)", "default hps"), sys.argv[1:3], strict=False):
        view = open_experiment(exp)
        done = [t for t in view.trials() if t.value is not None]
        best = max(done, key=lambda t: t.value)
        tests = [t.metrics.get("retrained_test_acc", float("nan")) for t in done]
        secs = sum((t.ended or 0.0) - (t.started or 0.0) for t in done)
        keep = {
            k: v for k, v in best.params.items() if k not in ("method", "epochs", "retrain_epochs")
        }
        print(
            f"| {label} ({exp}) | {len(done)} | {best.value:.3f} | "
            f"{best.metrics.get('retrained_test_acc', float('nan')):.3f} | "
            f"{statistics.median(tests):.3f} | {secs:.0f} | {keep} |"
        )


if __name__ == "__main__":
    main()
