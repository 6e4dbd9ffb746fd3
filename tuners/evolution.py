"""Regularized (aging) evolution with tournament selection, crossover and type-aware mutation."""

from __future__ import annotations

import math

import numpy as np
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._common import BaseTuner, Encoder

__all__ = ["EvolutionTuner"]


#: The largest population (and tournament) accepted; a bigger one is surely a typo.
MAX_POPULATION = 100_000


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PluginError(f"evolution: {name} must be an integer >= {minimum}, got {value!r}")
    if value > MAX_POPULATION:
        raise PluginError(
            f"evolution: {name} must be an integer in [{minimum}, {MAX_POPULATION:,}], got {value!r}"
        )
    return int(value)


def _check_fraction(name: str, value: object, *, allow_zero: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (0.0 <= float(value) <= 1.0) or (not allow_zero and float(value) == 0.0):  # type: ignore[arg-type]
        rng = "[0, 1]" if allow_zero else "(0, 1]"
        raise PluginError(f"evolution: {name} must be a number in {rng}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def mutate(enc: Encoder, parent: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A copy of ``parent`` with some active parameters changed (at least one).

    Categorical parameters jump to another option; numeric ones move by a normal step of
    ``scale`` times their width (their sigma when unbounded), and integer-like ones by at least
    one step. Each active parameter mutates with probability ``1 / n_active``.
    """
    child = parent.copy()
    active = np.flatnonzero(np.isfinite(parent))
    if active.size == 0:
        return child
    chosen = active[rng.random(active.size) < 1.0 / active.size]
    if chosen.size == 0:
        chosen = np.array([active[rng.integers(active.size)]])
    for i in chosen:
        p = enc.params[i]
        if enc.is_cat[i]:
            k = int(enc.n_choices[i])
            if k > 1:
                step = int(rng.integers(1, k))
                child[i] = float((int(np.rint(parent[i])) + step) % k)
            continue
        x = parent[i] + rng.normal(0.0, scale * enc.prior_sigma[i])
        if enc.bounded[i]:
            x = float(np.clip(x, enc.low[i], enc.high[i]))
        snapped = p.to_internal(p.from_internal(x))
        if snapped == parent[i] and p.q and not p.is_log:
            direction = 1.0 if rng.random() < 0.5 else -1.0
            x = parent[i] + direction * float(p.q)
            if enc.bounded[i] and not (enc.low[i] <= x <= enc.high[i]):
                x = parent[i] - direction * float(p.q)
        child[i] = x
    return child


class EvolutionTuner(BaseTuner):
    """Regularized evolution (Real et al. 2019), asynchronous.

    The population is the ``population_size`` most recently finished successful trials (the oldest
    dies first, whatever its value). Until it is full, suggestions are random. Then each
    suggestion takes the best of ``sample_size`` members drawn at random (a tournament), crosses it
    with a second tournament winner with probability ``crossover_rate`` (uniform crossover), and
    mutates the child. It never waits for a generation: every suggestion uses the population as it
    is, and a running trial only has to be distinct from the others.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed.
        population_size: Members kept alive.
        sample_size: Members drawn per tournament.
        crossover_rate: Probability of crossing two parents before mutating.
        mutation_scale: Numeric mutation step, as a fraction of a parameter's width.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        population_size: int = 20,
        sample_size: int = 5,
        crossover_rate: float = 0.3,
        mutation_scale: float = 0.15,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        self.population_size = _check_int("population_size", population_size, 2)
        self.sample_size = _check_int("sample_size", sample_size, 1)
        if self.sample_size > self.population_size:
            raise PluginError(
                f"evolution: sample_size ({sample_size}) must not exceed population_size ({population_size})"
            )
        self.crossover_rate = _check_fraction("crossover_rate", crossover_rate, allow_zero=True)
        self.mutation_scale = _check_fraction("mutation_scale", mutation_scale, allow_zero=False)
        self._alive: list[int] = []  # history indices of living members, oldest first

    def _observed(self, row: np.ndarray, loss: float) -> None:
        if math.isfinite(loss):
            self._alive.append(self.history.n - 1)
            if len(self._alive) > self.population_size:
                self._alive.pop(0)

    def _tournament(self, rng: np.random.Generator) -> np.ndarray:
        alive = np.asarray(self._alive)
        picks = alive[rng.choice(alive.size, size=self.sample_size, replace=False)]
        y = self.history.y[picks]
        return np.asarray(self.history.x[picks[int(np.argmin(y))]])

    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        enc = self.encoder
        if len(self._alive) < self.population_size:
            return np.empty((0, enc.n_dims))
        children = []
        for _ in range(8):
            child = self._tournament(rng).copy()
            if rng.random() < self.crossover_rate:
                other = self._tournament(rng)
                take = rng.random(enc.n_dims) < 0.5
                child = np.where(take, other, child)
                child = enc.complete(child[None, :], rng)[0]
            children.append(mutate(enc, child, rng, self.mutation_scale))
        return enc.complete(np.array(children), rng)
