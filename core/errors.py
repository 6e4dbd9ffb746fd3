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

    ``errors`` holds one message per problem found (a space is checked whole, so that every bad
    parameter is reported at once); the message is the single one, or all of them in a list.
    """

    def __init__(self, message: str, errors: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.errors: tuple[str, ...] = errors if errors else (message,)

    @classmethod
    def of(cls, errors: list[str]) -> SearchSpaceError:
        """One error for several problems: ``"2 errors: ..."`` with one line per problem."""
        if len(errors) == 1:
            return cls(errors[0])
        lines = "\n".join(f"  - {e}" for e in errors)
        return cls(f"{len(errors)} errors:\n{lines}", tuple(errors))


class PluginError(UsageError):
    """A plugin is unknown, ambiguous, broken, or was given bad arguments."""


class MissingDependencyError(HyperloomError):
    """An optional dependency (an extra) is needed but not installed."""

    exit_code = 2

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the optional package {package!r}, which is not installed. "
            f"Install it with: pip install 'hyperloom[{extra}]'"
        )
        self.package = package
        self.extra = extra


class ExperimentNotFoundError(UsageError):
    """No experiment with that id or directory exists."""


class ExperimentLockedError(HyperloomError):
    """Another manager is already driving the experiment."""


class StoreError(HyperloomError):
    """The experiment store cannot be opened, read or written."""
