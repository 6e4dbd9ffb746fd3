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
    ``generate_parameters`` with a fresh parameter id; ``observe`` calls ``receive_trial_result``
    when the trial has a value, then ``trial_end`` (``success`` is True when a result was given,
    so a tuner that counts both, as NNI's PBT does, counts a trial once). Ended trials this
    instance never suggested (the replay on resume) go to ``import_data``.

    "Not now": in NNI, ``NoMoreTrialError`` means "nothing for now" (NNI's PBT raises it at each
    generation boundary and later pushes the parameters it owes through
    ``send_trial_callback``). So ``suggest`` returns None while a trial it suggested is still
    running, and asks NNI again only after the next trial ends (one refused request per event,
    so NNI's owed "credit" never piles up); parameters NNI pushes are handed to the next
    ``suggest``. When NNI refuses with nothing running and nothing owed, nothing can change its
    mind: ``suggest`` returns None then too, which the manager takes as exhausted exactly as
    FINISHED (None with nothing running or paused); the shared conformance harness still
    expects None there.

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
        # NNI's dispatcher gives tuners this callback for parameters they generate later
        self.nni_tuner.send_trial_callback = self._pushed
        self._next_id = 0
        self._running: dict[str, tuple[int, dict[str, Any]]] = {}
        self._pushed_params: list[tuple[int, dict[str, Any]]] = []
        self._refused = False  # NNI said "not now" and nothing happened since

    def _pushed(self, parameter_id: int, params: Any) -> None:
        """NNI's ``send_trial_callback``: parameters generated after a refusal."""
        self._pushed_params.append((int(parameter_id), plain(params)))
        self._refused = False

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        import nni

        if self._pushed_params:
            pid, params = self._pushed_params.pop(0)
        elif self._refused:
            return None  # not now (or, with nothing running, never: the manager ends)
        else:
            pid = self._next_id
            self._next_id += 1
            try:
                params = plain(self.nni_tuner.generate_parameters(pid))
            except nni.NoMoreTrialError:
                if self._pushed_params:  # pushed while refusing (a generation turned over)
                    return self.suggest(trial_id)
                self._refused = True
                return None
        self._running[trial_id] = (pid, params)
        return dict(params)

    def observe(self, result: TrialResult) -> None:
        self._refused = False  # something happened: NNI may have parameters now
        entry = self._running.pop(result.trial_id, None)
        if entry is None:
            if result.value is not None:
                self.nni_tuner.import_data([{"parameter": result.params, "value": result.value}])
            return
        pid, params = entry
        gave = result.value is not None
        if gave:
            self.nni_tuner.receive_trial_result(
                pid, params, result.value, customized=False, trial_job_id=result.trial_id
            )
        self.nni_tuner.trial_end(pid, gave or result.status == TrialStatus.SUCCEEDED)
