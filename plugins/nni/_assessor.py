"""Runs an NNI ``Assessor`` subclass (built-in or custom) as a hyperloom assessor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperloom.assessors import Assessor
from hyperloom.types import TrialResult, TrialStatus, Verdict

from ._load import build

__all__ = ["NNIAssessor"]

log = logging.getLogger(__name__)


class NNIAssessor(Assessor):
    """An NNI assessor under hyperloom's assessor contract (needs the ``nni`` extra).

    ``assess`` calls ``assess_trial`` with the whole history (``Good``/True continues,
    ``Bad``/False stops; anything else, e.g. the None that NNI's Curvefitting returns after an
    internal error, continues with a log line). ``observe`` calls ``trial_end``; a trial this
    instance never assessed (the replay on resume) is first shown its whole curve once.

    Args:
        mode: Passed as ``optimize_mode`` unless ``class_args`` sets it.
        builtin: An NNI built-in assessor name (``Medianstop``, ``Curvefitting``).
        class_name: ``module.Class`` of a custom ``nni.assessor.Assessor`` subclass.
        code_directory: A folder to import ``class_name`` from.
        class_args: The NNI class's own arguments.
    """

    def __init__(
        self,
        *,
        mode: str = "maximize",
        builtin: str | None = None,
        class_name: str | None = None,
        code_directory: str | Path | None = None,
        class_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(mode=mode)
        self.nni_assessor = build(
            "assessors",
            builtin=builtin,
            class_name=class_name,
            code_directory=code_directory,
            class_args=class_args,
            defaults={"optimize_mode": self.mode},
        )
        self._seen: set[str] = set()

    def assess(self, trial_id: str, history: Sequence[float]) -> Verdict:
        self._seen.add(trial_id)
        values = self.clean(history)  # NNI's assessors raise on None/NaN and on empty histories
        if not values:
            return Verdict.CONTINUE
        result: Any = self.nni_assessor.assess_trial(trial_id, values)
        good = getattr(result, "value", result)
        if good is False:
            self.last_reason = f"NNI {type(self.nni_assessor).__name__} judged the curve Bad at step {len(history)}"
            return Verdict.STOP
        if good is not True:
            log.info("NNI assessor returned %r for trial %s; continuing", result, trial_id)
        return Verdict.CONTINUE

    def observe(self, result: TrialResult) -> None:
        if result.trial_id not in self._seen:
            values = self.clean(result.intermediate)
            if not values:
                return
            self.nni_assessor.assess_trial(result.trial_id, values)
        self._seen.discard(result.trial_id)
        self.nni_assessor.trial_end(result.trial_id, result.status == TrialStatus.SUCCEEDED)
