"""The exception hierarchy. Every error hyperloom raises on purpose derives from HyperloomError.

The CLI maps these to exit codes in one place (:func:`hyperloom.cli.main`): usage and config errors
exit 2, runtime errors exit 1.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ExperimentLockedError",
    "ExperimentNotFoundError",
    "HyperloomError",
    "MissingDependencyError",
    "PluginError",
    "SearchSpaceError",
    "StoreError",
    "UsageError",
]


class HyperloomError(Exception):
    """Base of every error hyperloom raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code: int = 1


class UsageError(HyperloomError):
    """Bad input from the user: a bad argument, file or value."""

    exit_code = 2


class ConfigError(UsageError):
    """An experiment config is invalid. The message names the file, the key path and the value."""


class SearchSpaceError(UsageError):
    """A search space is invalid. The message names the parameter path and the bad value.

    A space is checked whole: ``errors`` holds one message per bad parameter. The message itself
    stays one line (the first error, and how many more there are); ``hyperloom space check``
    lists them all.
    """

    def __init__(self, message: str, errors: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.errors: tuple[str, ...] = errors if errors else (message,)

    @classmethod
    def of(cls, errors: list[str] | tuple[str, ...], prefix: str = "") -> SearchSpaceError:
        """One error for several problems, each message given ``prefix`` (a file name...)."""
        errs = tuple(prefix + e for e in errors)
        if len(errs) == 1:
            return cls(errs[0])
        more = len(errs) - 1
        return cls(
            f"{errs[0]} (and {more} more error{'s' if more > 1 else ''}: "
            f"`hyperloom space check` lists them all)",
            errs,
        )


class PluginError(UsageError):
    """A plugin is unknown, ambiguous, broken, or was given bad arguments."""


_INSTALL = {
    "torch": "pip install torch==2.13.0 (the CPU build; a plain `pip install torch` pulls a "
    "multi-GB CUDA build)",
    "nni": "pip install nni==3.0, best in its own venv (nni pins filelock<3.12)",
}


class MissingDependencyError(HyperloomError):
    """An optional dependency (an extra) is needed but not installed."""

    exit_code = 2

    def __init__(self, package: str, extra: str, feature: str) -> None:
        hint = _INSTALL.get(package, f"pip install '.[{extra}]' in the hyperloom clone")
        super().__init__(
            f"{feature} needs the optional package {package!r}, which is not installed. "
            f"Install it with: {hint}"
        )
        self.package = package
        self.extra = extra


class ExperimentNotFoundError(UsageError):
    """No experiment with that id or directory exists."""


class ExperimentLockedError(HyperloomError):
    """Another manager is already driving the experiment."""


class StoreError(HyperloomError):
    """The experiment store cannot be opened, read or written."""
