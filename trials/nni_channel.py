"""The trial channel that the real ``nni`` package uses inside a hyperloom experiment.

hyperloom starts a trial that imports nni with
``NNI_TRIAL_COMMAND_CHANNEL=import://_hyperloom_nni_bridge.HyperloomChannel`` (the bridge module
re-exports :class:`HyperloomChannel` and finds hyperloom even when the trial's interpreter does not
have it installed). nni then asks this class for the parameters and hands it every metric, which
goes to the manager through :mod:`hyperloom.trials` like any other report.

Importing this module needs nni (its ``TrialCommandChannel`` base class).
"""

from __future__ import annotations

import os
from typing import Any

from hyperloom import trials
from hyperloom.trials._nni_metric import parameter_record, split_metric

try:
    from nni.runtime.trial_command_channel.base import TrialCommandChannel
except ImportError as e:  # pragma: no cover - only nni imports this module
    from hyperloom.errors import MissingDependencyError

    raise MissingDependencyError("nni", "nni", "hyperloom's NNI trial channel") from e

__all__ = ["HyperloomChannel"]


class HyperloomChannel(TrialCommandChannel):  # type: ignore[misc]
    """Gives nni the trial's parameters from ``params.json`` and reports its metrics.

    ``receive_parameter`` returns the parameters once; a second call returns None (no more
    parameters), as NNI's own local channel does without multi-phase.
    """

    def __init__(self) -> None:
        self._given = False

    def receive_parameter(self) -> dict[str, Any] | None:
        if self._given:
            return None
        self._given = True
        try:
            sequence = int(os.environ.get("NNI_TRIAL_SEQ_ID", "0"))
        except ValueError:
            sequence = 0
        return parameter_record(trials.get_params(), sequence)

    def send_metric(
        self,
        type: str,
        parameter_id: int | None,
        trial_job_id: str,
        sequence: int,
        value: Any,
    ) -> None:
        try:
            number, extra = split_metric(value)
        except ValueError as e:
            raise trials.TrialError(
                f"nni.report_{'final' if type == 'FINAL' else 'intermediate'}_result: {e}"
            ) from None
        if type == "FINAL":
            trials.report_final(number, **extra)
        else:
            trials.report(number, step=sequence, **extra)
