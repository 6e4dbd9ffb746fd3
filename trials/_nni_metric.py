"""NNI metric values as hyperloom reports: shared by the NNI channel and the light ``nni`` shim.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["parameter_record", "split_metric"]

_RESERVED = ("value", "step")


def split_metric(metric: Any) -> tuple[Any, dict[str, Any]]:
    """Splits an NNI metric into the value hyperloom optimizes and extra named metrics.

    NNI accepts a number (numpy scalars included) or a dict whose ``default`` key is the number;
    the dict's other keys are extra metrics. Keys that clash with ``report``'s own arguments
    (``value``, ``step``) are kept as ``metric_value`` / ``metric_step``.

    Raises:
        ValueError: A dict without a ``default`` key.
    """
    if isinstance(metric, Mapping):
        if "default" not in metric:
            keys = ", ".join(map(str, list(metric)[:8]))
            raise ValueError(
                f"a dict metric needs a 'default' key holding the number to optimize (NNI's rule); "
                f"got keys: {keys}"
            )
        extra = {
            (f"metric_{k}" if k in _RESERVED else str(k)): v
            for k, v in metric.items()
            if k != "default"
        }
        return metric["default"], extra
    return metric, {}


def parameter_record(params: dict[str, Any], sequence: int) -> dict[str, Any]:
    """The record NNI's ``get_next_parameter`` unpacks (``parameters`` is what the trial gets)."""
    return {
        "parameter_id": sequence,
        "parameter_source": "algorithm",
        "parameters": params,
        "parameter_index": 0,
    }
