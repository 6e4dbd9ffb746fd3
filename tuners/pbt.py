"""Population Based Training (Jaderberg et al., 2017) as a scheduler: a tuner that also assesses.

A population of trials trains; at each perturbation interval, a trial in the bottom quantile is
replaced by a copy of a top-quantile trial (*exploit*: warm-started from the donor's last
committed checkpoint) with perturbed hyperparameters (*explore*). Two modes:

* ``async`` (the default): a bottom-quantile trial is stopped at its perturbation step
  (``Decision(Verdict.STOP)``), and the next :meth:`PBTScheduler.suggest` returns
  ``Suggestion(params, parent=donor, perturbation=...)``: a new trial that continues from the
  donor's checkpoint step.
* ``sync`` (generations): every member is PAUSED at the generation boundary (at its first
  committed checkpoint at or after it). When no member of the population is running any more,
  the bottom ones are replaced by exploits and the others resumed
  (``Suggestion(params, resume=trial_id)``). A member that ends, or never checkpoints, leaves
  the generation, so a generation never waits forever.

The checkpoint rule: a donor is a trial that committed a checkpoint (the manager calls
:meth:`PBTScheduler.checkpointed` after each commit); a trial without one is never exploited.
:meth:`PBTScheduler.needed_checkpoints` names the trials whose latest checkpoint may still be
exploited or resumed, for the checkpoint garbage collector.

Mutations respect the space: numbers are multiplied by a perturbation factor (log and positive
ranges) or shifted by a fraction of their range, then clipped and snapped to their q-step (at
least one step when the factor would not move them); ``randint`` moves at least 1; choices move
to a neighbouring option; with ``resample_probability`` a value is drawn again from the space.
Nested choices that change option get fresh values for the sub-parameters they activate.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hyperloom.errors import PluginError
from hyperloom.space import Choice, Normal, Parameter, PathT, RandInt, SearchSpace, Uniform
from hyperloom.tuners._base import Tuner
from hyperloom.types import (
    FINISHED,
    Decision,
    Objective,
    Suggestion,
    TrialResult,
    TrialStatus,
    Verdict,
)

__all__ = ["PBTScheduler", "explore"]

log = logging.getLogger(__name__)

MAX_POPULATION = 10_000
_MODES = ("async", "sync")


# explore ----------------------------------------------------------------------------------------


def _perturb(p: Parameter, v: Any, factor: float, rng: np.random.Generator) -> tuple[Any, str]:
    """One perturbed value of parameter ``p`` (inside the space) and a description of the move."""
    if isinstance(p, Choice):
        i, n = p.index(v), p.n_choices
        if n == 1:
            return v, "kept (one option)"
        d = 1 if factor > 1 else -1
        j = i + d
        if not 0 <= j < n:
            j = i - d
        return p.options[j], f"option {i} -> {j}"
    if isinstance(p, RandInt):
        x = float(v) * factor if v > 0 else float(v) + (factor - 1.0) * (p.upper - 1 - p.lower) / 2
        new = p.from_internal(x)
        if new == v and factor != 1.0:
            new = p.from_internal(v + (1 if factor > 1 else -1))
        return new, f"x{factor:g}"
    if isinstance(p, Uniform):
        if p.log or p.lower > 0 or (p.lower >= 0 and float(v) > 0):
            x = float(v) * factor
            how = f"x{factor:g}"
        else:
            x = float(v) + (factor - 1.0) * (p.upper - p.lower) / 2
            how = f"{(factor - 1.0) / 2:+g} of the range"
        new = p.from_internal(p.to_internal(max(x, p.lower) if p.log else x))
        if p.quantum and new == v and factor != 1.0:
            step = p.quantum if factor > 1 else -p.quantum
            new = p.from_internal(p.to_internal(max(float(v) + step, p.lower)))
        return new, how
    if isinstance(p, Normal):
        if p.log or float(v) > 0:
            x = float(v) * factor
            how = f"x{factor:g}"
        else:
            scale = math.exp(p.sigma) if p.log else p.sigma
            x = float(v) + (factor - 1.0) * scale
            how = f"{factor - 1.0:+g} sigma"
        return p.from_internal(p.to_internal(x)), how
    # a plugin parameter type: move through its internal number
    x = p.to_internal(v)
    width = (p.high - p.low) if math.isfinite(p.high - p.low) else 1.0
    return p.from_internal(x + (factor - 1.0) * width / 2), f"{(factor - 1.0) / 2:+g} internal"


def explore(
    space: SearchSpace,
    params: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    factors: Sequence[float] = (0.8, 1.2),
    resample_probability: float = 0.25,
    mutable: Iterable[PathT] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Perturbs a point of ``space``: ``(new_params, perturbation)``.

    Every mutable active parameter is either drawn again from the space (with probability
    ``resample_probability``) or perturbed by a factor drawn from ``factors``; the others keep
    their value. Sub-parameters that a changed nested choice activates are drawn fresh. The
    result is always a point of the space. ``perturbation`` maps each changed parameter's name
    to ``{"from": old, "to": new, "how": ...}`` (JSON-able).
    """
    allowed = None if mutable is None else set(mutable)
    old = space.flatten(params)
    new: dict[PathT, Any] = {}
    changes: dict[str, Any] = {}
    for p in space.parameters:
        if not space.is_active(p, new):
            continue
        if p.path not in old or not space.is_active(p, old):
            new[p.path] = p.sample(rng)
            changes[p.name] = {"from": None, "to": _plain(new[p.path]), "how": "newly active"}
            continue
        v = old[p.path]
        if allowed is not None and p.path not in allowed:
            new[p.path] = v
            continue
        if rng.random() < resample_probability:
            nv, how = p.sample(rng), "resampled"
        else:
            factor = float(factors[int(rng.integers(len(factors)))])
            nv, how = _perturb(p, v, factor, rng)
        new[p.path] = nv
        if nv != v:
            changes[p.name] = {"from": _plain(v), "to": _plain(nv), "how": how}
    return space.assemble(new), changes


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


# the scheduler ----------------------------------------------------------------------------------


@dataclass
class _Member:
    """What the scheduler knows of one trial of the population."""

    params: dict[str, Any]
    parent: str | None = None
    state: str = "created"  # created, running, stopping, paused, ended, retired
    step: int = -1  # last reported step
    value: float | None = None  # last reported value
    loss: float = math.inf  # value as a loss (smaller is better)
    last_perturb: int | None = None  # step of the last perturbation check (None: not started)
    ckpt_step: int | None = None  # step of the latest committed checkpoint
    boundary: int = 0  # sync: the step at or after which it pauses next
    history: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Exploit:
    """A queued warm start: the donor, its parameters at that time, and the step it was chosen."""

    donor: str
    replaced: str
    step: int


class PBTScheduler(Tuner):
    """Population Based Training, asynchronous or in synchronous generations.

    A scheduler: the config names it as the tuner (``tuner: {name: pbt, classArgs: {...}}``)
    and gives no assessor; the manager calls its :meth:`assess` after each intermediate report
    (after :meth:`report` and after :meth:`checkpointed` for a report that committed a
    checkpoint), and its :meth:`checkpointed` on every committed checkpoint.

    Args:
        space: The search space.
        mode: "maximize" or "minimize" the reported value.
        seed: Seed for the initial population and every mutation.
        population_size: How many trials train at once (the population).
        perturbation_interval: How many steps (or units of ``time_attr``) between two
            exploit/explore decisions of a trial.
        time_attr: ``"step"`` (default), or the name of a reported metric that measures
            progress (epochs, samples); needs a manager that passes ``metrics`` to
            :meth:`assess`, else the step counts.
        quantile_fraction: The bottom and top fractions of the population (``0.25``: the worst
            quarter exploits the best quarter); at most half of the population.
        resample_probability: The chance that a mutated value is drawn again from the space
            instead of perturbed.
        perturbation_factors: The factors a numeric value is multiplied by (one drawn per
            parameter), e.g. ``[0.8, 1.2]``.
        burn_in: No trial is perturbed before this step (let them learn first).
        hyperparam_mutations: The parameters that may mutate (names as in the space, nested
            ones as ``"layer/1/kernel"``); default: all of them.
        synch: ``"async"`` (default) or ``"sync"`` (generations with PAUSE and resume). The
            alias ``mode_sync: true`` is accepted.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
        population_size: int = 8,
        perturbation_interval: int | float = 4,
        time_attr: str = "step",
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (0.8, 1.2),
        burn_in: int | float = 0,
        hyperparam_mutations: Sequence[str] | Mapping[str, Any] | None = None,
        synch: str = "async",
        mode_sync: bool | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        if isinstance(population_size, bool) or not isinstance(population_size, int):
            raise PluginError(f"pbt: population_size must be an integer, got {population_size!r}")
        if not 2 <= population_size <= MAX_POPULATION:
            raise PluginError(
                f"pbt: population_size must be in [2, {MAX_POPULATION}], got {population_size}"
            )
        self.population_size = population_size
        self.interval = _positive("perturbation_interval", perturbation_interval)
        if not isinstance(time_attr, str) or not time_attr:
            raise PluginError(f"pbt: time_attr must be 'step' or a metric name, got {time_attr!r}")
        self.time_attr = time_attr
        q = _number("quantile_fraction", quantile_fraction)
        if not 0 < q <= 0.5:
            raise PluginError(f"pbt: quantile_fraction must be in (0, 0.5], got {q!r}")
        self.quantile_fraction = q
        r = _number("resample_probability", resample_probability)
        if not 0 <= r <= 1:
            raise PluginError(f"pbt: resample_probability must be in [0, 1], got {r!r}")
        self.resample_probability = r
        facs = tuple(_positive("perturbation_factors", f) for f in perturbation_factors)
        if not facs:
            raise PluginError("pbt: perturbation_factors needs at least one factor")
        self.factors = facs
        self.burn_in = _number("burn_in", burn_in)
        if self.burn_in < 0:
            raise PluginError(f"pbt: burn_in must be >= 0, got {burn_in!r}")
        self.mutable = self._mutable_paths(hyperparam_mutations)
        sync_mode = str(synch).lower()
        if mode_sync is not None:
            sync_mode = "sync" if mode_sync else "async"
        if sync_mode not in _MODES:
            raise PluginError(f"pbt: synch must be 'async' or 'sync', got {synch!r}")
        self.sync = sync_mode == "sync"
        self.members: dict[str, _Member] = {}
        self.created = 0  # members of the initial population suggested so far
        self.pending: list[_Exploit] = []  # async and sync: warm starts to hand out
        self.resumes: list[str] = []  # sync: paused members to resume
        self.generation = 0
        self.exploits = 0
        self.replaced_failures = 0
        self._drawn: set[str] = set()  # the initial members' points (distinct when possible)

    # options ---------------------------------------------------------------------------------
    def _mutable_paths(
        self, names: Sequence[str] | Mapping[str, Any] | None
    ) -> frozenset[PathT] | None:
        if names is None:
            return None
        if isinstance(names, str):
            names = [names]
        by_name: dict[str, list[PathT]] = {}
        for p in self.space.parameters:
            by_name.setdefault(p.name, []).append(p.path)
            by_name.setdefault(p.key, []).append(p.path)
        out: set[PathT] = set()
        for n in names:
            if n not in by_name:
                known = ", ".join(sorted({p.name for p in self.space.parameters}))
                raise PluginError(
                    f"pbt: hyperparam_mutations names {n!r}, which is not a parameter of the "
                    f"space ({known})"
                )
            out.update(by_name[n])
        return frozenset(out)

    # the tuner side ---------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | object | None:
        """A new member, an exploit (``parent=``), a resume (``resume=``), None or FINISHED."""
        while self.resumes:
            tid = self.resumes.pop(0)
            m = self.members.get(tid)
            if m is not None and m.state == "paused":
                m.state = "running"
                return Suggestion(dict(m.params), resume=tid)
        while self.pending:
            live = self._live_donor(self.pending.pop(0))
            if live is None:
                continue
            ex, donor = live, self.members[live.donor]
            params, changes = explore(
                self.space,
                donor.params,
                self.rng,
                factors=self.factors,
                resample_probability=self.resample_probability,
                mutable=self.mutable,
            )
            self.exploits += 1
            self._add(trial_id, params, parent=ex.donor, start=donor.ckpt_step)
            pert = {
                "params": changes,
                "donor_step": donor.ckpt_step,
                "donor_value": donor.value,
                "replaced": ex.replaced,
            }
            return Suggestion(params, parent=ex.donor, perturbation=pert)
        if self.created < self.population_size:
            fresh = self._draw_initial()
            if fresh is not None:
                self._add(trial_id, fresh)
                return fresh
        if any(m.state in ("created", "running", "stopping") for m in self.members.values()):
            return None  # not now: a running member may still free an exploit or a resume
        if self.sync and self._complete_generation():
            return self.suggest(trial_id)
        return FINISHED

    def _live_donor(self, ex: _Exploit) -> _Exploit | None:
        """The exploit, with another top donor when its own ended meanwhile (a finished donor
        leaves its child nothing to train); None when no live top member has a checkpoint."""
        donor = self.members.get(ex.donor)
        if donor is not None and donor.ckpt_step is not None and donor.state != "ended":
            return ex
        scored = {
            t: x for t, x in self.members.items() if x.state == "running" and x.value is not None
        }
        _, top = self._quantiles(scored) if len(scored) >= 2 else ([], list(scored))
        top = [t for t in top if scored[t].ckpt_step is not None]
        if not top:
            log.info(
                "pbt: dropping the exploit of %s: no live top member has a checkpoint", ex.donor
            )
            return None
        return _Exploit(top[int(self.rng.integers(len(top)))], ex.replaced, ex.step)

    def _draw_initial(self) -> dict[str, Any] | None:
        """A new member of the initial population: a point not drawn before (None, and the
        population capped, when a finite space has no new point left)."""
        self.created += 1
        size = self.space.size()
        params = self.space.sample(self.rng)
        for _ in range(100):
            key = json.dumps(params, sort_keys=True, default=str)
            if key not in self._drawn:
                self._drawn.add(key)
                return params
            if len(self._drawn) >= size:
                break
            params = self.space.sample(self.rng)
        if len(self._drawn) >= size:
            self.created = self.population_size
            return None
        return params

    def _add(
        self,
        trial_id: str,
        params: dict[str, Any],
        *,
        parent: str | None = None,
        start: int | None = None,
    ) -> None:
        m = _Member(dict(params), parent=parent)
        if start is not None:
            m.last_perturb = start
            m.boundary = self._next_boundary(start)
        else:
            m.boundary = self._next_boundary(-1)
        self.members[trial_id] = m

    def report(self, trial_id: str, step: int, value: float) -> None:
        """Records an intermediate value (the manager calls it for every report)."""
        m = self.members.get(trial_id)
        if m is None or m.state not in ("created", "running"):
            # ended, or a report read after its STOP or PAUSE (the manager lags behind the
            # trial): it must neither rank again nor hold a generation up
            return
        v = float(value)
        m.state = "running"
        m.step = int(step)
        if math.isfinite(v):
            m.value = v
            m.loss = self.loss(v)
            m.history.append((m.step, v))
        if m.last_perturb is None:
            m.last_perturb = m.step - 1

    def checkpointed(self, trial_id: str, step: int) -> None:
        """The manager committed a checkpoint of ``trial_id`` at ``step`` (call it on every
        commit, before :meth:`assess` for the same report). Only such trials are donors."""
        m = self.members.get(trial_id)
        if m is not None:
            m.ckpt_step = int(step)

    def observe(self, result: TrialResult) -> None:
        """A trial ended: it leaves the population (and the generation it was in)."""
        m = self.members.get(result.trial_id)
        if m is None:
            # replayed on resume, or a trial this instance never suggested: keep its parameters
            # so it can be ranked, but it is not live
            m = _Member(dict(result.params), parent=result.parent)
            self.members[result.trial_id] = m
            if result.parent is None and self.created < self.population_size:
                self._draw_initial()  # the draw the original made for it (same rng stream)
                self._drawn.add(json.dumps(result.params, sort_keys=True, default=str))
        if result.value is not None and math.isfinite(result.value):
            m.value = float(result.value)
            m.loss = self.loss(result.value)
        was_live = m.state in ("created", "running", "paused", "stopping")
        m.state = "ended"
        self.resumes = [t for t in self.resumes if t != result.trial_id]
        if was_live and result.status == TrialStatus.FAILED:
            self._replace_failed(result.trial_id, m)

    def _replace_failed(self, trial_id: str, m: _Member) -> None:
        """A member failed: keep the population at its size (at most ``population_size``
        replacements in all, so a script that always fails cannot loop): an exploit of a top
        member when one has a checkpoint, else a fresh member."""
        if self.replaced_failures >= self.population_size:
            return
        self.replaced_failures += 1
        scored = {
            t: x for t, x in self.members.items() if x.state == "running" and x.value is not None
        }
        top = sorted(
            (t for t, x in scored.items() if x.ckpt_step is not None),
            key=lambda t: (scored[t].loss, t),
        )[: max(1, math.ceil(len(scored) * self.quantile_fraction))]
        if top:
            donor = top[int(self.rng.integers(len(top)))]
            self.pending.append(_Exploit(donor, trial_id, max(m.step, 0)))
        elif self.created > 0:
            self.created -= 1  # draw one more member of the initial population

    def forget(self, trial_id: str) -> None:
        """A lost attempt is started again: its reports and checkpoint no longer count."""
        m = self.members.get(trial_id)
        if m is not None:
            m.step, m.value, m.loss, m.history = -1, None, math.inf, []
            m.ckpt_step = None
            m.last_perturb = None
            m.state = "created"

    # the assessor side ------------------------------------------------------------------------
    def assess(
        self,
        trial_id: str,
        history: Sequence[float],
        steps: Sequence[int] | None = None,
        metrics: Sequence[Mapping[str, Any]] | None = None,
    ) -> Verdict | Decision:
        """After a report of ``trial_id``: CONTINUE, STOP (async exploit) or PAUSE (sync)."""
        m = self.members.get(trial_id)
        if m is None or m.state not in ("created", "running"):
            return Verdict.CONTINUE  # ended, or already stopping, paused or retired
        if steps:
            m.step = int(steps[-1])
        elif m.step < 0:
            m.step = len(history) - 1
        if m.value is None and history and math.isfinite(history[-1]):
            m.value = float(history[-1])
            m.loss = self.loss(m.value)
        t = self._progress(m, metrics)
        if self.sync:
            return self._assess_sync(trial_id, m, t)
        return self._assess_async(trial_id, m, t)

    def _progress(self, m: _Member, metrics: Sequence[Mapping[str, Any]] | None) -> float:
        if self.time_attr != "step" and metrics:
            v = metrics[-1].get(self.time_attr)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                return float(v)
        return float(m.step)

    def _assess_async(self, trial_id: str, m: _Member, t: float) -> Verdict | Decision:
        if m.last_perturb is None:
            m.last_perturb = int(t) - 1
        if t < self.burn_in or t - m.last_perturb < self.interval:
            return Verdict.CONTINUE
        m.last_perturb = int(t)
        # a member being stopped still holds its place in the population until replaced
        scored = {
            tid: x
            for tid, x in self.members.items()
            if x.state in ("running", "stopping") and x.value is not None
        }
        bottom, top = self._quantiles(scored)
        if trial_id not in bottom:
            return Verdict.CONTINUE
        donors = [
            d
            for d in top
            if self.members[d].ckpt_step is not None
            and self.members[d].state == "running"
            and d != trial_id
        ]
        if not donors:
            log.info(
                "pbt: %s is in the bottom quantile but no top trial has a checkpoint", trial_id
            )
            return Verdict.CONTINUE
        donor = donors[int(self.rng.integers(len(donors)))]
        self.pending.append(_Exploit(donor, trial_id, m.step))
        m.state = "stopping"  # later reports of it are not ranked; it is replaced once
        d = self.members[donor]
        return Decision(
            Verdict.STOP,
            f"pbt: bottom {self.quantile_fraction:.0%} at step {m.step} (value {m.value:.6g}); "
            f"replaced by an exploit of {donor} (value {d.value:.6g}, checkpoint at step "
            f"{d.ckpt_step})",
        )

    def _quantiles(self, scored: Mapping[str, _Member]) -> tuple[list[str], list[str]]:
        """(bottom, top) trial ids of the scored members, worst first / best first."""
        if len(scored) < 2:
            return [], []
        order = sorted(scored, key=lambda tid: (scored[tid].loss, tid))
        k = min(max(1, math.ceil(len(order) * self.quantile_fraction)), len(order) // 2)
        return list(reversed(order[-k:])), order[:k]

    # sync mode ----------------------------------------------------------------------------------
    def _next_boundary(self, step: int) -> int:
        iv = max(1, int(self.interval))
        b = (max(step, 0) // iv + 1) * iv  # never step 0: a member must learn first
        while b < self.burn_in:
            b += iv
        return b

    def _assess_sync(self, trial_id: str, m: _Member, t: float) -> Verdict | Decision:
        if t < m.boundary:
            return Verdict.CONTINUE
        if m.ckpt_step is None or m.ckpt_step < m.step:
            return Verdict.CONTINUE  # pause only on a committed checkpoint of this very step
        m.state = "paused"
        m.boundary = self._next_boundary(m.step)
        if not any(x.state in ("created", "running") for x in self.members.values()):
            self._complete_generation()
        return Decision(Verdict.PAUSE, f"pbt: generation boundary at step {m.step}")

    def _complete_generation(self) -> bool:
        """All live members are paused: queue the exploits and the resumes. Returns whether it
        queued anything."""
        paused = {tid: x for tid, x in self.members.items() if x.state == "paused"}
        if not paused or self.resumes or self.pending or self.created < self.population_size:
            return False  # the initial population is not all there yet
        self.generation += 1
        scored = {tid: x for tid, x in paused.items() if x.value is not None}
        bottom, top = self._quantiles(scored)
        donors = [d for d in top if paused[d].ckpt_step is not None]
        for tid in sorted(paused):
            if tid in bottom and donors:
                donor = donors[int(self.rng.integers(len(donors)))]
                paused[tid].state = "retired"  # stays PAUSED; EARLY_STOPPED at the end
                self.pending.append(_Exploit(donor, tid, paused[tid].step))
            else:
                self.resumes.append(tid)
        return True

    # checkpoints and state ----------------------------------------------------------------------
    def needed_checkpoints(self) -> set[str]:
        """Trials whose latest checkpoint may still be exploited or resumed (for the GC)."""
        live = {t for t, m in self.members.items() if m.state in ("created", "running", "paused")}
        return live | {e.donor for e in self.pending}

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as JSON-able data (the store may keep it for resume)."""
        return {
            "created": self.created,
            "generation": self.generation,
            "exploits": self.exploits,
            "replaced_failures": self.replaced_failures,
            "pending": [[e.donor, e.replaced, e.step] for e in self.pending],
            "resumes": list(self.resumes),
            "members": {
                t: {
                    "params": m.params,
                    "parent": m.parent,
                    "state": m.state,
                    "step": m.step,
                    "value": m.value,
                    "last_perturb": m.last_perturb,
                    "ckpt_step": m.ckpt_step,
                    "boundary": m.boundary,
                }
                for t, m in self.members.items()
            },
            "drawn": sorted(self._drawn),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict` (after the replay of ended trials, which it replaces)."""
        self.created = int(state["created"])
        self.generation = int(state["generation"])
        self.exploits = int(state.get("exploits", 0))
        self.replaced_failures = int(state.get("replaced_failures", 0))
        self.pending = [_Exploit(str(d), str(r), int(s)) for d, r, s in state["pending"]]
        self.resumes = [str(t) for t in state["resumes"]]
        self.members = {}
        for t, d in state["members"].items():
            m = _Member(dict(d["params"]), parent=d["parent"], state=str(d["state"]))
            m.step, m.value = int(d["step"]), d["value"]
            m.loss = self.loss(m.value)
            m.last_perturb, m.ckpt_step = d["last_perturb"], d["ckpt_step"]
            m.boundary = int(d["boundary"])
            self.members[str(t)] = m
        self._drawn = set(state.get("drawn", ()))
        self.rng.bit_generator.state = state["rng"]


def _number(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise PluginError(f"pbt: {name} must be a finite number, got {v!r}")
    return float(v)


def _positive(name: str, v: object) -> float:
    x = _number(name, v)
    if x <= 0:
        raise PluginError(f"pbt: {name} must be > 0, got {v!r}")
    return x
