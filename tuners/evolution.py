"""Regularized (aging) evolution with tournament selection, crossover and type-aware mutation;
NSGA-II (steady state) when there are several objectives."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hyperloom import pareto
from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import constrained_rank_key, rank_key
from hyperloom.tuners._common import BaseTuner, Encoder
from hyperloom.types import Constraint, Objective, TrialResult

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
    """Regularized evolution (Real et al. 2019), asynchronous; NSGA-II with several objectives.

    Single objective: the population is the ``population_size`` most recently ended trials that
    reached a value (the oldest dies first, whatever its value). Until it is full, suggestions are
    random. Then each suggestion takes the best of ``sample_size`` members drawn at random (a
    tournament, ordered by :func:`~hyperloom.tuners._base.rank_key`: finished trials by value,
    then trials stopped early by the depth they reached; infeasible trials lose to feasible ones),
    crosses it with a second tournament winner with probability ``crossover_rate`` (uniform
    crossover), and mutates the child. It never waits for a generation: every suggestion uses the
    population as it is, and a running trial only has to be distinct from the others.

    Several objectives (NSGA-II, Deb et al. 2002, in steady state): every ended trial with values
    joins the population; once it holds more than ``population_size`` members, the worst one
    leaves: the last front under constrained domination (feasible fronts first, then infeasible
    trials by violation; finished before stopped early), and in it the member with the smallest
    crowding distance. Parents are chosen by binary tournaments on (rank, larger crowding
    distance). Crossover and mutation are as above; nothing waits for a generation.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed.
        objectives: The objectives, when there are several.
        constraints: Feasibility bounds on reported metrics; infeasible trials lose tournaments.
        population_size: Members kept alive.
        sample_size: Members drawn per tournament (single objective; NSGA-II uses 2).
        crossover_rate: Probability of crossing two parents before mutating.
        mutation_scale: Numeric mutation step, as a fraction of a parameter's width.
    """

    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] = (),
        population_size: int = 20,
        sample_size: int = 5,
        crossover_rate: float = 0.3,
        mutation_scale: float = 0.15,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        self.constraints = tuple(constraints)
        self.population_size = _check_int("population_size", population_size, 2)
        self.sample_size = _check_int("sample_size", sample_size, 1)
        if self.sample_size > self.population_size:
            raise PluginError(
                f"evolution: sample_size ({sample_size}) must not exceed population_size ({population_size})"
            )
        self.crossover_rate = _check_fraction("crossover_rate", crossover_rate, allow_zero=True)
        self.mutation_scale = _check_fraction("mutation_scale", mutation_scale, allow_zero=False)
        self._alive: list[int] = []  # history indices of living members, oldest first
        self._key: list[tuple[int, float, float]] = []  # single objective: order per history row
        self._losses: list[tuple[float, ...] | None] = []  # several: losses per history row
        self._violation: list[float] = []
        self._tier: list[int] = []
        self._order: np.ndarray | None = None  # NSGA-II: (rank, -crowding) per living member

    @property
    def _multi(self) -> bool:
        return len(self.objectives) > 1

    def observe(self, result: TrialResult) -> None:
        n0 = self.history.n
        super().observe(result)
        if self.history.n == n0:
            return  # params outside the space: ignored by the base class
        i = self.history.n - 1
        violation = sum(c.violation(result.metrics) for c in self.constraints)
        loss = float(self.history.y[i])
        self._key.append(constrained_rank_key(result, loss, violation))
        self._violation.append(float(violation))
        if not self._multi:
            if math.isfinite(loss):
                self._alive.append(i)
                if len(self._alive) > self.population_size:
                    self._alive.pop(0)
            return
        losses = self.losses(result)
        self._losses.append(losses)
        self._tier.append(0 if rank_key(result, 0.0)[0] == 0 else 1)
        if losses is None:
            return
        self._alive.append(i)
        ranks, crowd = self._ranked(self._alive)
        if len(self._alive) > self.population_size:
            worst = np.flatnonzero(ranks == ranks.max())
            leave = int(worst[int(np.argmin(crowd[worst]))])
            self._alive.pop(leave)
            ranks, crowd = self._ranked(self._alive)
        self._order = np.column_stack([ranks, -crowd])

    def _ranked(self, members: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Constrained-domination ranks and crowding distances (within each rank) of members."""
        pts = np.array([self._losses[i] for i in members], dtype=float)
        viol = np.array([self._violation[i] for i in members])
        tier = np.array([self._tier[i] for i in members])
        ranks = pareto.constrained_ranks(pts, viol, tier)
        crowd = np.zeros(len(members))
        for r in np.unique(ranks):
            idx = np.flatnonzero(ranks == r)
            crowd[idx] = pareto.crowding_distance(pts[idx])
        return ranks, crowd

    def _tournament(self, rng: np.random.Generator) -> np.ndarray:
        alive = np.asarray(self._alive)
        if self._multi and self._order is not None:
            picks = rng.choice(alive.size, size=2, replace=False)
            a, b = (tuple(self._order[j]) for j in picks)
            win = picks[0] if a <= b else picks[1]
            return np.asarray(self.history.x[alive[win]])
        picks = alive[rng.choice(alive.size, size=self.sample_size, replace=False)]
        best = min(range(picks.size), key=lambda j: self._key[int(picks[j])])
        return np.asarray(self.history.x[picks[best]])

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
