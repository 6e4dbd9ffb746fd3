"""Helpers shared by the compatibility tests (imported as ``compat_helpers``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRIALS = REPO / "trials"
CORE = REPO / "core"


def trial_env(
    trial_dir: Path, *, nni: bool = False, shim: bool = False, seq: int = 0
) -> dict[str, str]:
    """The environment hyperloom gives a trial (as :func:`hyperloom.launch.prepare_launch` does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNI_", "HYPERLOOM_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        HYPERLOOM_TRIAL_ID="t1",
        HYPERLOOM_EXPERIMENT_ID="e1",
        HYPERLOOM_TRIAL_DIR=str(trial_dir),
        HYPERLOOM_TRIAL_SEQUENCE=str(seq),
    )
    if nni:
        paths = [str(TRIALS / "_nni_bridge")] + ([str(TRIALS / "_nni_shim")] if shim else [])
        env.update(
            NNI_PLATFORM="local",
            REUSE_MODE="true",
            NNI_EXP_ID="e1",
            NNI_TRIAL_JOB_ID="t1",
            NNI_TRIAL_SEQ_ID=str(seq),
            NNI_SYS_DIR=str(trial_dir),
            NNI_OUTPUT_DIR=str(trial_dir),
            NNI_TRIAL_COMMAND_CHANNEL="import://_hyperloom_nni_bridge.HyperloomChannel",
            HYPERLOOM_TRIALS_SRC=str(TRIALS),
            HYPERLOOM_CORE_SRC=str(CORE),
            PYTHONPATH=os.pathsep.join(paths),
        )
    return env


def read_messages(trial_dir: Path) -> list[dict[str, Any]]:
    """The channel messages a trial wrote (protocol v1, file transport)."""
    path = trial_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
