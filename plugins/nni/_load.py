"""Finding and building NNI algorithm classes (nni imported lazily)."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

from hyperloom.errors import MissingDependencyError, PluginError

__all__ = ["build", "plain"]

log = logging.getLogger(__name__)


def _nni() -> Any:
    try:
        import nni
    except ImportError:
        raise MissingDependencyError("nni", "nni", "Running NNI tuners and assessors") from None
    return nni


def build(
    kind: str,
    *,
    builtin: str | None,
    class_name: str | None,
    code_directory: str | Path | None,
    class_args: dict[str, Any] | None,
    defaults: dict[str, Any],
) -> Any:
    """Builds an NNI tuner (``kind="tuners"``) or assessor (``"assessors"``).

    Args:
        kind: ``"tuners"`` or ``"assessors"``.
        builtin: An NNI built-in name (``TPE``, ``Medianstop``, ...), or None.
        class_name: ``module.Class`` of a custom NNI class, or None.
        code_directory: A folder to put on ``sys.path`` for ``class_name``.
        class_args: The class's keyword arguments (NNI's ``classArgs``).
        defaults: Arguments added when the class accepts them and ``class_args`` lacks them
            (``optimize_mode``, ``seed``).

    Raises:
        MissingDependencyError: nni is not installed.
        PluginError: The class cannot be found or refuses its arguments.
    """
    _nni()
    if bool(builtin) == bool(class_name):
        raise PluginError(
            f"NNI {kind[:-1]}: give exactly one of builtin (e.g. 'TPE') or class_name ('module.Class')"
        )
    args = dict(class_args or {})
    label = f"NNI {kind[:-1]} {builtin or class_name!r}"
    if builtin:
        from nni.tools.package_utils.tuner_factory import get_builtin_module_class_name

        try:
            module_name, cls_name = get_builtin_module_class_name(kind, builtin)
        except Exception as e:
            raise PluginError(f"{label}: not an NNI built-in ({type(e).__name__}: {e})") from None
        if module_name is None:
            raise PluginError(f"{label}: not an NNI built-in {kind[:-1]}")
        from nni.tools.package_utils.tuner_factory import _get_registered_algo_meta

        meta = _get_registered_algo_meta(builtin.lower()) or {}
        args = {**dict(meta.get("classArgs") or {}), **args}
    else:
        assert class_name is not None
        if code_directory is not None:
            d = str(Path(code_directory).resolve())
            if d not in sys.path:
                sys.path.insert(0, d)
        module_name, _, cls_name = class_name.replace(":", ".").rpartition(".")
        if not module_name:
            raise PluginError(f"{label}: class_name must look like 'module.Class'")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except Exception as e:
        raise PluginError(
            f"{label}: cannot import {module_name}.{cls_name}: {type(e).__name__}: {e}"
        ) from None
    try:
        params = inspect.signature(cls).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        params, takes_all = {}, False  # type: ignore[assignment]
    for k, v in defaults.items():
        if v is not None and k not in args and (k in params or takes_all):
            args[k] = v
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise PluginError(f"{label}: bad classArgs {args!r}: {e}") from None


def plain(value: Any) -> Any:
    """NNI values (numpy scalars and arrays inside dicts/lists) as plain JSON-able Python."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return value
