"""How a trial is launched: its final command line and extra environment.

The manager calls :func:`prepare_launch` once per trial, after writing ``params.json``. Parameter
values placed in the command by templates are shell-quoted, so no value can inject shell code.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from hyperloom.config import Config

__all__ = ["prepare_launch"]


def prepare_launch(
    config: Config,
    *,
    params: dict[str, Any],
    trial_id: str,
    trial_dir: Path,
    experiment_id: str,
    sequence: int,
) -> tuple[str, dict[str, str]]:
    """Returns the shell command line of a trial and the extra environment variables it needs.

    Templates in ``trialCommand``: ``{params_json}``, ``{trial_id}``, ``{trial_dir}``,
    ``{experiment_id}``, ``{sequence}``, and ``{name}`` for each top-level parameter.
    """
    values: dict[str, str] = {
        "params_json": shlex.quote(json.dumps(params)),
        "trial_id": shlex.quote(trial_id),
        "trial_dir": shlex.quote(str(trial_dir)),
        "experiment_id": shlex.quote(experiment_id),
        "sequence": str(sequence),
    }
    for k, v in params.items():
        values.setdefault(k, shlex.quote(v if isinstance(v, str) else json.dumps(v)))
    command = config.trial_command
    for k, v in values.items():
        command = command.replace("{" + k + "}", v)
    return command, {}
