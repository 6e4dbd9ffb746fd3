"""The ``auto`` tuner: picks a search method for the experiment, then delegates to it.

The rule (measured in ``docs/notes/gp.md``; details in :func:`choose`):

* **gp** (Gaussian-process BO) while the model is cheap and accurate: a space with at least one
  numeric parameter, at most :data:`GP_MAX_FEATURES` model features (one per numeric parameter,
  one per categorical option) and more than :data:`SMALL_GRID` points (nested choices included),
  for the first ``switch_after`` observations: :data:`SWITCH_AFTER` (where the GP starts to
  subsample its history), or :data:`SWITCH_AFTER_CATEGORICAL` when more than
  :data:`GP_MAX_CATEGORICAL_SHARE` of the parameters are categorical.
* **gp** also on spaces of categorical parameters only with at most :data:`GP_MAX_FEATURES`
  options in all and more than :data:`SMALL_GRID` points (NAS-Bench-201's 6 x 5 cell): the
  GP's equality kernel and local-search acquisition (session 7) beat tpe with local search
  there; it hands over to tpe (with local search) after :data:`SWITCH_AFTER_CATEGORICAL`.
* **tpe** otherwise: wider all-categorical spaces, many features, small grids, and
  long runs once ``switch_after`` trials have been observed (the TPE is then given every trial
  seen so far, so the switch loses nothing). A known ``budget`` at or below ``switch_after``
  never switches.
* **quick trials**: a gp phase hands over to tpe once the median ``duration`` of at least
  :data:`DURATION_SAMPLE` ended trials is below ``min_trial_seconds``
  (:data:`GP_MIN_TRIAL_SECONDS`), where results carry a duration.
* spaces of categorical parameters only: tpe with ``local_search`` (from ``2 * n_startup``
  observations on, the best-scored untried one-option change of the best trial comes first,
  two-option changes at a local optimum; with several objectives, of the Pareto-front trials),
  :data:`LOCAL_SEARCH_ALL_CATEGORICAL`.
* optionally (``late_gp``, off by default), an all-categorical space's tpe phase hands over to gp
  after that many observations. At a switch the new method also learns the trials still running.
* Several objectives: the same rule (``gp`` by ParEGO and ``tpe`` both search several
  objectives); a method that could not would be replaced by ``gp``.

The choice (at the first suggestion) and each switch are logged once (``manager.log``) and kept
in :attr:`AutoTuner.choice` and :attr:`AutoTuner.reason`. Everything is a pure function of the
space, the options and the observed results, so resume by replay reproduces the same choices and
suggestions.
"""

from __future__ import annotations

import inspect
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import Tuner
from hyperloom.types import Constraint, Objective, Suggestion, TrialResult

__all__ = [
    "DURATION_SAMPLE",
    "GP_MAX_CATEGORICAL_SHARE",
    "GP_MAX_FEATURES",
    "GP_MIN_TRIAL_SECONDS",
    "LATE_GP_FROM",
    "LATE_GP_MAX_FEATURES",
    "LOCAL_SEARCH_ALL_CATEGORICAL",
    "SMALL_GRID",
    "SWITCH_AFTER",
    "SWITCH_AFTER_CATEGORICAL",
    "AutoTuner",
    "choose",
    "default_switch_after",
]

log = logging.getLogger(__name__)

#: Most model features (numeric parameters + categorical options) for which ``gp`` is chosen.
GP_MAX_FEATURES = 32
#: Above this share of categorical parameters, the gp phase is shorter.
GP_MAX_CATEGORICAL_SHARE = 0.5
#: Finite spaces with at most this many points go to ``tpe``.
SMALL_GRID = 1000
#: Observations after which a ``gp`` phase hands over to ``tpe``.
SWITCH_AFTER = 300
#: The same for categorical-heavy spaces.
SWITCH_AFTER_CATEGORICAL = 150
#: gp only while the median trial lasts at least this many seconds: a gp suggestion costs up to
#: ~0.25 CPU-s at 100-300 observations (docs/notes/gp.md), so the tuner stays under ~10% of a
#: trial's time; quicker trials go to tpe (~5 ms per suggestion).
GP_MIN_TRIAL_SECONDS = 2.5
#: Ended trials with a known duration needed before that rule is applied.
DURATION_SAMPLE = 5
#: All-categorical spaces: tpe's ``local_search`` (the best-scored untried one-option change of the
#: incumbent first, two-option changes at a local optimum). Measured (20 seeds, docs/notes/gp.md):
#: at 100 trials median regret at or below tpe's and gp's on all 10 all-categorical problems (5 of
#: them held out; equal only where both reach 0); the exact optimum in 15/20 (nas_chain) and 17/20 (NB201-CIFAR-10) seeds, against
#: 1 and 10 for plain tpe.
LOCAL_SEARCH_ALL_CATEGORICAL = True
#: All-categorical spaces: observations after which the first tpe phase hands over to gp.
LATE_GP_FROM = 0
#: ... when the space has at most this many model features (one per option).
LATE_GP_MAX_FEATURES = 48


def default_switch_after(space: SearchSpace) -> int:
    """:data:`SWITCH_AFTER`, or :data:`SWITCH_AFTER_CATEGORICAL` for categorical-heavy spaces."""
    params = list(space.parameters)
    n_cat = sum(1 for p in params if p.is_categorical)
    heavy = bool(params) and n_cat / len(params) > GP_MAX_CATEGORICAL_SHARE
    return SWITCH_AFTER_CATEGORICAL if heavy else SWITCH_AFTER


def _profile(space: SearchSpace) -> dict[str, Any]:
    params = list(space.parameters)
    n_cat = sum(1 for p in params if p.is_categorical)
    return {
        "n": len(params),
        "n_cat": n_cat,
        "n_num": len(params) - n_cat,
        "n_feat": sum(int(p.n_choices) if p.is_categorical else 1 for p in params),
        "conditional": any(p.condition is not None for p in params),
        "size": space.size(),
    }


def choose(
    space: SearchSpace, *, budget: int | None = None, switch_after: int | None = None
) -> tuple[str, str]:
    """The method ``auto`` starts with for ``space``, and why (one sentence).

    The rules, in order (each measured on a family of problems; see ``docs/notes/gp.md``):

    1. more than :data:`GP_MAX_FEATURES` model features -> ``tpe`` (for all-categorical
       spaces: HPOLib's 34 options, nas_chain's 40, with local search);
    2. no numeric parameter (every parameter a ``choice``): ``gp`` when the space is larger than
       :data:`SMALL_GRID` (NAS-Bench-201, 30 options: median regret at 50 evaluations 0 / 0 /
       0.05 against tpe with local search's 0.05 / 0 / 0.56 on CIFAR-10 / -100 / ImageNet16,
       20 seeds), else ``tpe``;
    3. a finite space of at most :data:`SMALL_GRID` points -> ``tpe`` (a small grid: the GP's
       continuous relaxation gains little there);
    4. a known budget above ``4 * switch_after`` trials -> ``tpe`` (a long run);
    5. otherwise ``gp``: numeric, mixed and small conditional spaces (inactive parameters are
       encoded as 0; measured far ahead of TPE on a nested-choice problem), handing over to
       ``tpe`` after ``switch_after`` observations.
    """
    if switch_after is None:
        switch_after = default_switch_after(space)
    f = _profile(space)
    n, n_cat, n_feat = f["n"], f["n_cat"], f["n_feat"]
    if n_feat > GP_MAX_FEATURES:
        kind = (
            "categorical options" if f["n_num"] == 0 else "numeric parameters + categorical options"
        )
        return "tpe", (
            f"{n_feat} model features ({kind}) > {GP_MAX_FEATURES}: too many for a GP on a "
            "small budget"
        )
    if f["size"] <= SMALL_GRID:
        return "tpe", (
            f"a finite space of {int(f['size'])} points (<= {SMALL_GRID}): on a small grid the "
            "GP's continuous relaxation gains little"
        )
    if budget is not None and budget > 4 * switch_after:
        return "tpe", f"budget {budget} trials: a long run, where TPE's cost stays flat"
    tail = (
        f"; hands over to tpe after {switch_after} observations"
        if budget is None or budget > switch_after
        else ""
    )
    if f["n_num"] == 0:
        return "gp", (
            f"all {n} parameters are categorical ({n_feat} options, {int(f['size'])} points): "
            f"the GP's per-parameter equality kernel is the most sample-efficient here{tail}"
        )
    nested = ", nested choices" if f["conditional"] else ""
    return "gp", (
        f"{n} parameters ({n_cat} categorical{nested}), {n_feat} model features: "
        f"GP-BO is the most sample-efficient here{tail}"
    )


def _duration(result: TrialResult) -> float | None:
    d = getattr(result, "duration", None)
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or d < 0:
        return None
    return float(d)


def _accepts(cls: Any, name: str) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _tuner_class(name: str) -> Any:
    if name == "gp":
        from hyperloom.tuners.gp import GPTuner

        return GPTuner
    from hyperloom.tuners.tpe import TPETuner

    return TPETuner


class AutoTuner(Tuner):
    """Chooses ``gp`` or ``tpe`` from the space and budget, and may switch once, gp -> tpe.

    See the module docstring for the rule. ``suggest``, ``observe``, ``report`` and ``forget``
    go to the current method; on a switch the new one first observes every ended trial, in order.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed, passed on to the chosen tuner.
        objectives: Several objectives (a multi-objective-capable method is chosen).
        constraints: Bounds on reported metrics, passed to a method that accepts them.
        budget: The experiment's trial budget, when known (``maxTrialNumber``).
        switch_after: Observations after which a gp phase hands over to tpe (0: never; default
            300, or 150 for categorical-heavy spaces).
        late_gp: All-categorical spaces of at most :data:`LATE_GP_MAX_FEATURES` options: the
            observations after which the tpe phase hands over to gp (until ``switch_after``);
            0: never (default :data:`LATE_GP_FROM`).
        min_trial_seconds: A gp phase hands over to tpe once the median duration of at least
            :data:`DURATION_SAMPLE` ended trials is below this (0: never). Needs trial results
            that carry a ``duration`` (seconds); without one the rule is not applied.
        method: Force ``"gp"`` or ``"tpe"`` instead of choosing.
        gp: classArgs for the gp tuner.
        tpe: classArgs for the tpe tuner.
    """

    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] | None = None,
        budget: int | None = None,
        switch_after: int | None = None,
        method: str | None = None,
        late_gp: int | None = None,
        min_trial_seconds: float = GP_MIN_TRIAL_SECONDS,
        gp: Mapping[str, Any] | None = None,
        tpe: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, objectives=objectives)
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
        ):
            raise PluginError(f"auto: budget must be a positive integer, got {budget!r}")
        if switch_after is None:
            switch_after = default_switch_after(space)
        if isinstance(switch_after, bool) or not isinstance(switch_after, int) or switch_after < 0:
            raise PluginError(f"auto: switch_after must be an integer >= 0, got {switch_after!r}")
        if method is not None and method not in ("gp", "tpe"):
            raise PluginError(f"auto: method must be 'gp' or 'tpe', got {method!r}")
        if late_gp is None:
            late_gp = LATE_GP_FROM
        if isinstance(late_gp, bool) or not isinstance(late_gp, int) or late_gp < 0:
            raise PluginError(f"auto: late_gp must be an integer >= 0, got {late_gp!r}")
        if (
            isinstance(min_trial_seconds, bool)
            or not isinstance(min_trial_seconds, int | float)
            or not min_trial_seconds >= 0
        ):
            raise PluginError(
                f"auto: min_trial_seconds must be a number >= 0, got {min_trial_seconds!r}"
            )
        self.min_trial_seconds = float(min_trial_seconds)
        self.budget = budget
        self.switch_after = switch_after if switch_after else math.inf
        self._options = {"gp": dict(gp or {}), "tpe": dict(tpe or {})}
        self._objectives_arg = tuple(objectives or ())
        self._constraints = tuple(constraints or ())
        self._results: list[TrialResult] = []
        self._forced = method is not None
        if method is not None:
            name, why = method, "forced by classArgs method"
        else:
            name, why = choose(space, budget=budget, switch_after=int(min(self.switch_after, 1e9)))
        if len(self.objectives) > 1 and not getattr(_tuner_class(name), "multi_objective", False):
            name, why = "gp", f"{why}; but {len(self.objectives)} objectives: gp (ParEGO) instead"
        self.choice = name
        self.reason = why
        # (from this many observations, method, why): the phases after the first
        self._phases: list[tuple[float, str, str]] = []
        f = _profile(space)
        if f["n"] and f["n_num"] == 0:
            tpe_opts = self._options["tpe"]
            tpe_opts.setdefault("local_search", LOCAL_SEARCH_ALL_CATEGORICAL)
            if name == "tpe" and tpe_opts["local_search"]:
                start = tpe_opts.get("local_search_from", 2 * tpe_opts.get("n_startup", 10))
                which = "the best trial" if len(self.objectives) == 1 else "a Pareto-front trial"
                self.reason += (
                    f"; from {start} observations on, each suggestion is the best-scored "
                    f"untried one-option change of {which} (local search)"
                )
        if (
            name == "tpe"
            and not self._forced
            and late_gp
            and f["n"]
            and f["n_num"] == 0
            and f["n_feat"] <= LATE_GP_MAX_FEATURES
            and late_gp < self.switch_after
            and (budget is None or budget > late_gp)
        ):
            self._phases.append(
                (
                    late_gp,
                    "gp",
                    f"all-categorical space, {late_gp} observations: gp exploits the option "
                    "interactions better late in a run",
                )
            )
            self.reason += f"; hands over to gp after {late_gp} observations"
        if name == "gp" or self._phases:
            self._phases.append(
                (self.switch_after, "tpe", "hands over to tpe (a long run, TPE's cost stays flat)")
            )
        self._pending: dict[str, dict[str, Any]] = {}
        self.delegate: Tuner = self._build(name)
        self._logged = False  # the choice is logged at the first suggest(), when the
        # experiment's manager.log handler is attached (the tuner is built before that)

    def _build(self, name: str) -> Tuner:
        cls = _tuner_class(name)
        kwargs: dict[str, Any] = dict(self._options[name])
        kwargs["mode"] = self.mode
        kwargs["seed"] = self.seed
        if len(self._objectives_arg) > 1:
            kwargs["objectives"] = self._objectives_arg
        if self._constraints and _accepts(cls, "constraints"):
            kwargs["constraints"] = self._constraints
        try:
            tuner: Tuner = cls(self.space, **kwargs)
        except TypeError as e:
            raise PluginError(f"auto: bad classArgs for {name}: {e}") from None
        return tuner

    def _too_quick(self) -> str | None:
        """Why gp is too slow for these trials (None: it is not, or no durations are known).

        Uses ``result.duration`` (seconds from start to end) where the kernel provides it, so
        that resume by replay sees the same durations and makes the same choice."""
        if self.choice != "gp" or self._forced or self.min_trial_seconds <= 0:
            return None
        secs = [d for d in map(_duration, self._results) if d is not None]
        if len(secs) < DURATION_SAMPLE:
            return None
        med = statistics.median(secs)
        if med >= self.min_trial_seconds:
            return None
        return (
            f"trials take {med:.3g} s (median of {len(secs)}) < {self.min_trial_seconds:g} s: "
            "a gp suggestion would cost as much as a trial; tpe (~5 ms) instead"
        )

    def _maybe_switch(self) -> None:
        quick = self._too_quick()
        if quick is not None:
            self._phases = []
            self._switch("tpe", quick)
            return
        n = len(self._results)
        due = [ph for ph in self._phases if n >= ph[0]]
        if not due or self._forced:
            return
        at, name, why = due[-1]
        self._phases = [ph for ph in self._phases if n < ph[0]]
        if name == self.choice:
            return
        if self.budget is not None and self.budget <= at:
            return
        if len(self.objectives) > 1 and not getattr(_tuner_class(name), "multi_objective", False):
            return
        self._switch(name, why)

    def _switch(self, name: str, why: str) -> None:
        new = self._build(name)
        for r in self._results:
            new.observe(r)
        self._carry_pending(new)
        old = self.choice
        self.delegate = new
        self.choice = name
        self.reason = (
            f"switched from {old} to {name} after {len(self._results)} observations: {why}"
        )
        log.info("auto tuner: %s", self.reason)

    def _carry_pending(self, new: Tuner) -> None:
        """Tells the new method about the trials still running (so it neither repeats them nor
        forgets them as constant-liar points): both built-in methods keep them the same way."""
        hist, seen, enc = (getattr(new, a, None) for a in ("history", "seen", "encoder"))
        if hist is None or seen is None or enc is None:
            return
        for tid, params in self._pending.items():
            seen.add(params)
            hist.pending[tid] = enc.encode(params)

    def suggest(self, trial_id: str) -> dict[str, Any] | Suggestion | object | None:
        if not self._logged:
            self._logged = True
            log.info("auto tuner: using %s: %s", self.choice, self.reason)
        self._maybe_switch()
        out = self.delegate.suggest(trial_id)
        if isinstance(out, dict):
            self._pending[trial_id] = out
        elif isinstance(out, Suggestion):
            self._pending[trial_id] = dict(out.params)
        return out

    def observe(self, result: TrialResult) -> None:
        self._pending.pop(result.trial_id, None)
        self._results.append(result)
        self.delegate.observe(result)

    def report(self, trial_id: str, step: int, value: float) -> None:
        self.delegate.report(trial_id, step, value)

    def forget(self, trial_id: str) -> None:
        self._pending.pop(trial_id, None)
        self.delegate.forget(trial_id)
