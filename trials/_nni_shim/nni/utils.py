"""``nni.utils.merge_parameter`` for the light shim."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_parameter"]


def _compatible(key: str, old: Any, new: Any) -> Any:
    if old is None or isinstance(new, type(old)):
        return new
    if isinstance(old, float) and isinstance(new, int):
        return float(new)
    raise ValueError(
        f"parameter {key!r} has type {type(new).__name__}, but the value it overrides is a "
        f"{type(old).__name__}"
    )


def merge_parameter(base_params: Any, override_params: dict[str, Any] | None) -> Any:
    """Updates ``base_params`` (an argparse Namespace or a dict) in place with the tuner's
    parameters, and returns it.

    As in NNI: every key must already exist in ``base_params``; a value must have the type of the
    value it replaces (an int may replace a float), unless that one is None.
    """
    if override_params is None:
        return base_params
    is_dict = isinstance(base_params, dict)
    for k, v in override_params.items():
        has = k in base_params if is_dict else hasattr(base_params, k)
        if not has:
            raise ValueError(f"key {k!r} is not in the base parameters")
        old = base_params[k] if is_dict else getattr(base_params, k)
        v = _compatible(k, old, v)
        if is_dict:
            base_params[k] = v
        else:
            setattr(base_params, k, v)
    return base_params
