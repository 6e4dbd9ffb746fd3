"""A hill-climbing tuner: random points first, then small moves around the best point so far.

It keeps the tuner contract of hyperloom (checked by ``hyperloom plugins check example_hill``):
every suggestion is a point of the space, the same seed and history give the same suggestions
(each draw uses a generator seeded by the seed and the history's length), a finite space is never
repeated and ends with None, and failed trials (value None) are simply never the best.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hyperloom.space import Parameter, SearchSpace
from hyperloom.tuners import Tuner
from hyperloom.types import TrialResult

_RETRIES = 200


class HillClimbTuner(Tuner):
    """Random search for ``n_startup`` trials, then mutations of the best point.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Seed for all randomness.
        n_startup: Random trials before climbing.
        step: Size of a numeric move, as a fraction of the parameter's internal range.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        n_startup: int = 5,
        step: float = 0.15,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        if not isinstance(n_startup, int) or n_startup < 1:
            raise ValueError(f"n_startup must be an int >= 1, got {n_startup!r}")
        if not 0 < float(step) <= 1:
            raise ValueError(f"step must be in (0, 1], got {step!r}")
        self.n_startup = n_startup
        self.step = float(step)
        self._entropy = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self._best: tuple[float, dict[str, Any]] | None = None
        self._n_observed = 0
        self._pending: set[str] = set()
        self._seen: set[str] = set()
        self._size = space.size()

    # -- the contract ------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if len(self._seen) >= self._size:
            return None
        rng = np.random.default_rng([self._entropy, self._n_observed, len(self._pending)])
        for attempt in range(_RETRIES):
            if self._best is None or self._n_observed < self.n_startup or attempt > _RETRIES // 2:
                params = self.space.sample(rng)
            else:
                params = self._mutate(self._best[1], rng)
            key = _key(params)
            if key not in self._seen:
                break
        else:  # random draws keep hitting points already tried
            if not math.isinf(self._size):
                return None
        self._seen.add(key)
        self._pending.add(trial_id)
        return params

    def observe(self, result: TrialResult) -> None:
        self._pending.discard(result.trial_id)
        self._n_observed += 1
        self._seen.add(_key(result.params))
        loss = self.loss(result.value)
        if math.isfinite(loss) and (self._best is None or loss < self._best[0]):
            self._best = (loss, dict(result.params))

    # -- moves -------------------------------------------------------------------------------
    def _mutate(self, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        old = self.space.flatten(params)
        flat: dict[Any, Any] = {}
        active = [p for p in self.space.parameters if p.path in old]
        chosen = {active[int(rng.integers(len(active)))].path}
        chosen |= {p.path for p in active if rng.random() < 1.0 / len(active)}
        for p in self.space.parameters:
            if not self.space.is_active(p, flat):
                continue
            if p.path not in old:
                flat[p.path] = p.sample(rng)  # newly active under a changed choice
            elif p.path in chosen:
                flat[p.path] = self._move(p, old[p.path], rng)
            else:
                flat[p.path] = old[p.path]
        return self.space.assemble(flat)

    def _move(self, p: Parameter, value: Any, rng: np.random.Generator) -> Any:
        if p.is_categorical:
            if p.n_choices < 2:
                return value
            i = int(p.to_internal(value))
            j = int(rng.integers(p.n_choices - 1))
            return p.from_internal(float(j if j < i else j + 1))
        x = p.to_internal(value)
        width = p.high - p.low
        scale = width if math.isfinite(width) else abs(x) + 1.0
        return p.from_internal(x + float(rng.normal()) * self.step * scale)


def _key(params: Any) -> str:
    return json.dumps(params, sort_keys=True, default=str)
