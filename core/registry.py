"""Plugin discovery and loading through Python entry points.

Groups: ``hyperloom.tuners``, ``hyperloom.assessors``, ``hyperloom.search_spaces`` and
``hyperloom.executors``, plus ``hyperloom.parameter_types`` (new ``_type`` names for search
spaces). Built-ins are registered in hyperloom's own ``pyproject.toml`` exactly as a third-party
package would. Discovery reads metadata only; :func:`load` imports the one plugin asked for. A
plugin that fails to import is reported with its name, distribution and cause when used, and never
breaks discovery. ``HYPERLOOM_DISABLE_PLUGINS=1`` keeps built-ins only.

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
from typing import TYPE_CHECKING, Any, cast

from hyperloom.errors import HyperloomError, PluginError

if TYPE_CHECKING:
    from hyperloom.space import ParamFactory, SearchSpace

__all__ = [
    "GROUPS",
    "PluginInfo",
    "check_class_args",
    "discover",
    "discover_all",
    "load",
    "load_assessor",
    "load_search_space",
    "load_tuner",
    "parameter_type_factory",
    "plugins_disabled",
    "try_load",
]

log = logging.getLogger(__name__)

GROUPS = {
    "tuner": "hyperloom.tuners",
    "assessor": "hyperloom.assessors",
    "search_space": "hyperloom.search_spaces",
    "executor": "hyperloom.executors",
    "parameter_type": "hyperloom.parameter_types",
}
_BUILTIN_DIST = "hyperloom"
_LABELS = {group: kind.replace("_", " ") for kind, group in GROUPS.items()}


@dataclass(frozen=True)
class PluginInfo:
    """One entry point of a plugin group, as read from metadata (nothing imported).

    Attributes:
        name: The entry-point name a config uses.
        group: The entry-point group, e.g. ``hyperloom.tuners``.
        value: What it points at, ``module:attr``.
        distribution: The installed distribution that declares it.
        version: That distribution's version.
    """

    name: str
    group: str
    value: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        """Whether hyperloom itself provides it."""
        return self.distribution == _BUILTIN_DIST

    @property
    def kind(self) -> str:
        """The short group name: "tuner", "assessor", "search_space", ..."""
        for kind, group in GROUPS.items():
            if group == self.group:
                return kind
        return self.group


def plugins_disabled() -> bool:
    """Whether ``HYPERLOOM_DISABLE_PLUGINS`` asks for built-ins only."""
    return os.environ.get("HYPERLOOM_DISABLE_PLUGINS", "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    )


def _group_name(kind: str) -> str:
    return GROUPS.get(kind, kind)


def _path_key() -> tuple[tuple[str, int], ...]:
    """``sys.path`` with each entry's modification time: installing or removing a distribution
    changes its directory's, so a scan cached under this key is never stale."""
    out = []
    for p in sys.path:
        try:
            out.append((p, os.stat(p or ".").st_mtime_ns))
        except OSError:
            out.append((p, -1))
    return tuple(out)


# The last scan's key and the entry points it found: (group, name, value, distribution, version).
_SCAN_CACHE: list[tuple[Any, list[tuple[str, str, str, str, str]]]] = []


def _entry_points(groups: set[str]) -> list[tuple[str, str, str, str, str]]:
    """The entry points of ``groups`` and of every hyperloom group, read in one pass over the
    installed distributions and kept while ``sys.path`` is unchanged (a scan reads the metadata
    of every distribution: tens of milliseconds on an environment with torch and ray)."""
    wanted = set(GROUPS.values()) | groups
    key = (_path_key(), frozenset(wanted))
    if _SCAN_CACHE and _SCAN_CACHE[0][0][0] == key[0] and key[1] <= _SCAN_CACHE[0][0][1]:
        return _SCAN_CACHE[0][1]
    found: list[tuple[str, str, str, str, str]] = []
    for dist in metadata.distributions():
        try:
            # entry_points.txt first: most distributions have none of ours, and parsing METADATA
            # is the expensive part of a scan
            eps = [ep for ep in dist.entry_points if ep.group in wanted]
            if not eps:
                continue
            dist_name = dist.metadata["Name"] or "?"
            version = dist.version or "?"
        except Exception as e:  # a malformed dist-info must not take discovery down
            log.warning("skipping a malformed distribution %r: %s", getattr(dist, "_path", dist), e)
            continue
        found += [(ep.group, ep.name, ep.value, dist_name, version) for ep in eps]
    _SCAN_CACHE[:] = [(key, found)]
    return found


def _scan(groups: set[str]) -> list[PluginInfo]:
    found: dict[tuple[str, str, str], PluginInfo] = {}
    disabled = plugins_disabled()
    for group, name, value, dist_name, version in _entry_points(groups):
        if group not in groups:
            continue
        info = PluginInfo(name, group, value, dist_name, version)
        if disabled and not info.builtin:
            continue
        # the first copy of a distribution on sys.path wins, as for imports
        found.setdefault((info.group, info.name, info.distribution), info)
    return sorted(found.values(), key=lambda i: (i.group, i.name, i.distribution))


def discover(kind: str) -> list[PluginInfo]:
    """All entry points of a group (``kind`` is "tuner", "assessor", ... or a group name),
    read from metadata only. Sorted by name, then distribution."""
    return _scan({_group_name(kind)})


def discover_all() -> list[PluginInfo]:
    """The entry points of every group in :data:`GROUPS`, sorted by group, name, distribution."""
    return _scan(set(GROUPS.values()))


def _import_ref(ref: str) -> Any:
    module_name, sep, attr = ref.partition(":")
    module_name, attr = module_name.strip(), attr.strip()
    if not module_name or (sep and not attr):
        raise ValueError(f"{ref!r} is not of the form 'module' or 'module:attribute'")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def _load_info(info: PluginInfo) -> Any:
    label = _LABELS.get(info.group, info.group)
    try:
        return _import_ref(info.value)
    except Exception as e:
        hint = (
            ""
            if info.builtin
            else " Reinstall or fix that package, or set HYPERLOOM_DISABLE_PLUGINS=1 to use "
            "built-ins only."
        )
        raise PluginError(
            f"{label} plugin {info.name!r} from distribution {info.distribution} {info.version} "
            f"failed to load ({info.value}): {type(e).__name__}: {e}.{hint}"
        ) from None


def try_load(info: PluginInfo) -> tuple[Any, str | None]:
    """Imports one discovered plugin: ``(obj, None)``, or ``(None, error message)`` when broken."""
    try:
        return _load_info(info), None
    except PluginError as e:
        return None, str(e)


def load(kind: str, name: str, code_directory: str | Path | None = None) -> Any:
    """Loads the object a plugin registers (usually a class).

    ``name`` is an entry-point name, or ``module:Class`` (with ``code_directory`` put on
    ``sys.path`` first). Raises :class:`PluginError` for an unknown, ambiguous or broken plugin,
    naming its distribution and the cause.
    """
    group = _group_name(kind)
    label = _LABELS.get(group, kind.replace("_", " "))
    if ":" in name:
        if code_directory is not None:
            d = str(Path(code_directory).resolve())
            if d not in sys.path:
                sys.path.insert(0, d)
        try:
            return _import_ref(name)
        except Exception as e:
            where = f" (code directory {str(code_directory)!r})" if code_directory else ""
            raise PluginError(
                f"cannot import {label} {name!r}{where}: {type(e).__name__}: {e}"
            ) from None
    found = discover(group)
    matches = [i for i in found if i.name == name]
    if not matches:
        known = sorted({i.name for i in found})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        off = (
            " (third-party plugins are off: HYPERLOOM_DISABLE_PLUGINS is set)"
            if plugins_disabled()
            else ""
        )
        raise PluginError(
            f"unknown {label} {name!r}{off}.{hint} Installed: {', '.join(known) or 'none'}. "
            f"(`hyperloom plugins` lists them; a class can be named as 'module:Class'.)"
        )
    if len(matches) > 1:
        dists = " and ".join(f"{m.distribution} {m.version} ({m.value})" for m in matches)
        raise PluginError(
            f"{label} {name!r} is provided by more than one distribution: {dists}. "
            + (
                "Uninstall one."
                if group == GROUPS["parameter_type"]
                else "Uninstall one, or name the class directly as 'module:Class'."
            )
        )
    return _load_info(matches[0])


def check_class_args(
    cls: Any,
    args: Mapping[str, Any],
    label: str,
    reserved: tuple[str, ...] = (),
    what: str = "classArgs",
) -> None:
    """Checks ``args`` against the signature of ``cls`` before anything starts: an unknown
    argument is an error that names it and suggests the closest valid one. ``what`` names the
    place the arguments come from in the message ("classArgs", "options")."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [
        n
        for n, p in params.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in reserved
    ]
    for key in args:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"{label}: unknown argument {key!r} in {what}.{hint} "
                f"Valid arguments: {', '.join(valid) or 'none'}"
            )


def _construct(cls: Any, label: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return cls(*args, **kwargs)
    except PluginError:
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise PluginError(f"{label}: bad classArgs: {e}") from None
    except HyperloomError as e:
        raise PluginError(f"{label}: {e}") from None


def _pass_code_directory(
    cls: Any, name: str, code_directory: str | Path | None, kwargs: dict[str, Any]
) -> None:
    """A plugin named by entry point whose class takes ``code_directory`` (the NNI adapters,
    which import a user's class from there) is given the section's ``codeDirectory``."""
    if code_directory is None or ":" in name or "code_directory" in kwargs:
        return
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if "code_directory" in params:
        kwargs["code_directory"] = str(code_directory)


def load_tuner(
    name: str, space: Any, *, code_directory: str | Path | None = None, **kwargs: Any
) -> Any:
    """Builds a tuner by entry-point name or ``module:Class``: ``cls(space, **kwargs)``.

    With an entry-point name, ``code_directory`` is passed on to a class that takes a
    ``code_directory`` argument (the ``nni`` adapter imports a ``className`` from there)."""
    cls = load("tuner", name, code_directory)
    label = f"tuner {name!r}"
    _pass_code_directory(cls, name, code_directory, kwargs)
    check_class_args(cls, kwargs, label, reserved=("space",))
    return _construct(cls, label, space, **kwargs)


def load_assessor(name: str, *, code_directory: str | Path | None = None, **kwargs: Any) -> Any:
    """Builds an assessor by entry-point name or ``module:Class``: ``cls(**kwargs)``; a
    ``code_directory`` is passed on as for :func:`load_tuner`."""
    cls = load("assessor", name, code_directory)
    label = f"assessor {name!r}"
    _pass_code_directory(cls, name, code_directory, kwargs)
    check_class_args(cls, kwargs, label)
    return _construct(cls, label, **kwargs)


# ---------------------------------------------------------------------------------------------
# search spaces and parameter types


def load_search_space(
    name: str, options: Mapping[str, Any] | None = None, code_directory: str | Path | None = None
) -> SearchSpace:
    """Builds the space a search-space plugin produces.

    The entry point names a callable ``(**options) -> dict`` (an NNI-format space) or returning a
    :class:`~hyperloom.space.SearchSpace`; a plain dict or ``SearchSpace`` object also works when
    no options are given.

    Raises:
        PluginError: The plugin is unknown or broken, an option is unknown or bad (the message
            names it), or the plugin produced an invalid space.
    """
    from hyperloom.errors import SearchSpaceError
    from hyperloom.space import SearchSpace

    opts = dict(options or {})
    obj = load("search_space", name, code_directory)
    label = f"search space plugin {name!r}"
    if isinstance(obj, SearchSpace | Mapping):
        if opts:
            raise PluginError(f"{label} is a fixed space and takes no options; got {sorted(opts)}")
        made: Any = obj
    elif callable(obj):
        check_class_args(obj, opts, label, what="options")
        try:
            made = obj(**opts)
        except (HyperloomError, TypeError, ValueError) as e:
            raise PluginError(f"{label}: bad options {opts!r}: {e}") from None
    else:
        raise PluginError(
            f"{label} points at a {type(obj).__name__}; it must be a callable returning an "
            f"NNI-format dict or a SearchSpace"
        )
    if isinstance(made, SearchSpace):
        return made
    if not isinstance(made, Mapping):
        raise PluginError(f"{label} returned a {type(made).__name__}, not a dict or SearchSpace")
    try:
        return SearchSpace.from_nni(made)
    except SearchSpaceError as e:
        raise PluginError(f"{label} produced an invalid space: {e}") from None


def parameter_type_factory(type_name: str) -> ParamFactory | None:
    """The factory a ``hyperloom.parameter_types`` plugin registers for ``type_name``, or None
    when no installed plugin provides it. The search-space parser calls this for a ``_type`` it
    does not know, so a file space, a plugin space and a stored space all resolve alike.

    Raises:
        PluginError: Two distributions provide the type, or the plugin fails to load.
    """
    if not type_name:
        return None
    found = [i for i in discover("parameter_type") if i.name == type_name]
    if not found:
        return None
    factory = load("parameter_type", type_name)
    if not callable(factory):
        raise PluginError(
            f"parameter type plugin {type_name!r} from {found[0].distribution} is a "
            f"{type(factory).__name__}, not a factory (path, condition, _value) -> Parameter"
        )
    return cast("ParamFactory", factory)
