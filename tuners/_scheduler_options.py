"""The options of the multi-fidelity schedulers, defined once.

``hyperband``, ``bohb`` and ``asha_gp`` share their scheduling options (resources, reduction
factor, brackets, stopping or promotion, the resource's name) and the two model-based ones share
the model options (when a level's model is trusted, the random share). Each option lives in one
frozen dataclass with its default and its check; a scheduler names its dataclass
(:attr:`options_type`) and takes ``**options``; :func:`options_signature` gives the class the
explicit keyword signature the plugin registry checks classArgs against (an unknown name is an
error that suggests the closest one), so the defaults are not repeated in any constructor.

A subclass of an options dataclass may change a default (``asha_gp`` runs one bracket) by
redeclaring the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hyperloom.errors import PluginError

__all__ = [
    "ASHAGPOptions",
    "BOHBOptions",
    "ModelOptions",
    "SchedulerOptions",
    "build_options",
    "options_signature",
    "publish_signature",
]

_TYPES = ("stopping", "promotion")

OptionsT = TypeVar("OptionsT", bound="SchedulerOptions")


def _number(who: str, name: str, value: object, *, minimum: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise PluginError(
            f"{who}: {name} must be a number >= {minimum:g}, got {value!r}; fix classArgs.{name}"
        )
    return float(value)


def _integer(who: str, name: str, value: object, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise PluginError(
            f"{who}: {name} must be an integer in [{minimum}, {maximum}], got {value!r}; "
            f"fix classArgs.{name}"
        )
    return value


def _fraction(who: str, name: str, value: object, *, closed: bool) -> float:
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if number and isinstance(value, int | float) and math.isfinite(value):
        inside = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
        if inside:
            return float(value)
    span = "[0, 1]" if closed else "(0, 1)"
    raise PluginError(
        f"{who}: {name} must be a number in {span}, got {value!r}; fix classArgs.{name}"
    )


@dataclass(frozen=True, kw_only=True)
class SchedulerOptions:
    """The scheduling options of every scheduler (``hyperband``'s whole set).

    Attributes:
        min_resource: Resource at the lowest rung (``r_min``).
        max_resource: Resource of a full trial (``r_max``); no rung is placed at or beyond it.
        reduction_factor: ``eta``: keep the top ``1 / eta`` at each rung (>= 2).
        brackets: Number of Hyperband brackets (1: ASHA; None: every bracket that fits,
            ``floor(log_eta(r_max / r_min)) + 1``).
        type: "stopping" (stop at a rung) or "promotion" (pause at a rung, resume later).
        resource: None (the report step) or the name of a reported metric.
    """

    min_resource: float = 1
    max_resource: float = 81
    reduction_factor: int = 3
    brackets: int | None = None
    type: str = "stopping"
    resource: str | None = None

    def checked(self, who: str) -> SchedulerOptions:
        """The options with numbers normalised (floats for resources, ``brackets`` resolved);
        PluginError naming the bad option otherwise."""
        lo = _number(who, "min_resource", self.min_resource, minimum=1e-12)
        hi = _number(who, "max_resource", self.max_resource, minimum=1e-12)
        if lo > hi:
            raise PluginError(
                f"{who}: min_resource ({self.min_resource!r}) must not exceed max_resource "
                f"({self.max_resource!r}); fix classArgs"
            )
        eta = _integer(who, "reduction_factor", self.reduction_factor, minimum=2, maximum=1000)
        s_max = self.max_bracket(lo, hi, eta)
        brackets = s_max + 1 if self.brackets is None else self.brackets
        brackets = _integer(who, "brackets", brackets, minimum=1, maximum=s_max + 1)
        if self.type not in _TYPES:
            raise PluginError(
                f"{who}: type must be 'stopping' or 'promotion', got {self.type!r}; "
                "fix classArgs.type"
            )
        res = self.resource
        if res is not None and (not isinstance(res, str) or not res):
            raise PluginError(
                f"{who}: resource must be null (the report step) or a metric name, "
                f"got {res!r}; fix classArgs.resource"
            )
        return dataclasses.replace(
            self,
            min_resource=lo,
            max_resource=hi,
            reduction_factor=eta,
            brackets=brackets,
            resource=None if res == "step" else res,
        )

    @staticmethod
    def max_bracket(min_resource: float, max_resource: float, eta: int) -> int:
        """Hyperband's ``s_max = floor(log_eta(r_max / r_min))``."""
        return math.floor(math.log(max_resource / min_resource) / math.log(eta) + 1e-9)


@dataclass(frozen=True, kw_only=True)
class ModelOptions(SchedulerOptions):
    """The options of a scheduler with one model per resource level (``bohb``, ``asha_gp``).

    Attributes:
        min_points: Values a level needs before its model is used. None: enough for the model's
            "good" share to hold ``d + 1`` points (``ceil((d + 1) / good_share)``, ``d`` the
            number of parameters; see the scheduler's docstring), and at least ``2 (d + 1)``.
        random_fraction: Share of new configurations drawn at random anyway.
        novelty: How far from every configuration tried so far a model's suggestion must be,
            as a share of the median nearest-neighbour distance among the random draws (0: no
            check). A suggestion closer than that is asked again (up to 3 times, the rejected
            points shown to the model as pending), then replaced by a random draw: a level's
            model that has collapsed onto one good configuration cannot fill the budget with
            its near-copies.
    """

    min_points: int | None = None
    random_fraction: float = 1 / 3
    novelty: float = 0.5

    def checked(self, who: str) -> ModelOptions:
        out = super().checked(who)
        assert isinstance(out, ModelOptions)
        mp = self.min_points
        if mp is not None and (isinstance(mp, bool) or not isinstance(mp, int) or mp < 2):
            raise PluginError(
                f"{who}: min_points must be an integer >= 2, got {mp!r}; fix classArgs.min_points"
            )
        rf = _fraction(who, "random_fraction", self.random_fraction, closed=True)
        nov = _number(who, "novelty", self.novelty, minimum=0.0)
        return dataclasses.replace(out, random_fraction=rf, novelty=nov)


@dataclass(frozen=True, kw_only=True)
class BOHBOptions(ModelOptions):
    """``bohb``'s options (one bracket, i.e. asynchronous successive halving, by default; ``brackets:
    null`` for every Hyperband bracket).

    Attributes:
        gamma: Share of a level's trials its TPE calls good (BOHB's 15%).
        n_candidates: Candidates the TPE scores per suggestion.
        bandwidth_rule: The TPE's kernel widths: "scott" (default; one width per parameter,
            ``bandwidth * range * n ** (-1 / (d + 4))``, as BOHB's KDE) or "gap" (the ``tpe``
            tuner's default: each kernel as wide as its larger gap to a neighbour, which on a
            level's few good points gives kernels so narrow that almost every suggestion is a
            near-copy of a tried configuration and the novelty check replaces it).
        bandwidth: The factor of the "scott" rule (the ``tpe`` tuner's default, 0.2).
    """

    brackets: int | None = 1
    gamma: float = 0.15
    n_candidates: int = 64
    bandwidth_rule: str = "scott"
    bandwidth: float = 0.2

    def checked(self, who: str) -> BOHBOptions:
        out = super().checked(who)
        assert isinstance(out, BOHBOptions)
        gamma = _fraction(who, "gamma", self.gamma, closed=False)
        _integer(who, "n_candidates", self.n_candidates, minimum=1, maximum=100_000)
        if self.bandwidth_rule not in ("scott", "gap"):
            raise PluginError(
                f"{who}: bandwidth_rule must be 'scott' or 'gap', got {self.bandwidth_rule!r}; "
                "fix classArgs.bandwidth_rule"
            )
        bw = _number(who, "bandwidth", self.bandwidth, minimum=0.0)
        if bw <= 0:
            raise PluginError(f"{who}: bandwidth must be > 0, got {bw!r}; fix classArgs.bandwidth")
        return dataclasses.replace(out, gamma=gamma, bandwidth=bw)


@dataclass(frozen=True, kw_only=True)
class ASHAGPOptions(ModelOptions):
    """``asha_gp``'s options (one bracket and a 10% random share by default).

    Attributes:
        n_candidates: Random points the GP's acquisition scores per suggestion.
        n_restarts: L-BFGS-B starts of the acquisition (fewer: faster suggestions).
        max_points: Most observations one level's GP is fitted to (keeps suggestions fast).
    """

    brackets: int | None = 1
    random_fraction: float = 0.1
    n_candidates: int = 128
    n_restarts: int = 2
    max_points: int = 100

    def checked(self, who: str) -> ASHAGPOptions:
        out = super().checked(who)
        assert isinstance(out, ASHAGPOptions)
        for name, low in (("n_candidates", 1), ("n_restarts", 1), ("max_points", 10)):
            _integer(who, name, getattr(self, name), minimum=low, maximum=10**9)
        return out


def build_options(cls: type[OptionsT], who: str, given: Mapping[str, Any]) -> OptionsT:
    """``cls(**given)``, checked; an unknown name is a PluginError suggesting the closest."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in given:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"{who}: unknown argument {key!r} in classArgs.{hint} "
                f"Valid arguments: {', '.join(names)}"
            )
    out = cls(**given).checked(who)
    assert isinstance(out, cls)
    return out


def options_signature(
    cls: type[SchedulerOptions], *, self_first: bool = False
) -> inspect.Signature:
    """The constructor signature ``(space, *, mode, seed, <every option with its default>)``
    of a scheduler whose options are ``cls`` (for the registry's classArgs check and help);
    ``self_first``: with ``self`` in front, for the ``__init__`` function itself."""
    kw = inspect.Parameter.KEYWORD_ONLY
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("self", pos)] if self_first else []
    params += [
        inspect.Parameter("space", pos),
        inspect.Parameter("mode", kw, default="maximize", annotation="str"),
        inspect.Parameter("seed", kw, default=None, annotation="int | None"),
    ]
    for f in dataclasses.fields(cls):
        params.append(inspect.Parameter(f.name, kw, default=f.default, annotation=f.type))
    return inspect.Signature(params)


def publish_signature(scheduler: type, options: type[SchedulerOptions]) -> None:
    """Gives a scheduler class, and its own ``__init__`` (which takes ``**options``), the
    explicit signature of its options, for ``inspect.signature(cls)`` (the registry) and
    ``inspect.signature(cls.__init__)`` alike."""
    scheduler.__signature__ = options_signature(options)  # type: ignore[attr-defined]
    init = scheduler.__dict__.get("__init__")
    if init is not None:
        init.__signature__ = options_signature(options, self_first=True)
