"""Rung bookkeeping of successive halving, shared by the ``asha`` assessor and the schedulers.

One owner for the rules that asynchronous successive halving (Li et al., MLSys 2020) needs:

* where the rungs are (:func:`geometric_levels`);
* what a trial's value at a rung is (:func:`value_at`: its report at the first point where its
  resource reaches the rung, or the last finite report before that one when it is NaN);
* whether a trial is in the top ``1 / eta`` of the values recorded at a rung so far
  (:meth:`Rungs.in_top`; a rung with fewer than ``eta`` values stops nobody, so the first trials
  are never stopped by chance of order);
* which paused trial, if any, may be promoted out of a rung (:meth:`Rungs.promotable`: the best
  one, when it is in the top ``floor(n / eta)``).

Values are kept as losses (lower is better): callers turn a metric into a loss once. Each rung
keeps its losses in a sorted list, so ranking a trial costs a bisection, not a scan, at any number
of trials.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["MAX_RUNGS", "Rungs", "geometric_levels", "resources_of", "value_at"]

#: The most rungs one ladder may have.
MAX_RUNGS = 64


def geometric_levels(
    min_resource: float, reduction_factor: int, max_resource: float | None, start: int = 0
) -> tuple[float, ...]:
    """Rung levels ``min_resource * reduction_factor**k`` for ``k >= start``, strictly below
    ``max_resource`` (None: no limit; at most :data:`MAX_RUNGS` rungs, none beyond 10**9)."""
    levels: list[float] = []
    for k in range(start, start + MAX_RUNGS):
        r = min_resource * reduction_factor**k
        if max_resource is not None and r >= max_resource:
            break
        levels.append(int(r) if float(r).is_integer() else float(r))
        if r > 10**9:
            break
    return tuple(levels)


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def resources_of(
    steps: Sequence[int] | None,
    n_reports: int,
    metrics: Sequence[Mapping[str, Any]] | None = None,
    resource: str | None = None,
) -> list[float | None]:
    """The resource a trial had used at each of its reports.

    Args:
        steps: The reports' steps (0-based), or None to count reports.
        n_reports: The number of reports.
        metrics: The reports' extra metrics, needed when ``resource`` names one.
        resource: None or "step": ``step + 1`` (the number of steps done; the report count when
            ``steps`` is None). Otherwise the name of a reported metric (epochs, samples,
            seconds, ...): its value at each report (None where it is missing or not finite).
    """
    if resource is None or resource == "step":
        if steps is None or len(steps) != n_reports:
            return [float(i + 1) for i in range(n_reports)]
        return [float(s) + 1.0 for s in steps]
    if metrics is None or len(metrics) != n_reports:
        return [None] * n_reports
    return [_finite(m.get(resource)) for m in metrics]


def value_at(
    resources: Sequence[float | None], losses: Sequence[float | None], level: float
) -> float | None:
    """The loss a trial has at rung ``level``: at the first report whose resource reaches
    ``level`` (the last finite loss up to that report when it is not finite). None when the trial
    has not reached the rung or has no finite loss up to it."""
    last: float | None = None
    for r, v in zip(resources, losses, strict=False):
        f = _finite(v)
        if f is not None:
            last = f
        if r is not None and r >= level:
            return last
    return None


class Rungs:
    """The values recorded at each rung of one ladder of successive halving.

    Args:
        levels: The rung levels, increasing (resource units).
        reduction_factor: Keep the top ``1 / reduction_factor`` at each rung (>= 2).
    """

    def __init__(self, levels: Sequence[float], reduction_factor: int) -> None:
        self.levels: tuple[float, ...] = tuple(levels)
        self.reduction_factor = int(reduction_factor)
        self._by_trial: list[dict[str, float]] = [{} for _ in self.levels]
        self._sorted: list[list[float]] = [[] for _ in self.levels]

    def __len__(self) -> int:
        return len(self.levels)

    # -- recording ------------------------------------------------------------------------------

    def record(self, k: int, trial_id: str, loss: float) -> bool:
        """Records ``loss`` for the trial at rung ``k``; False when it was already recorded."""
        values = self._by_trial[k]
        if trial_id in values:
            return False
        values[trial_id] = loss
        bisect.insort(self._sorted[k], loss)
        return True

    def record_reached(
        self,
        trial_id: str,
        resources: Sequence[float | None],
        losses: Sequence[float | None],
        first: int = 0,
    ) -> list[int]:
        """Records the trial at every rung from ``first`` on that its reports reached and that
        holds no value of it yet; returns the indices of the rungs newly recorded."""
        reached = max((r for r in resources if r is not None), default=None)
        new: list[int] = []
        if reached is None:
            return new
        for k in range(first, len(self.levels)):
            level = self.levels[k]
            if level > reached:
                break
            if trial_id in self._by_trial[k]:
                continue
            loss = value_at(resources, losses, level)
            if loss is not None and self.record(k, trial_id, loss):
                new.append(k)
        return new

    def drop(self, trial_id: str) -> None:
        """Takes the trial out of every rung (a failed or canceled trial never sets the bar)."""
        for k, values in enumerate(self._by_trial):
            loss = values.pop(trial_id, None)
            if loss is not None:
                lst = self._sorted[k]
                del lst[bisect.bisect_left(lst, loss)]

    # -- reading --------------------------------------------------------------------------------

    def loss_at(self, k: int, trial_id: str) -> float | None:
        """The trial's recorded loss at rung ``k`` (None when it has none)."""
        return self._by_trial[k].get(trial_id)

    def count(self, k: int) -> int:
        """How many values rung ``k`` holds."""
        return len(self._sorted[k])

    def trials(self, k: int) -> Mapping[str, float]:
        """The losses recorded at rung ``k``, by trial (read-only view)."""
        return self._by_trial[k]

    def snapshot(self) -> dict[float, dict[str, float]]:
        """Every rung's losses by trial, keyed by rung level (a copy, for tests and displays)."""
        return {lvl: dict(v) for lvl, v in zip(self.levels, self._by_trial, strict=True)}

    def n_better(self, k: int, loss: float) -> int:
        """How many values at rung ``k`` are strictly better (lower) than ``loss``."""
        return bisect.bisect_left(self._sorted[k], loss)

    def in_top(self, k: int, trial_id: str) -> bool:
        """Whether the trial is in the top ``1 / reduction_factor`` of rung ``k`` (always True
        while the rung holds fewer than ``reduction_factor`` values, or the trial none)."""
        n = self.count(k)
        mine = self._by_trial[k].get(trial_id)
        if mine is None or n < self.reduction_factor:
            return True
        return self.n_better(k, mine) < n // self.reduction_factor

    def promotable(
        self, k: int, candidates: Iterable[str], *, at_least_one: bool = False
    ) -> str | None:
        """The best of ``candidates`` (trials recorded at rung ``k``) when it is in the top
        ``floor(n / reduction_factor)`` of the rung's ``n`` values (ASHA's promotion rule); None
        otherwise. Ties go to the first candidate given. ``at_least_one``: the top
        ``ceil(n / reduction_factor)`` instead (a bracket finishing without new trials)."""
        n = self.count(k)
        eta = self.reduction_factor
        n_top = -(-n // eta) if at_least_one else n // eta
        if n_top == 0:
            return None
        values = self._by_trial[k]
        best: str | None = None
        best_loss = math.inf
        for tid in candidates:
            v = values.get(tid)
            if v is not None and (best is None or v < best_loss):
                best, best_loss = tid, v
        if best is None or self.n_better(k, best_loss) >= n_top:
            return None
        return best
