"""Random search: independent draws from the space, without duplicates in finite spaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hyperloom.space import SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.tuners._common import Seen, seed_entropy, step_rng
from hyperloom.types import Constraint, Objective, TrialResult

__all__ = ["RandomTuner"]


class RandomTuner(Tuner):
    """Draws each parameter set independently from the space.

    In a finite space it never repeats a point and returns None once every point was suggested;
    it then falls back to enumerating the remaining points when random draws keep colliding.
    Each draw uses a generator derived from the seed and the number of observed and pending
    trials, so a tuner rebuilt by replaying ``observe()`` continues exactly like the original.

    It ignores the results, so it searches any number of ``objectives`` under any
    ``constraints`` (accepted, unused).
    """

    multi_objective = True
    inline_calls = True  # a draw costs less than a thread hop

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] = (),
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        self.constraints = tuple(constraints)
        self._seen = Seen(space)
        self._entropy = seed_entropy(seed)
        self._n_observed = 0
        self._pending: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        rng = step_rng(self._entropy, self._n_observed, len(self._pending))
        if not self._seen.finite:
            p: dict[str, Any] | None = self.space.sample(rng)
        else:
            p = self._seen.fallback(rng)
            if p is None:
                return None
            self._seen.add(p)
        self._pending.add(trial_id)
        return p

    def observe(self, result: TrialResult) -> None:
        self._pending.discard(result.trial_id)
        self._n_observed += 1
        if self._seen.finite:
            self._seen.add(result.params)
