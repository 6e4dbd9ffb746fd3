"""The trial-side API: what a training script calls. Standard library only, and cheap to import.

Inside an experiment the manager sets ``HYPERLOOM_TRIAL_DIR`` (and the other ``HYPERLOOM_*``
variables); outside one, `get_params` returns the defaults and `report` / `report_final` print a
readable line, so the same script runs by hand unchanged::

    from hyperloom import trials

    params = trials.get_params({"lr": 0.01})
    for epoch in range(10):
        acc = train_one_epoch(params["lr"])
        trials.report(acc)
        if trials.should_stop():
            break
    trials.report_final(acc)

The work is done in ``hyperloom.trials._runtime``, imported on first use.
"""

from __future__ import annotations

from hyperloom.errors import HyperloomError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from hyperloom.trials._runtime import Runtime

__all__ = [
    "TrialError",
    "experiment_id",
    "get_params",
    "report",
    "report_final",
    "should_stop",
    "trial_dir",
    "trial_id",
]


class TrialError(HyperloomError):
    """A trial-side API call got something it cannot use (a non-numeric value, no params.json)."""


def _rt() -> Runtime:
    from hyperloom.trials._runtime import runtime

    return runtime()


def get_params(defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters this trial must run with.

    Args:
        defaults: Values for keys the experiment does not set, and everything outside an
            experiment (then a one-time notice goes to stderr).

    Returns:
        A new dict: ``defaults`` updated with ``params.json`` from the trial directory.

    Raises:
        TrialError: Inside an experiment, when ``params.json`` is missing or not a JSON object.
    """
    return _rt().get_params(defaults)


def report(value: Any, step: int | None = None, **metrics: Any) -> None:
    """Reports an intermediate result (for assessors and learning curves).

    Args:
        value: The metric: an int or float, or a numpy/torch scalar (anything with ``.item()``).
            A NaN or infinite value is not sent (a notice goes to stderr).
        step: The step (epoch, iteration); when omitted, one more than the previous step, from 0.
        **metrics: Extra named values (numbers, strings, lists; numpy values are converted).

    Raises:
        TrialError: For a value that is not a number (a string, a bool, None) or a bad step.
    """
    _rt().report("metric", value, step, metrics)


def report_final(value: Any, **metrics: Any) -> None:
    """Reports the trial's final result, the value the tuner optimizes. Call it once, at the end.

    Args:
        value: The final metric (same types as `report`).
        **metrics: Extra named values, kept with the trial.

    Raises:
        TrialError: For a value that is not a number.
    """
    _rt().report("final", value, None, metrics)


def should_stop() -> bool:
    """True once the manager asked this trial to stop (assessor, budget, ``hyperloom stop``).

    Cheap enough to call every step. Outside an experiment it is always False.
    """
    return _rt().should_stop()


def trial_id() -> str | None:
    """This trial's id, or None outside an experiment."""
    return _rt().trial_id


def experiment_id() -> str | None:
    """The experiment's id, or None outside an experiment."""
    return _rt().experiment_id


def trial_dir() -> Path | None:
    """This trial's directory (params.json, metrics.jsonl, logs), or None outside one."""
    from pathlib import Path

    directory = _rt().trial_dir
    return Path(directory) if directory else None
