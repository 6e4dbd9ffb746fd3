"""hyperloom's light stand-in for the ``nni`` package (trial API only, standard library only).

hyperloom puts this folder on a trial's PYTHONPATH only when the config says ``nniCompat: shim``.
Even then it never hides a real nni: if one is installed further down ``sys.path``, this module
loads it in its own place (set ``HYPERLOOM_NNI_SHIM=force`` to use the shim anyway), and the real
nni talks to hyperloom through its ``NNI_TRIAL_COMMAND_CHANNEL``.

Covered: ``get_next_parameter(s)``, ``get_current_parameter``, ``report_intermediate_result``,
``report_final_result``, ``get_trial_id``, ``get_experiment_id``, ``get_sequence_id``,
``NoMoreTrialError`` and ``nni.utils.merge_parameter``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any


def _real_nni() -> importlib.machinery.ModuleSpec | None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    return importlib.machinery.PathFinder.find_spec("nni", others)


_spec = None if os.environ.get("HYPERLOOM_NNI_SHIM") == "force" else _real_nni()
if _spec is not None and _spec.loader is not None:
    # A real nni is installed: load it under the name "nni" instead of this shim.
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["nni"] = _real
    _spec.loader.exec_module(_real)
else:
    from _hyperloom_boot import ensure_trials

    ensure_trials()

    from hyperloom import trials as _trials
    from hyperloom.trials._nni_metric import split_metric as _split

    __version__ = "3.0+hyperloom.shim"
    __all__ = [
        "NoMoreTrialError",
        "get_current_parameter",
        "get_experiment_id",
        "get_next_parameter",
        "get_next_parameters",
        "get_sequence_id",
        "get_trial_id",
        "report_final_result",
        "report_intermediate_result",
    ]

    class NoMoreTrialError(Exception):
        """Raised by NNI tuners when they have nothing to suggest (kept for imports)."""

        def __init__(self, ErrorInfo: str = "Search space fully explored") -> None:
            super().__init__(ErrorInfo)

    _state: dict[str, Any] = {"params": None, "given": False, "seq": 0}

    def get_next_parameter() -> Any:
        """The trial's parameters (once; later calls return None, as NNI does)."""
        if _state["given"]:
            return None
        _state["given"] = True
        _state["params"] = _trials.get_params()
        return _state["params"]

    def get_next_parameters() -> Any:
        """Alias of :func:`get_next_parameter`."""
        return get_next_parameter()

    def get_current_parameter(tag: str | None = None) -> Any:
        """The parameters received so far (or one of them)."""
        params = _state["params"]
        if params is None or tag is None:
            return params
        return params[tag]

    def _metric(name: str, metric: Any) -> tuple[Any, dict[str, Any]]:
        try:
            return _split(metric)
        except ValueError as e:
            raise _trials.TrialError(f"nni.{name}: {e}") from None

    def report_intermediate_result(metric: Any) -> None:
        """Reports an intermediate result: a number, or a dict with a ``default`` number."""
        value, extra = _metric("report_intermediate_result", metric)
        _trials.report(value, step=_state["seq"], **extra)
        _state["seq"] += 1

    def report_final_result(metric: Any) -> None:
        """Reports the final result: a number, or a dict with a ``default`` number."""
        value, extra = _metric("report_final_result", metric)
        _trials.report_final(value, **extra)

    def get_experiment_id() -> str:
        """The experiment id (``STANDALONE`` outside an experiment)."""
        return os.environ.get("NNI_EXP_ID") or _trials.experiment_id() or "STANDALONE"

    def get_trial_id() -> str:
        """The trial id (``STANDALONE`` outside an experiment)."""
        return os.environ.get("NNI_TRIAL_JOB_ID") or _trials.trial_id() or "STANDALONE"

    def get_sequence_id() -> int:
        """The trial's sequence number (0 outside an experiment)."""
        try:
            return int(
                os.environ.get("NNI_TRIAL_SEQ_ID")
                or os.environ.get("HYPERLOOM_TRIAL_SEQUENCE")
                or 0
            )
        except ValueError:
            return 0
