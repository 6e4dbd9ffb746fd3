"""``nni.utils.merge_parameter`` for the light shim."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_parameter"]


def merge_parameter(base_params: Any, override_params: dict[str, Any] | None) -> Any:
    """Updates ``base_params`` (an argparse Namespace or a dict) with the tuner's parameters.

    Like NNI's: every key must exist in ``base_params``; a value is converted to the type of the
    value it replaces when that one is not None.
    """
    if override_params is None:
        return base_params
    is_dict = isinstance(base_params, dict)
    for k, v in override_params.items():
        has = k in base_params if is_dict else hasattr(base_params, k)
        if not has:
            raise ValueError(f"key {k!r} is not found in {type(base_params).__name__}")
        old = base_params[k] if is_dict else getattr(base_params, k)
        if old is not None and v is not None and type(old) is not type(v):
            if isinstance(old, bool) and isinstance(v, str):
                v = v.lower() in ("true", "1", "yes")
            else:
                v = type(old)(v)
        if is_dict:
            base_params[k] = v
        else:
            setattr(base_params, k, v)
    return base_params
