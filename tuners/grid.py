"""Grid search over every parameter type.

Discrete parameters (choice, randint, q-types with few steps) take all their values. Continuous
parameters take ``points_per_dim`` evenly spaced values (default 5; in log space for log types,
at evenly spaced quantiles for normal types). Nested choices expand each option's sub-grid.

The grid is never built: point ``i`` is computed from its mixed-radix digits (one digit per
parameter, the first parameter varying slowest), so a grid of 10**30 points costs no memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hyperloom.space import Choice, Condition, Parameter, PathT, SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import Objective, TrialResult

__all__ = ["MAX_POINTS_PER_DIM", "GridTuner", "LazyGrid", "iter_grid"]

#: The largest ``points_per_dim`` accepted (a bigger value is surely a typo).
MAX_POINTS_PER_DIM = 1_000_000


def _values_of(p: Parameter, n: int) -> tuple[int, Callable[[int], Any]]:
    """The number of grid values of ``p`` and a function from an index to the value."""
    own = type(p).grid_size is not Parameter.grid_size and type(p).grid_at is not Parameter.grid_at
    if own:
        return p.grid_size(n), lambda k: p.grid_at(n, k)
    values = p.grid(n)  # a plugin type: its grid is a list
    return len(values), values.__getitem__


class LazyGrid:
    """The grid of ``space`` as an indexable sequence computed on demand."""

    def __init__(self, space: SearchSpace, points_per_dim: int = 5) -> None:
        self.space = space
        self.n = points_per_dim
        self._values: dict[PathT, tuple[int, Callable[[int], Any]]] = {}
        self._sizes: dict[Condition | None, int] = {}
        self._children: dict[Condition | None, list[Parameter]] = {}
        for p in space.parameters:
            self._children.setdefault(p.condition, []).append(p)
        self.size = self._count(None)

    def _params(self, cond: Condition | None) -> list[Parameter]:
        return self._children.get(cond, [])

    def _radix(self, p: Parameter) -> int:
        if isinstance(p, Choice) and p.nested:
            return sum(self._count((p.path, i)) for i in range(p.n_choices))
        if p.path not in self._values:
            self._values[p.path] = _values_of(p, self.n)
        return self._values[p.path][0]

    def _count(self, cond: Condition | None) -> int:
        if cond not in self._sizes:
            total = 1
            for p in self._params(cond):
                total *= self._radix(p)
            self._sizes[cond] = total
        return self._sizes[cond]

    def _flat(self, cond: Condition | None, index: int, out: dict[PathT, Any]) -> None:
        params = self._params(cond)
        digits: list[int] = []
        for p in reversed(params):  # the last parameter varies fastest
            index, d = divmod(index, self._radix(p))
            digits.append(d)
        for p, d in zip(params, reversed(digits), strict=True):
            if isinstance(p, Choice) and p.nested:
                for i, name in enumerate(p.options):
                    sub = self._count((p.path, i))
                    if d < sub:
                        out[p.path] = name
                        self._flat((p.path, i), d, out)
                        break
                    d -= sub
            else:
                out[p.path] = self._values[p.path][1](d)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.size:
            raise IndexError(index)
        flat: dict[PathT, Any] = {}
        self._flat(None, index, flat)
        return self.space.assemble(flat)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        i = 0
        while i < self.size:
            yield self[i]
            i += 1


def iter_grid(space: SearchSpace, points_per_dim: int = 5) -> Iterator[dict[str, Any]]:
    """Yields every grid point of ``space`` in a fixed order (lazily)."""
    return iter(LazyGrid(space, points_per_dim))


class GridTuner(Tuner):
    """Suggests every grid point once, in order, then returns None.

    It ignores the results, so it searches any number of ``objectives`` (an exhaustive sweep
    of a small space whose Pareto front the experiment then shows).

    Args:
        points_per_dim: How many values a continuous parameter takes (default 5, at most
            1,000,000).
    """

    inline_calls = True  # the next grid point costs less than a thread hop
    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        points_per_dim: int = 5,
        objectives: Sequence[Objective] | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        if (
            isinstance(points_per_dim, bool)
            or not isinstance(points_per_dim, int)
            or not 1 <= points_per_dim <= MAX_POINTS_PER_DIM
        ):
            from hyperloom.errors import PluginError

            raise PluginError(
                "grid: points_per_dim must be an integer in [1, "
                f"{MAX_POINTS_PER_DIM:,}], got {points_per_dim!r}"
            )
        self.points_per_dim = points_per_dim
        self._iter = iter_grid(space, points_per_dim)
        self._done: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        for p in self._iter:
            key = json.dumps(p, sort_keys=True)
            if key not in self._done:
                self._done.add(key)
                return p
        return None

    def observe(self, result: TrialResult) -> None:
        self._done.add(json.dumps(result.params, sort_keys=True))
