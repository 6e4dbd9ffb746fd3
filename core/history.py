"""Read-only views of recorded experiments: the Python side of ``list``/``status``/``trials``.

Example::

    from hyperloom import open_experiment

    with open_experiment("abc123xy") as exp:
        print(exp.status, exp.best(n=3))
        df = exp.to_pandas()
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperloom.errors import HyperloomError, MissingDependencyError, StoreError, UsageError
from hyperloom.paths import (
    DB_NAME,
    all_experiment_dirs,
    experiments_home,
    find_experiment_dir,
)
from hyperloom.store import StoreReader, TrialRecord
from hyperloom.types import (
    BEST_STATUSES,
    BUDGET_STATUSES,
    Constraint,
    Objective,
    TrialStatus,
    feasible,
)

if TYPE_CHECKING:
    import pandas
    from hyperloom.importance import ImportanceResult
    from hyperloom.space import SearchSpace

__all__ = [
    "FIXED_COLUMNS",
    "ExperimentSummary",
    "ExperimentView",
    "flatten",
    "list_experiments",
    "open_experiment",
    "trial_rows",
]

logger = logging.getLogger(__name__)

# Trials whose final value counts for "best" (the one rule, hyperloom.types.BEST_STATUSES).
_RANKED = tuple(BEST_STATUSES)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flattens nested mappings with ``/`` (``{"layer": {"_name": "conv"}}`` → ``layer/_name``)."""
    out: dict[str, Any] = {}
    if not isinstance(obj, dict):
        return {prefix: obj} if prefix else {}
    for key, value in obj.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def _objectives(config: dict[str, Any]) -> tuple[Objective, ...]:
    """The experiment's objectives (one unnamed objective in its mode when none are named)."""
    raw = config.get("objectives")
    if isinstance(raw, list) and raw:
        try:
            return tuple(
                Objective(str(o["name"]), str(o.get("mode", "maximize")))
                if isinstance(o, dict)
                else Objective(str(o))
                for o in raw
            )
        except (KeyError, ValueError, HyperloomError) as e:
            raise StoreError(f"the experiment's objectives are not readable: {e}") from None
    return (Objective("default", _tuner_mode(config)),)


def _constraints(config: dict[str, Any]) -> tuple[Constraint, ...]:
    raw = config.get("constraints")
    if not isinstance(raw, list):
        return ()
    out = []
    for c in raw:
        if isinstance(c, dict) and "metric" in c:
            out.append(Constraint(str(c["metric"]), c.get("max"), c.get("min")))
    return tuple(out)


def _mode(config: dict[str, Any]) -> str:
    return _objectives(config)[0].mode


def _tuner_mode(config: dict[str, Any]) -> str:
    tuner = config.get("tuner") or {}
    args = (tuner.get("classArgs") or {}) if isinstance(tuner, dict) else {}
    mode = str(args.get("mode") or args.get("optimize_mode") or "maximize").lower()
    if mode not in ("maximize", "minimize"):
        raise StoreError(
            f"the experiment's tuner.classArgs.mode is {mode!r}; expected maximize or minimize"
        )
    return mode


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    from hyperloom.config import parse_duration

    try:
        return float(parse_duration(value))
    except ValueError:
        return None


class ExperimentView:
    """A read-only view of one experiment, safe to use while its manager runs.

    Use it as a context manager, or call :meth:`close`. Attributes read the store each time, so
    a long-lived view sees a running experiment progress.

    Args:
        exp_dir: The experiment directory (holding ``experiment.db``).
    """

    def __init__(self, exp_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(exp_dir)
        self._reader = StoreReader(self.dir / DB_NAME)
        row = self._reader.experiment()
        self.id: str = row["id"]
        self.config: dict[str, Any] = row["config"]
        self.space_json: dict[str, Any] = row["space"]
        self.name: str = row["name"] or row["id"]
        self._space: SearchSpace | None = None

    def __enter__(self) -> ExperimentView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ExperimentView(id={self.id!r}, dir={str(self.dir)!r})"

    @property
    def reader(self) -> StoreReader:
        """The underlying :class:`~hyperloom.store.StoreReader` (for events, intermediates...)."""
        return self._reader

    @property
    def status(self) -> str:
        """CREATED, RUNNING, DONE, STOPPED or FAILED (as recorded by the manager)."""
        return str(self._reader.experiment()["status"])

    @property
    def manager_alive(self) -> bool:
        """Whether the recorded manager process still exists on this host."""
        row = self._reader.experiment()
        return row["status"] == "RUNNING" and _pid_alive(row["manager_pid"])

    @property
    def mode(self) -> str:
        """``maximize`` or ``minimize``: the tuner's ``classArgs.mode`` (default maximize)."""
        return _mode(self.config)

    @property
    def space(self) -> SearchSpace:
        """The experiment's search space."""
        if self._space is None:
            from hyperloom.space import SearchSpace

            self._space = SearchSpace.from_nni(self.space_json)
        return self._space

    def trials(
        self, status: TrialStatus | str | list[TrialStatus | str] | None = None
    ) -> list[TrialRecord]:
        """The trials in sequence order, optionally only those in ``status`` (one or several)."""
        return list(self._reader.trials(status=status))

    def counts(self) -> dict[str, int]:
        """The number of trials per TrialStatus name."""
        return dict(self._reader.count_by_status())

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """The experiment's objectives (one unnamed objective when the config names none)."""
        return _objectives(self.config)

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The experiment's feasibility constraints (empty when none)."""
        return _constraints(self.config)

    def best(self, n: int = 1) -> list[TrialRecord]:
        """The ``n`` best trials by final value, best first, following the experiment's mode.

        Only finished trials count (``hyperloom.types.BEST_STATUSES``), and only feasible ones
        when the experiment has constraints; ties keep sequence order. With several objectives,
        the best are the Pareto front (see :meth:`pareto_front`), by the first objective.
        """
        if n < 1:
            raise UsageError(f"best(n={n}): n must be at least 1")
        if len(self.objectives) > 1:
            return self.pareto_front()[:n]
        order = "-value" if self.mode == "maximize" else "value"
        cons = self.constraints
        out: list[TrialRecord] = []
        for t in self._reader.iter_trials(
            status=_RANKED, order=order, limit=None if cons else n, with_intermediate=False
        ):
            if t.value is not None and feasible(t.metrics, cons):
                out.append(t)
                if len(out) == n:
                    break
        return out

    def importance(self, objective: int | str = 0, **kw: Any) -> ImportanceResult:
        """How much of the final value's variance each parameter explains (fANOVA on a random
        forest of the finished trials; see :mod:`hyperloom.importance`). ``objective`` picks one
        of several by index or name; ``kw`` goes to ``experiment_importance`` (max_trials,
        n_trees, seed)."""
        from hyperloom.importance import experiment_importance

        return experiment_importance(self, objective=objective, **kw)

    def pareto_front(self) -> list[TrialRecord]:
        """The finished, feasible trials that no other one dominates on every objective, sorted
        by the first objective (best first). With one objective: the best trial(s)."""
        from hyperloom.pareto import as_losses, pareto_mask

        objs, cons = self.objectives, self.constraints
        cands = [
            t
            for t in self._reader.iter_trials(status=_RANKED, with_intermediate=False)
            if t.values is not None and len(t.values) >= len(objs) and feasible(t.metrics, cons)
        ]
        if not cands:
            return []
        losses = as_losses([t.values[: len(objs)] for t in cands if t.values], [o.mode for o in objs])
        mask = pareto_mask(losses)
        front = [(losses[i, 0], t.sequence, t) for i, t in enumerate(cands) if mask[i]]
        return [t for _l, _s, t in sorted(front, key=lambda x: (x[0], x[1]))]

    def elapsed(self) -> float:
        """Seconds the experiment has run, summed over its runs (resumes), now included."""
        events = self._reader.events(kind=None)
        runs: list[tuple[float, float | None]] = []
        last_t = 0.0
        for ev in events:
            if ev["kind"] == "run_start":
                if runs and runs[-1][1] is None:  # the previous run crashed: count to its last sign
                    runs[-1] = (runs[-1][0], last_t)
                runs.append((ev["t"], None))
            elif ev["kind"] == "run_end" and runs and runs[-1][1] is None:
                runs[-1] = (runs[-1][0], ev["t"])
            last_t = max(last_t, float(ev["t"]))
        total = 0.0
        for i, (start, end) in enumerate(runs):
            if end is None:
                end = time.time() if i == len(runs) - 1 and self.manager_alive else last_t
            total += max(0.0, end - start)
        return total

    def budget(self) -> dict[str, Any]:
        """Budget use: ``{"trials": (done, max) | None, "duration": (elapsed_s, max_s) | None}``."""
        max_trials = self.config.get("maxTrialNumber")
        max_dur = _seconds(self.config.get("maxExperimentDuration"))
        # the one budget rule (BUDGET_STATUSES), plus what is running or paused now: canceled
        # trials gave their budget back, as the live progress line counts them
        using = {s.name for s in BUDGET_STATUSES} | {"RUNNING", "PAUSED"}
        started = sum(n for name, n in self.counts().items() if name in using)
        return {
            "trials": (started, int(max_trials)) if max_trials else None,
            "duration": (self.elapsed(), max_dur) if max_dur else None,
        }

    def to_pandas(self) -> pandas.DataFrame:
        """The trials as a DataFrame: one row per trial, a column per parameter (``param/...``,
        nested ones flattened with ``/``) and per final metric (``metric/...``).

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError("pandas", "dev", "to_pandas()") from None
        return pd.DataFrame(trial_rows(self.trials()))

    def close(self) -> None:
        """Closes the store connection."""
        self._reader.close()


FIXED_COLUMNS = (
    "sequence",
    "trial_id",
    "status",
    "value",
    "started",
    "ended",
    "duration",
    "exit_code",
    "reason",
    "n_intermediate",
)


def trial_rows(
    trials: list[TrialRecord], objectives: tuple[Objective, ...] = ()
) -> list[dict[str, Any]]:
    """Flat rows for tables and CSV: fixed columns, then ``param/...`` and ``metric/...`` columns.

    With several objectives, an ``objective/<name>`` column per objective follows ``value``;
    when any trial was warm-started, a ``parent`` column follows ``reason``. Every row has the
    same keys (missing values are None), in a stable order.
    """
    multi = len(objectives) > 1
    lineage = any(t.parent for t in trials)
    params = [flatten(t.params) for t in trials]
    metrics = [flatten(t.metrics) for t in trials]
    pkeys = list(dict.fromkeys(k for p in params for k in p))
    mkeys = list(dict.fromkeys(k for m in metrics for k in m))
    rows = []
    for t, p, m in zip(trials, params, metrics, strict=True):
        row: dict[str, Any] = {
            "sequence": t.sequence,
            "trial_id": t.trial_id,
            "status": t.status.name,
            "value": t.value,
        }
        if multi:
            vals = list(t.values or ())
            for i, o in enumerate(objectives):
                row[f"objective/{o.name}"] = vals[i] if i < len(vals) else None
        row |= {
            "started": t.started,
            "ended": t.ended,
            "duration": t.duration,
            "exit_code": t.exit_code,
            "reason": t.reason,
            **({"parent": t.parent} if lineage else {}),
            "n_intermediate": len(t.intermediate),
        }
        row.update({f"param/{k}": p.get(k) for k in pkeys})
        row.update({f"metric/{k}": m.get(k) for k in mkeys})
        rows.append(row)
    return rows


def open_experiment(id_or_dir: str | os.PathLike[str]) -> ExperimentView:
    """Opens a recorded experiment read-only, by id (under ``$HYPERLOOM_HOME`` or the index of
    experiments with their own directory) or by directory.

    Raises:
        ExperimentNotFoundError: No such experiment.
        StoreError: Its store cannot be read.
    """
    return ExperimentView(find_experiment_dir(id_or_dir))


@dataclass(frozen=True)
class ExperimentSummary:
    """One line of ``hyperloom list``."""

    id: str
    name: str
    status: str
    dir: str
    created: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``list --json`` object: ``{id, name, status, dir}`` plus ``created``."""
        d: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "dir": self.dir,
        }
        d["created"] = self.created
        if self.error:
            d["error"] = self.error
        return d


def list_experiments(home: Path | None = None) -> list[ExperimentSummary]:
    """Every experiment under the home and in its index, newest first.

    An experiment whose store cannot be read is listed with status ``UNREADABLE`` and the error.
    """
    root = home or experiments_home()
    out: list[ExperimentSummary] = []
    for d in all_experiment_dirs(root):
        key = d.resolve()
        try:
            with StoreReader(d / DB_NAME) as r:
                row = r.experiment()
            out.append(
                ExperimentSummary(
                    row["id"], row["name"] or row["id"], row["status"], str(key), row["created"]
                )
            )
        except StoreError as e:
            logger.warning("cannot read %s: %s", d, e)
            out.append(ExperimentSummary(d.name, d.name, "UNREADABLE", str(key), None, str(e)))
    out.sort(key=lambda s: s.created or 0.0, reverse=True)
    return out
