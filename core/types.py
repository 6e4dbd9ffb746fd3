"""Value types shared by the manager, tuners and assessors (public contracts v2).

v2 keeps every v1 call working: a scalar ``value`` is still there (it is ``values[0]``), an
assessor may still return a bare :class:`Verdict`, and a tuner may still return a plain dict.
"""

from __future__ import annotations

import copyreg
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "BEST_STATUSES",
    "BUDGET_STATUSES",
    "FINISHED",
    "Constraint",
    "Decision",
    "ExperimentStatus",
    "Objective",
    "Report",
    "StepReports",
    "Suggestion",
    "TrialResult",
    "TrialStatus",
    "Verdict",
    "check_mode",
    "deepest_step",
    "feasible",
    "named_value",
    "outcome",
]

MODES = ("maximize", "minimize")


def check_mode(mode: str) -> str:
    """The one owner of the optimization-mode rule: validates and normalizes ``mode``.

    Raises:
        UsageError: naming the value, when it is neither "maximize" nor "minimize".
    """
    m = str(mode).lower()
    m = {"max": "maximize", "min": "minimize"}.get(m, m)
    if m not in MODES:
        from hyperloom.errors import UsageError

        raise UsageError(f"mode must be 'maximize' or 'minimize', got {mode!r}")
    return m


class TrialStatus(enum.Enum):
    """The life cycle of a trial. WAITING, RUNNING and PAUSED are not final; the others are."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EARLY_STOPPED = "EARLY_STOPPED"
    CANCELED = "CANCELED"
    TIMEOUT = "TIMEOUT"
    PAUSED = "PAUSED"

    @property
    def is_final(self) -> bool:
        return self not in (TrialStatus.WAITING, TrialStatus.RUNNING, TrialStatus.PAUSED)


# The one "best" rule: only finished trials rank (a trial stopped early keeps the value it had
# reached, for schedulers, but that value is of a lower fidelity and never counts as best). The
# one budget rule: every started trial uses budget except those the user or the experiment
# canceled.
BEST_STATUSES = frozenset({TrialStatus.SUCCEEDED})
BUDGET_STATUSES = frozenset(
    {TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.EARLY_STOPPED, TrialStatus.TIMEOUT}
)


class ExperimentStatus(enum.Enum):
    """The life cycle of an experiment."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


class Verdict(enum.Enum):
    """An assessor's decision about a running trial."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"
    PAUSE = "PAUSE"


@dataclass(frozen=True)
class Decision:
    """A verdict with its human reason (replaces v1's ``assessor.last_reason`` side channel)."""

    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class Objective:
    """One optimization objective: the metric's name and its direction."""

    name: str
    mode: str = "maximize"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an objective needs a non-empty name, not {self.name!r}")
        object.__setattr__(self, "mode", check_mode(self.mode))


@dataclass(frozen=True)
class Constraint:
    """A feasibility bound on one reported metric (``constraints: [{metric: params, max: 1e6}]``).

    An infeasible trial stays recorded but never counts as best or on the Pareto front.
    """

    metric: str
    max: float | None = None
    min: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"a constraint needs a metric name, not {self.metric!r}")
        if self.max is None and self.min is None:
            raise ValueError(f"constraint on {self.metric!r} needs max or min")

    def violation(self, metrics: Mapping[str, Any]) -> float:
        """How far ``metrics`` are outside this bound (0 when inside; inf when the metric is missing)."""
        v = _finite(metrics.get(self.metric))
        if v is None:
            return math.inf
        over = 0.0
        if self.max is not None and v > self.max:
            over = v - self.max
        if self.min is not None and v < self.min:
            over = max(over, self.min - v)
        return over


def feasible(metrics: Mapping[str, Any] | None, constraints: Sequence[Constraint]) -> bool:
    """Whether a trial's final metrics meet every constraint (always True with none)."""
    m = metrics or {}
    return all(c.violation(m) == 0.0 for c in constraints)


class Report(NamedTuple):
    """One intermediate report of a trial (a named tuple: a resume builds a million of them)."""

    step: int
    value: float
    metrics: Mapping[str, Any] = MappingProxyType({})


def _reduce_report(r: Report) -> tuple[Any, ...]:
    # a read-only mapping does not pickle: a report's metrics travel as a dict (equal to it)
    return (Report, (r.step, r.value, dict(r.metrics)))


copyreg.pickle(Report, _reduce_report)


@dataclass(frozen=True)
class Suggestion:
    """What a tuner may return instead of a plain dict.

    Attributes:
        params: The parameters of the new trial.
        parent: Warm-start the new trial from this trial's last committed checkpoint.
        resume: Continue this PAUSED trial (same id, steps go on) instead of a new one.
        perturbation: What the tuner changed from the parent's parameters (kept as lineage,
            shown by ``trials --json`` and ``trials ID --tree``).
    """

    params: dict[str, Any]
    parent: str | None = None
    resume: str | None = None
    perturbation: Mapping[str, Any] | None = None


class _Finished:
    """The type of :data:`FINISHED` (a singleton)."""

    _instance: _Finished | None = None

    def __new__(cls) -> _Finished:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FINISHED"


FINISHED = _Finished()
"""Returned by ``Tuner.suggest`` when the search is exhausted for good (``None`` means "not
now: ask again after the next event")."""


@dataclass(frozen=True)
class TrialResult:
    """An ended trial, as tuners and assessors see it.

    Attributes:
        trial_id: The trial's id.
        params: The parameters the trial ran with.
        status: How it ended.
        value: The value that counts (the first objective), or None when it has none.
        intermediate: The intermediate metric values, in step order.
        sequence: The trial's sequence number in its experiment (0 when unknown).
        metrics: Extra named metrics given with the final report.
        values: One value per objective (``values[0] == value``), or None.
        reports: The intermediate reports with their steps.
        parent: The trial this one was warm-started from, if any.
        duration: Seconds from its start to its end by the experiment's clock (a paused
            trial's pause included), or None when unknown. The same live and on resume.
    """

    trial_id: str
    params: dict[str, Any]
    status: TrialStatus
    value: float | None
    intermediate: tuple[float, ...] = ()
    sequence: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    values: tuple[float, ...] | None = None
    reports: Sequence[Report] = ()
    parent: str | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.values is None and self.value is not None:
            object.__setattr__(self, "values", (float(self.value),))
        if not self.reports and self.intermediate:
            object.__setattr__(self, "reports", StepReports(self.intermediate))

    @classmethod
    def _from_store(
        cls,
        trial_id: str,
        params: dict[str, Any],
        status: TrialStatus,
        value: float | None,
        intermediate: tuple[float, ...],
        sequence: int,
        metrics: dict[str, Any],
        values: tuple[float, ...] | None,
        reports: Sequence[Report],
        parent: str | None,
        duration: float | None,
    ) -> TrialResult:
        """The same object as ``TrialResult(...)`` (every argument given, ``__post_init__``'s
        defaults applied), filled in one dict update instead of the frozen dataclass's eleven
        ``object.__setattr__`` calls: a resume's replay builds one per ended trial, and this
        halves its cost. Only the store's row decoder calls it."""
        if values is None and value is not None:
            values = (float(value),)
        if not reports and intermediate:
            reports = StepReports(intermediate)
        obj = object.__new__(cls)
        obj.__dict__.update(
            trial_id=trial_id,
            params=params,
            status=status,
            value=value,
            intermediate=intermediate,
            sequence=sequence,
            metrics=metrics,
            values=values,
            reports=reports,
            parent=parent,
            duration=duration,
        )
        return obj


class StepReports(Sequence[Report]):
    """The reports of a trial whose steps are 0, 1, 2, ...: a read-only sequence of `Report`
    made on access from the values alone. A replay of 10,000 trials x 100 steps builds none of
    the million tuples until a tuner or assessor looks at them; it compares equal to the tuple of
    the same reports."""

    __slots__ = ("_values",)

    def __init__(self, values: Sequence[float]) -> None:
        self._values = tuple(values)

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            steps = range(len(self._values))[i]
            return tuple(map(Report, steps, self._values[i]))
        n = len(self._values)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError("report index out of range")
        return Report(j, self._values[j])

    def __iter__(self) -> Any:
        return map(Report, range(len(self._values)), self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StepReports):
            return self._values == other._values
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (StepReports, (self._values,))


def deepest_step(result: TrialResult) -> int:
    """The deepest step a trial reached (-1 when it reported nothing)."""
    if isinstance(result.reports, StepReports):
        return len(result.reports) - 1
    if result.reports:
        return max(r.step for r in result.reports)
    return len(result.intermediate) - 1


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def named_value(value: float | None, metrics: Mapping[str, Any] | None, name: str | None) -> Any:
    """A report's value for the first objective: the metric called ``name`` when the report
    carries a number by that name (a trial that reports ``{"latency": 3, "accuracy": 0.9}``
    tracks accuracy when accuracy is the first objective, whatever the dict's order), else the
    value it sent. The one rule for intermediate and final reports alike."""
    if name is not None and metrics:
        v = metrics.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return value


def outcome(
    *,
    exit_code: int | None,
    final: float | None,
    final_metrics: Mapping[str, Any] | None = None,
    intermediate: Sequence[float] = (),
    stop_status: TrialStatus | None = None,
    stop_reason: str | None = None,
    exit_reason: str | None = None,
    objectives: Sequence[Objective] = (),
    reattached: bool = False,
    last_metrics: Mapping[str, Any] | None = None,
) -> tuple[TrialStatus, tuple[float, ...] | None, str | None]:
    """THE rule that turns an ended trial into its record: ``(status, values, reason)``.

    Manager, store, resume, history, CLI, dashboard and export all use this rule or its stored
    result; nothing else derives a trial's status or the value that counts.

    * A stop the manager decided (assessor, timeout, user, experiment) wins: EARLY_STOPPED,
      TIMEOUT and CANCELED keep the last value the trial reached (the final one if it reported
      one, else its last intermediate), so a scheduler can rank stopped trials.
    * A pause the manager asked for (``stop_status`` PAUSED) is PAUSED however the process
      ended, with the value it reached: a trial that answers the stop request with a final
      report and exit 0 is paused all the same (its resume restores the last step).
    * A non-zero exit, or a lost trial (no exit code) without a final report, is FAILED; its
      values are None (a failed trial's numbers never count).
    * Exit 0 (or a re-attached trial whose code is unknown) with a final report is SUCCEEDED.
    * Exit 0 with only intermediates is SUCCEEDED with the last intermediate as the value.
    * Exit 0 with nothing reported is FAILED.
    * With several objectives, a trial whose final report lacks one of them (or gives a
      non-finite value) is FAILED with a reason naming it. A trial with no final report (stopped
      early, or ended on its intermediates) takes the other objectives from its last report's
      metrics (``last_metrics``): a stopped trial keeps the values it reached.
    """
    first = objectives[0].name if objectives else None
    if first is not None and final_metrics and first in final_metrics:
        # report_final({...}) names every objective: the first is the one of that name,
        # whatever the order of the dict the trial gave (a non-number there counts as none)
        fin = _finite(named_value(None, final_metrics, first))
    else:
        fin = _finite(final) if final is not None else None
    last = next((f for f in (_finite(v) for v in reversed(intermediate)) if f is not None), None)
    reached = fin if fin is not None else last

    def vector(first: float | None) -> tuple[tuple[float, ...] | None, str | None]:
        if first is None:
            return None, None
        if len(objectives) <= 1:
            return (first,), None
        out = [first]
        metrics = dict(final_metrics or {}) if fin is not None else dict(last_metrics or {})
        for obj in objectives[1:]:
            v = _finite(metrics.get(obj.name))
            if v is None:
                return None, f"objective {obj.name!r} missing from the final report"
            out.append(v)
        return tuple(out), None

    if stop_status is not None:
        values, _ = vector(reached)
        return stop_status, values, stop_reason
    if exit_code is None and not reattached and fin is None:
        return TrialStatus.FAILED, None, exit_reason or "the trial was lost"
    if exit_code not in (None, 0):
        return TrialStatus.FAILED, None, exit_reason or f"exit code {exit_code}"
    if fin is not None:
        values, missing = vector(fin)
        if missing:
            return TrialStatus.FAILED, None, missing
        reason = None
        if exit_code is None:
            reason = exit_reason or "re-attached after a manager restart; exit code unknown"
        return TrialStatus.SUCCEEDED, values, reason
    if exit_code is None:
        return TrialStatus.FAILED, None, exit_reason or "process gone while the manager was down"
    if last is not None:
        values, missing = vector(last)
        if missing:
            return TrialStatus.FAILED, None, missing
        return (
            TrialStatus.SUCCEEDED,
            values,
            "no final report: the last intermediate value counts as final",
        )
    return (
        TrialStatus.FAILED,
        None,
        "exited 0 without reporting any value" + (f": {exit_reason}" if exit_reason else ""),
    )
