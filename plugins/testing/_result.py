"""The result type shared by the plugin conformance suites (tuners and assessors)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CheckResult"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one conformance check.

    Attributes:
        name: The check's name (stable, usable as a pytest id), e.g. ``"determinism"``.
        ok: Whether the plugin passed it.
        detail: What was checked, or, on failure, what went wrong and where.
    """

    name: str
    ok: bool
    detail: str
