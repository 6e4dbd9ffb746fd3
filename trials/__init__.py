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
    "CHECKPOINT_KEY",
    "TrialError",
    "checkpoint_dir",
    "experiment_id",
    "get_params",
    "report",
    "report_final",
    "restore_dir",
    "should_stop",
    "start_step",
    "trial_dir",
    "trial_id",
]


#: The reserved metric name that marks an intermediate report as a committed checkpoint.
CHECKPOINT_KEY = "hyperloom:checkpoint"


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


def report(
    value: Any, step: int | None = None, *, checkpoint: bool = False, **metrics: Any
) -> None:
    """Reports an intermediate result (for assessors and learning curves).

    Args:
        value: The metric: an int or float, or a numpy/torch scalar (anything with ``.item()``).
            A NaN or infinite value is not sent (a notice goes to stderr). With several
            objectives, a dict of them (``report({"accuracy": 0.8, "latency_ms": 12})``): the
            intermediate value is the first objective's, found by its name; an assessor with
            ``objective: latency_ms`` judges that one.
        step: The step (epoch, iteration); when omitted, one more than the previous step (from
            `start_step`, 0 for a fresh trial).
        checkpoint: True when everything needed to continue from this step is saved in
            `checkpoint_dir` (write it before the call). Only such committed checkpoints are
            resumed or warm-started from.
        **metrics: Extra named values (numbers, strings, lists; numpy values are converted).

    Raises:
        TrialError: For a value that is not a number (a string, a bool, None) or a bad step.
    """
    if isinstance(value, dict):  # report({"accuracy": .8, "latency_ms": 12}, step)
        if not value:
            raise TrialError("report() got an empty dict; give at least one objective")
        named = {str(k): v for k, v in value.items()}
        value, metrics = next(iter(named.values())), {**named, **metrics}
    if checkpoint:
        metrics[CHECKPOINT_KEY] = True
    _rt().report("metric", value, step, metrics)


def report_final(value: Any, **metrics: Any) -> None:
    """Reports the trial's final result, the value the tuner optimizes. Call it once, at the end.

    With several objectives, give them all: ``report_final({"accuracy": 0.93, "latency_ms":
    12})``, or ``report_final(0.93, latency_ms=12)`` (the positional value is the first
    objective). A trial that lacks an objective is FAILED with a reason naming it.

    Args:
        value: The final metric (same types as `report`), or a dict of objective values.
        **metrics: Extra named values, kept with the trial.

    Raises:
        TrialError: For a value that is not a number, or an empty dict.
    """
    if isinstance(value, dict):
        if not value:
            raise TrialError("report_final() got an empty dict; give at least one objective")
        named = {str(k): v for k, v in value.items()}
        first = next(iter(named.values()))
        _rt().report("final", first, None, {**named, **metrics})
        return
    _rt().report("final", value, None, metrics)


def checkpoint_dir() -> Path:
    """Where this trial saves what it needs to continue (then ``report(..., checkpoint=True)``).

    The directory exists; inside an experiment it is private to this trial and kept while any
    trial may still resume or warm-start from it. Outside one it is ``./hyperloom-checkpoint``.
    """
    return _rt().checkpoint_dir()


def restore_dir() -> Path | None:
    """What to load at start: this trial's own checkpoint when it is resumed, a private copy of
    its parent's when it is warm-started (PBT), or None for a fresh start."""
    return _rt().restore_dir()


def start_step() -> int:
    """The first step this run reports: the restored checkpoint's step + 1, else 0."""
    return _rt().start_step


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
