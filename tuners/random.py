"""Random search: independent draws from the space, without duplicates in finite spaces."""

from __future__ import annotations

import json
from typing import Any

from hyperloom.space import SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import TrialResult

__all__ = ["RandomTuner"]


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


class RandomTuner(Tuner):
    """Draws each parameter set independently from the space.

    In a finite space it never repeats a point and returns None once every point was suggested;
    it then falls back to enumerating the remaining points when random draws keep colliding.
    """

    def __init__(self, space: SearchSpace, *, mode: str = "maximize", seed: int | None = None) -> None:
        super().__init__(space, mode=mode, seed=seed)
        self._finite_size = space.size()
        self._seen: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self._finite_size == float("inf"):
            return self.space.sample(self.rng)
        if len(self._seen) >= self._finite_size:
            return None
        for _ in range(100):
            p = self.space.sample(self.rng)
            if _key(p) not in self._seen:
                self._seen.add(_key(p))
                return p
        from hyperloom.tuners.grid import iter_grid

        for p in iter_grid(self.space, points_per_dim=1 << 30):
            if _key(p) not in self._seen:
                self._seen.add(_key(p))
                return p
        return None

    def observe(self, result: TrialResult) -> None:
        if self._finite_size != float("inf"):
            self._seen.add(_key(result.params))
