"""The plugin-author kit: conformance suites that every tuner and assessor passes, third-party
ones too.

::

    from hyperloom.plugins.testing import check_assessor, check_tuner

    results = check_tuner(MyTuner)          # MyTuner(space, mode=..., seed=...)
    assert all(r.ok for r in results), [r for r in results if not r.ok]

``hyperloom plugins check NAME`` runs the same suites on an installed plugin. The suites live in
:mod:`hyperloom.plugins.testing.tuners` and :mod:`hyperloom.plugins.testing.assessors` (with the
per-check helpers for pytest parametrization); they are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["CheckResult", "check_assessor", "check_tuner"]

_EXPORTS = {
    "CheckResult": "hyperloom.plugins.testing._result",
    "check_tuner": "hyperloom.plugins.testing.tuners",
    "check_assessor": "hyperloom.plugins.testing.assessors",
}

if TYPE_CHECKING:
    from hyperloom.plugins.testing._result import CheckResult
    from hyperloom.plugins.testing.assessors import check_assessor
    from hyperloom.plugins.testing.tuners import check_tuner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperloom.plugins.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
