"""Grid search over every parameter type.

Discrete parameters (choice, randint, q-types with few steps) take all their values. Continuous
parameters take ``points_per_dim`` evenly spaced values (default 5; in log space for log types,
at evenly spaced quantiles for normal types). Nested choices expand each option's sub-grid.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from hyperloom.space import Choice, Condition, PathT, SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import TrialResult

__all__ = ["GridTuner", "iter_grid"]


def iter_grid(space: SearchSpace, points_per_dim: int = 5) -> Iterator[dict[str, Any]]:
    """Yields every grid point of ``space`` in a fixed order."""

    def flats(cond: Condition | None) -> Iterator[dict[PathT, Any]]:
        params = [p for p in space.parameters if p.condition == cond]
        per_param: list[list[dict[PathT, Any]]] = []
        for p in params:
            if isinstance(p, Choice) and p.nested:
                opts: list[dict[PathT, Any]] = []
                for i, name in enumerate(p.options):
                    for sub in flats((p.path, i)):
                        opts.append({p.path: name, **sub})
                per_param.append(opts)
            else:
                per_param.append([{p.path: v} for v in p.grid(points_per_dim)])
        for combo in itertools.product(*per_param):
            merged: dict[PathT, Any] = {}
            for part in combo:
                merged.update(part)
            yield merged

    for flat in flats(None):
        yield space.assemble(flat)


class GridTuner(Tuner):
    """Suggests every grid point once, in order, then returns None.

    Args:
        points_per_dim: How many values a continuous parameter takes (default 5).
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        points_per_dim: int = 5,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        if not isinstance(points_per_dim, int) or points_per_dim < 1:
            from hyperloom.errors import PluginError

            raise PluginError(f"grid: points_per_dim must be a positive integer, got {points_per_dim!r}")
        self.points_per_dim = points_per_dim
        self._iter = iter_grid(space, points_per_dim)
        self._done: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        for p in self._iter:
            if json.dumps(p, sort_keys=True) not in self._done:
                self._done.add(json.dumps(p, sort_keys=True))
                return p
        return None

    def observe(self, result: TrialResult) -> None:
        self._done.add(json.dumps(result.params, sort_keys=True))
