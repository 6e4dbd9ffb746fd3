"""The result type and check runner shared by the plugin conformance suites (tuners and
assessors)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckFailure", "CheckResult", "run_check"]


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


class CheckFailure(Exception):
    """A check failed; the message says how (the suites raise subclasses of it)."""


def run_check(checks: Mapping[str, Callable[[Any], str]], name: str, factory: Any) -> CheckResult:
    """Runs ``checks[name](factory)``; a :class:`CheckFailure` or any other exception becomes a
    failed result (the latter with its traceback's last frame)."""
    try:
        detail = checks[name](factory)
    except CheckFailure as e:
        return CheckResult(name, False, str(e))
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{tb.filename}:{tb.lineno}"
        return CheckResult(name, False, f"raised {type(e).__name__}: {e} (at {where})")
    return CheckResult(name, True, detail)
