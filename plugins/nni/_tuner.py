"""Runs an NNI ``Tuner`` subclass (built-in or custom) as a hyperloom tuner."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hyperloom.space import SearchSpace
from hyperloom.tuners import Tuner
from hyperloom.types import TrialResult, TrialStatus

from ._load import build, plain

__all__ = ["NNITuner"]

log = logging.getLogger(__name__)


class NNITuner(Tuner):
    """An NNI tuner under hyperloom's tuner contract (needs the ``nni`` extra).

    Mapping: the space goes to ``update_search_space`` (NNI's JSON format); ``suggest`` calls
    ``generate_parameters`` with a fresh parameter id (``NoMoreTrialError`` means exhausted);
    ``observe`` calls ``receive_trial_result`` when the trial has a value, then ``trial_end``.
    Ended trials this instance never suggested (the replay on resume) go to ``import_data``.

    Args:
        space: The search space.
        mode: Passed as ``optimize_mode`` unless ``class_args`` sets it.
        seed: Passed as ``seed`` when the class takes one and ``class_args`` does not set it.
        builtin: An NNI built-in tuner name (``TPE``, ``Evolution``, ``GP``, ...).
        class_name: ``module.Class`` of a custom ``nni.tuner.Tuner`` subclass.
        code_directory: A folder to import ``class_name`` from.
        class_args: The NNI class's own arguments.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        builtin: str | None = None,
        class_name: str | None = None,
        code_directory: str | Path | None = None,
        class_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        self.nni_tuner = build(
            "tuners",
            builtin=builtin,
            class_name=class_name,
            code_directory=code_directory,
            class_args=class_args,
            defaults={"optimize_mode": self.mode, "seed": seed},
        )
        self.nni_tuner.update_search_space(space.to_nni())
        self._next_id = 0
        self._running: dict[str, tuple[int, dict[str, Any]]] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        import nni

        pid = self._next_id
        self._next_id += 1
        try:
            params = self.nni_tuner.generate_parameters(pid)
        except nni.NoMoreTrialError:
            return None
        params = plain(params)
        self._running[trial_id] = (pid, params)
        return dict(params)

    def observe(self, result: TrialResult) -> None:
        entry = self._running.pop(result.trial_id, None)
        if entry is None:
            if result.value is not None:
                self.nni_tuner.import_data([{"parameter": result.params, "value": result.value}])
            return
        pid, params = entry
        if result.value is not None:
            self.nni_tuner.receive_trial_result(
                pid, params, result.value, customized=False, trial_job_id=result.trial_id
            )
        self.nni_tuner.trial_end(pid, result.status == TrialStatus.SUCCEEDED)
