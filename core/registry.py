"""Plugin discovery and loading through Python entry points.

Groups: ``hyperloom.tuners``, ``hyperloom.assessors``, ``hyperloom.search_spaces`` and
``hyperloom.executors``. Built-ins are registered in hyperloom's own ``pyproject.toml`` exactly as a
third-party package would. Discovery reads metadata only; :func:`load` imports the one plugin asked
for. A plugin that fails to import is reported with its name, distribution and cause when used,
and never breaks discovery. ``HYPERLOOM_DISABLE_PLUGINS=1`` keeps built-ins only.

A plugin can also be named as ``module:Class`` (NNI's ``className``), with an optional code
directory that is put on ``sys.path`` first.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hyperloom.errors import PluginError

__all__ = [
    "GROUPS",
    "PluginInfo",
    "check_class_args",
    "discover",
    "load",
    "load_assessor",
    "load_tuner",
    "plugins_disabled",
]

log = logging.getLogger(__name__)

GROUPS = {
    "tuner": "hyperloom.tuners",
    "assessor": "hyperloom.assessors",
    "search_space": "hyperloom.search_spaces",
    "executor": "hyperloom.executors",
}
_BUILTIN_DIST = "hyperloom"


@dataclass(frozen=True)
class PluginInfo:
    """One entry point of a plugin group."""

    name: str
    group: str
    value: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == _BUILTIN_DIST


def plugins_disabled() -> bool:
    """Whether ``HYPERLOOM_DISABLE_PLUGINS`` asks for built-ins only."""
    return os.environ.get("HYPERLOOM_DISABLE_PLUGINS", "").strip().lower() not in ("", "0", "false", "no")


def _group_name(kind: str) -> str:
    return GROUPS.get(kind, kind)


def discover(kind: str) -> list[PluginInfo]:
    """All entry points of a group (``kind`` is "tuner", "assessor", ... or a group name),
    read from metadata only. Sorted by name, then distribution."""
    group = _group_name(kind)
    found: dict[tuple[str, str], PluginInfo] = {}
    for dist in metadata.distributions():
        try:
            dist_name = dist.metadata["Name"] or "?"
            eps = [ep for ep in dist.entry_points if ep.group == group]
        except Exception as e:  # a malformed dist-info must not take discovery down
            log.warning("skipping a malformed distribution %r: %s", getattr(dist, "_path", dist), e)
            continue
        for ep in eps:
            info = PluginInfo(ep.name, group, ep.value, dist_name, dist.version or "?")
            if plugins_disabled() and not info.builtin:
                continue
            found.setdefault((info.name, info.distribution), info)
    return sorted(found.values(), key=lambda i: (i.name, i.distribution))


def _import_ref(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def load(kind: str, name: str, code_directory: str | Path | None = None) -> Any:
    """Loads the object a plugin registers (usually a class).

    ``name`` is an entry-point name, or ``module:Class`` (with ``code_directory`` put on
    ``sys.path`` first). Raises :class:`PluginError` for an unknown, ambiguous or broken plugin,
    naming its distribution and the cause.
    """
    group = _group_name(kind)
    label = kind.replace("_", " ")
    if ":" in name:
        if code_directory is not None:
            d = str(Path(code_directory).resolve())
            if d not in sys.path:
                sys.path.insert(0, d)
        try:
            return _import_ref(name, label)
        except Exception as e:
            where = f" (code directory {str(code_directory)!r})" if code_directory else ""
            raise PluginError(f"cannot import {label} {name!r}{where}: {type(e).__name__}: {e}") from None
    matches = [i for i in discover(group) if i.name == name]
    if not matches:
        known = sorted({i.name for i in discover(group)})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PluginError(
            f"unknown {label} {name!r}.{hint} Installed: {', '.join(known) or 'none'}. "
            f"(`hyperloom plugins` lists them; a class can be named as 'module:Class'.)"
        )
    if len(matches) > 1:
        dists = " and ".join(f"{m.distribution} {m.version} ({m.value})" for m in matches)
        raise PluginError(
            f"{label} {name!r} is provided by more than one distribution: {dists}. "
            f"Uninstall one, or name the class directly as 'module:Class'."
        )
    info = matches[0]
    try:
        return _import_ref(info.value, label)
    except Exception as e:
        raise PluginError(
            f"{label} plugin {name!r} from distribution {info.distribution} {info.version} "
            f"failed to load ({info.value}): {type(e).__name__}: {e}"
        ) from None


def check_class_args(cls: Any, args: Mapping[str, Any], label: str, reserved: tuple[str, ...] = ()) -> None:
    """Checks ``args`` against the signature of ``cls`` before anything starts: an unknown
    argument is an error that names it and suggests the closest valid one."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in reserved]
    for key in args:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"{label}: unknown argument {key!r} in classArgs.{hint} Valid arguments: {', '.join(valid) or 'none'}"
            )


def _construct(kind: str, cls: Any, label: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return cls(*args, **kwargs)
    except PluginError:
        raise
    except (TypeError, ValueError) as e:
        raise PluginError(f"{label}: bad classArgs: {e}") from None
    except Exception as e:
        from hyperloom.errors import HyperloomError

        if isinstance(e, HyperloomError):
            raise PluginError(f"{label}: {e}") from None
        raise


def load_tuner(
    name: str, space: Any, *, code_directory: str | Path | None = None, **kwargs: Any
) -> Any:
    """Builds a tuner by entry-point name or ``module:Class``: ``cls(space, **kwargs)``."""
    cls = load("tuner", name, code_directory)
    label = f"tuner {name!r}"
    check_class_args(cls, kwargs, label, reserved=("space",))
    return _construct("tuner", cls, label, space, **kwargs)


def load_assessor(name: str, *, code_directory: str | Path | None = None, **kwargs: Any) -> Any:
    """Builds an assessor by entry-point name or ``module:Class``: ``cls(**kwargs)``."""
    cls = load("assessor", name, code_directory)
    label = f"assessor {name!r}"
    check_class_args(cls, kwargs, label)
    return _construct("assessor", cls, label, **kwargs)
