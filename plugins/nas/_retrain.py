"""The retraining step of a one-shot search: the architectures that an experiment's trials wrote
(``architecture.json`` in each trial directory) become an experiment of ordinary trials that
train them from scratch. No torch needed.

The config written (YAML or a dict) is::

    experimentName: retrain-<SOURCE_ID>
    trialCommand: python3 retrain.py         # --command
    trialCodeDirectory: <the source experiment's trialCodeDirectory>   # --code-dir
    trialConcurrency: 1                      # --concurrency
    maxTrialNumber: <architectures x seeds>
    searchSpace:
      architecture: {_type: choice, _value: [<abs path of each architecture.json>, ...]}
      seed: {_type: choice, _value: [0, ...]}   # --seeds
    tuner: {name: grid}

so every (architecture, seed) pair runs once; the trial script reads ``params["architecture"]``
(a path) and ``params["seed"]``. ``examples/nas-oneshot/retrain.py`` is such a script.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperloom.errors import UsageError

__all__ = ["ARCHITECTURE_FILE", "found_architectures", "retrain_config"]

#: The file a one-shot trial writes in its trial directory.
ARCHITECTURE_FILE = "architecture.json"


def found_architectures(source: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The architectures the trials of experiment ``source`` (id or directory) wrote, best value
    first: ``{"trial": id, "path": Path, "value": float | None, "arch": dict}``.

    Raises:
        UsageError: No trial of the experiment wrote an ``architecture.json``.
    """
    from hyperloom.history import open_experiment

    with open_experiment(source) as view:
        exp_dir = Path(view.dir)
        sign = -1.0 if view.mode == "maximize" else 1.0
        rows = []
        for rec in view.trials():
            path = exp_dir / "trials" / rec.trial_id / ARCHITECTURE_FILE
            if not path.is_file():
                continue
            try:
                arch = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise UsageError(f"trial {rec.trial_id}: cannot read {path}: {e}") from None
            if not isinstance(arch, dict):
                raise UsageError(f"trial {rec.trial_id}: {path} does not hold an architecture")
            rows.append({"trial": rec.trial_id, "path": path, "value": rec.value, "arch": arch})
    if not rows:
        raise UsageError(
            f"experiment {source}: no trial wrote {ARCHITECTURE_FILE} in its trial directory "
            "(one-shot trials write it with hyperloom.trials.trial_dir())"
        )

    def key(r: dict[str, Any]) -> float:
        v = r["value"]
        return math.inf if v is None or not math.isfinite(v) else sign * float(v)

    return sorted(rows, key=key)


def retrain_config(
    source: str | os.PathLike[str],
    *,
    command: str = "python3 retrain.py",
    code_dir: str | os.PathLike[str] | None = None,
    seeds: Sequence[int] = (0,),
    top: int | None = None,
    concurrency: int = 1,
    name: str | None = None,
) -> dict[str, Any]:
    """The config of an experiment that retrains ``source``'s architectures (see the module
    docstring for its form).

    Args:
        source: The one-shot experiment (id or directory).
        command: The retraining trial command.
        code_dir: Its directory (default: the source's ``trialCodeDirectory``).
        seeds: Seeds per architecture.
        top: Keep only the best ``top`` architectures by the source trials' value.
        concurrency: Trials at once.
        name: The experiment name (default ``retrain-<source id>``).

    Raises:
        UsageError: No architectures, or invalid options.
    """
    from hyperloom.history import open_experiment

    if not seeds:
        raise UsageError("give at least one seed")
    if top is not None and top < 1:
        raise UsageError(f"--top must be >= 1, got {top}")
    if concurrency < 1:
        raise UsageError(f"--concurrency must be >= 1, got {concurrency}")
    rows = found_architectures(source)
    if top is not None:
        rows = rows[:top]
    with open_experiment(source) as view:
        exp = view.reader.experiment()
        src_id = str(exp["id"])
        cfg = exp.get("config") or {}
    if code_dir is None:
        code_dir = cfg.get("trialCodeDirectory") or "."
    paths = list(dict.fromkeys(str(Path(r["path"]).resolve()) for r in rows))
    seed_list = [int(s) for s in dict.fromkeys(seeds)]
    return {
        "experimentName": name or f"retrain-{src_id}",
        "trialCommand": command,
        "trialCodeDirectory": str(Path(code_dir).resolve()),
        "trialConcurrency": int(concurrency),
        "maxTrialNumber": len(paths) * len(seed_list),
        "searchSpace": {
            "architecture": {"_type": "choice", "_value": paths},
            "seed": {"_type": "choice", "_value": seed_list},
        },
        "tuner": {"name": "grid"},
    }
