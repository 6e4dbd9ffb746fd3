"""Search spaces in NNI's format, with NNI's documented semantics.

A space is a mapping ``{name: {"_type": T, "_value": V}}``. Every NNI type is supported:
``choice`` (nested when its options are dicts with ``_name``), ``randint`` (upper bound exclusive),
``uniform``, ``quniform``, ``loguniform``, ``qloguniform``, ``normal``, ``qnormal``, ``lognormal``
and ``qlognormal``. q-rounding of the bounded types is clipped to the bounds; of the normal types
it is not (as in NNI).

Tuners see a space as a flat list of :class:`Parameter` objects (``space.parameters``). Each has a
``path`` (``("layer0", 1, "kernel")`` for the ``kernel`` of option 1 of choice ``layer0``) and an
optional ``condition``: the parent choice path and option index under which it is active. Every
parameter also has an *internal* numeric representation, so that a model-based tuner can treat all
types alike:

* categorical parameters (``choice``): an option index in ``range(n_choices)``;
* numeric parameters: a float in ``[low, high]`` (log types in log space; normal types unbounded,
  with ``low``/``high`` set to ``-inf``/``inf`` and ``mu``/``sigma`` given). ``from_internal``
  rounds and clips a float back to a valid value.

New parameter types can be added by plugins through :func:`register_parameter_type`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hyperloom.errors import SearchSpaceError

__all__ = [
    "MAX_NESTING",
    "Choice",
    "Normal",
    "Parameter",
    "RandInt",
    "SearchSpace",
    "Uniform",
    "register_parameter_type",
]

PathT = tuple[str | int, ...]
#: Grids of at most this many values are built exactly; larger ones are computed point by point.
_EXACT = 100_000
Condition = tuple[PathT, int]


def _fmt_path(path: PathT) -> str:
    return "/".join(str(p) for p in path)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a space. Subclasses define the type.

    Attributes:
        path: Where the parameter lives: names, with option indices of nested choices between.
        condition: ``(choice_path, option_index)`` under which this parameter is active, or None.
    """

    path: PathT
    condition: Condition | None = None

    type_name: str = field(default="", init=False)
    is_categorical: bool = field(default=False, init=False)
    is_log: bool = field(default=False, init=False)
    is_int: bool = field(default=False, init=False)

    @property
    def name(self) -> str:
        """A readable name: the path joined with "/"."""
        return _fmt_path(self.path)

    @property
    def key(self) -> str:
        """The parameter's own key (the last element of its path)."""
        return str(self.path[-1])

    # numeric interface; overridden
    @property
    def low(self) -> float:
        return -math.inf

    @property
    def high(self) -> float:
        return math.inf

    @property
    def n_choices(self) -> int:
        return 0

    @property
    def q(self) -> float | None:
        return None

    def sample(self, rng: np.random.Generator) -> Any:
        """Draws a value with NNI's semantics."""
        raise NotImplementedError

    def to_internal(self, value: Any) -> float:
        """Maps a value to the internal numeric representation."""
        raise NotImplementedError

    def from_internal(self, x: float) -> Any:
        """Maps an internal number back to a valid value (rounding and clipping as needed)."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a value this parameter can take."""
        raise NotImplementedError

    def grid(self, n: int) -> list[Any]:
        """Up to ``n`` representative values (all of them when the parameter is discrete and small)."""
        raise NotImplementedError

    def grid_size(self, n: int) -> int:
        """``len(self.grid(n))``; the built-in types compute it without building the grid."""
        return len(self.grid(n))

    def grid_at(self, n: int, k: int) -> Any:
        """``self.grid(n)[k]``; the built-in types compute it without building the grid."""
        return self.grid(n)[k]

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Choice(Parameter):
    """``choice``: one of ``options``. For a nested choice, options hold ``_name`` strings and
    ``nested`` is True; the sampled value is then a dict ``{"_name": ..., **sub_params}``."""

    options: tuple[Any, ...] = ()
    nested: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_name", "choice")
        object.__setattr__(self, "is_categorical", True)

    @property
    def n_choices(self) -> int:
        return len(self.options)

    @property
    def low(self) -> float:
        return 0.0

    @property
    def high(self) -> float:
        return float(len(self.options) - 1)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def index(self, value: Any) -> int:
        """The option index of ``value`` (a nested value may be the dict or its ``_name``)."""
        if self.nested and isinstance(value, Mapping):
            value = value.get("_name")
        for i, opt in enumerate(self.options):
            if type(opt) is type(value) and opt == value:
                return i
        for i, opt in enumerate(self.options):
            if opt == value and not isinstance(value, bool) and not isinstance(opt, bool):
                return i
        raise ValueError(f"{value!r} is not an option of {self.name}")

    def to_internal(self, value: Any) -> float:
        return float(self.index(value))

    def from_internal(self, x: float) -> Any:
        i = int(min(max(round(float(x)), 0), len(self.options) - 1))
        return self.options[i]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def grid(self, n: int) -> list[Any]:
        return list(self.options)

    def grid_size(self, n: int) -> int:
        return len(self.options)

    def grid_at(self, n: int, k: int) -> Any:
        return self.options[k]

    def describe(self) -> str:
        return f"choice {list(self.options)!r}" + (" (nested)" if self.nested else "")


@dataclass(frozen=True)
class RandInt(Parameter):
    """``randint``: an int in ``[lower, upper)`` (upper exclusive, as in NNI). Ordered."""

    lower: int = 0
    upper: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_name", "randint")
        object.__setattr__(self, "is_int", True)

    @property
    def low(self) -> float:
        return float(self.lower)

    @property
    def high(self) -> float:
        return float(self.upper - 1)

    @property
    def q(self) -> float | None:
        return 1.0

    def sample(self, rng: np.random.Generator) -> Any:
        return int(rng.integers(self.lower, self.upper))

    def to_internal(self, value: Any) -> float:
        return float(value)

    def from_internal(self, x: float) -> Any:
        return int(min(max(round(float(x)), self.lower), self.upper - 1))

    def contains(self, value: Any) -> bool:
        return bool(
            isinstance(value, int | np.integer)
            and not isinstance(value, bool)
            and self.lower <= value < self.upper
        )

    def grid(self, n: int) -> list[Any]:
        return [self.grid_at(n, k) for k in range(self.grid_size(n))]

    def grid_size(self, n: int) -> int:
        # more values than points: the n evenly spaced points round to distinct integers
        return min(self.upper - self.lower, max(int(n), 1))

    def grid_at(self, n: int, k: int) -> Any:
        size = self.upper - self.lower
        m = self.grid_size(n)
        if not 0 <= k < m:
            raise IndexError(k)
        if size <= m:
            return self.lower + k
        if k == m - 1:
            return self.upper - 1
        if m == 1:
            return self.lower
        return self.lower + int(np.rint(k * ((size - 1) / (m - 1))))

    def describe(self) -> str:
        return f"randint [{self.lower}, {self.upper})"


@dataclass(frozen=True)
class Uniform(Parameter):
    """``uniform``, ``quniform``, ``loguniform``, ``qloguniform``. Internal value: the number itself,
    or its log for the log types. q-rounding is clipped to ``[lower, upper]``."""

    lower: float = 0.0
    upper: float = 1.0
    quantum: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        name = ("q" if self.quantum else "") + ("loguniform" if self.log else "uniform")
        object.__setattr__(self, "type_name", name)
        object.__setattr__(self, "is_log", self.log)

    @property
    def low(self) -> float:
        return math.log(self.lower) if self.log else self.lower

    @property
    def high(self) -> float:
        return math.log(self.upper) if self.log else self.upper

    @property
    def q(self) -> float | None:
        return self.quantum

    def _snap(self, v: float) -> float:
        if self.quantum:
            v = float(np.round(v / self.quantum) * self.quantum) + 0.0  # + 0.0: never -0.0
        return float(min(max(v, self.lower), self.upper))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_internal(float(rng.uniform(self.low, self.high)))

    def to_internal(self, value: Any) -> float:
        v = float(value)
        return math.log(v) if self.log else v

    def from_internal(self, x: float) -> Any:
        x = min(max(float(x), self.low), self.high)
        return self._snap(math.exp(x) if self.log else x)

    def contains(self, value: Any) -> bool:
        if not isinstance(value, int | float | np.number) or isinstance(value, bool):
            return False
        v = float(value)
        if not (self.lower <= v <= self.upper):
            return False
        if self.quantum and v not in (self.lower, self.upper):
            k = v / self.quantum
            return abs(k - round(k)) < 1e-6 * max(1.0, abs(k))
        return True

    def _steps(self) -> tuple[int, int]:
        """The range of multiples ``k * q`` inside the bounds (quantized types only)."""
        assert self.quantum
        return math.ceil(self.lower / self.quantum), math.floor(self.upper / self.quantum)

    def n_values(self) -> int:
        """How many distinct values a quantized parameter takes (computed, never enumerated)."""
        assert self.quantum
        k0, k1 = self._steps()
        if k1 - k0 < _EXACT:
            return len(self._q_values())
        lo, hi = self._extra_bounds()
        return k1 - k0 + 1 + lo + hi

    def _extra_bounds(self) -> tuple[bool, bool]:
        """Whether the snapped bounds are values beside the multiples ``k * q`` inside."""
        assert self.quantum
        k0, k1 = self._steps()
        first, last = self._snap(k0 * self.quantum), self._snap(k1 * self.quantum)
        return self._snap(self.lower) < first, self._snap(self.upper) > last

    def _q_values(self) -> list[float]:
        assert self.quantum
        k0, k1 = self._steps()
        return sorted(
            {
                self._snap(self.lower),
                *(self._snap(k * self.quantum) for k in range(k0, k1 + 1)),
                self._snap(self.upper),
            }
        )

    def grid(self, n: int) -> list[Any]:
        n = max(int(n), 1)
        if self._dense(n):
            return list(self._dense_grid(n))
        return [self.grid_at(n, k) for k in range(self.grid_size(n))]

    def _dense(self, n: int) -> bool:
        """Whether ``grid(n)`` is small enough to build (and deduplicate) exactly."""
        return n <= _EXACT and (not self.quantum or self.n_values() <= _EXACT)

    def grid_size(self, n: int) -> int:
        n = max(int(n), 1)
        if self._dense(n):
            return len(self._dense_grid(n))
        if self.quantum and self.n_values() <= n:
            return self.n_values()
        return n

    def grid_at(self, n: int, k: int) -> Any:
        n = max(int(n), 1)
        if self._dense(n):
            return self._dense_grid(n)[k]
        if not 0 <= k < self.grid_size(n):
            raise IndexError(k)
        if self.quantum and self.n_values() <= n:
            # every value in order: the lower bound (when it is not a multiple), the multiples,
            # the upper bound (when it is not a multiple)
            k0, k1 = self._steps()
            lo, hi = self._extra_bounds()
            if lo:
                if k == 0:
                    return self._snap(self.lower)
                k -= 1
            if hi and k == k1 - k0 + 1:
                return self._snap(self.upper)
            return self._snap((k0 + k) * self.quantum)
        x = self.low + (self.high - self.low) * (k / (n - 1) if n > 1 else 0.0)
        return self.from_internal(x)

    def _dense_grid(self, n: int) -> list[Any]:
        cache = self.__dict__.setdefault("_grid_cache", {})
        if n not in cache:
            if self.quantum:
                values = self._q_values()
                if len(values) <= n:
                    cache[n] = values
                    return values
            xs = np.linspace(self.low, self.high, n)
            cache[n] = sorted({self.from_internal(float(x)) for x in xs})
        return cache[n]  # type: ignore[no-any-return]

    def describe(self) -> str:
        q = f", q={self.quantum}" if self.quantum else ""
        return f"{self.type_name} [{self.lower}, {self.upper}{q}]"


@dataclass(frozen=True)
class Normal(Parameter):
    """``normal``, ``qnormal``, ``lognormal``, ``qlognormal``: unbounded. Internal value: the number,
    or its log for the log types. q-rounding is not clipped (NNI's semantics)."""

    mu: float = 0.0
    sigma: float = 1.0
    quantum: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        name = ("q" if self.quantum else "") + ("lognormal" if self.log else "normal")
        object.__setattr__(self, "type_name", name)
        object.__setattr__(self, "is_log", self.log)

    @property
    def q(self) -> float | None:
        return self.quantum

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_internal(float(rng.normal(self.mu, self.sigma)))

    def to_internal(self, value: Any) -> float:
        v = float(value)
        if self.log:
            return math.log(max(v, 1e-300))
        return v

    def from_internal(self, x: float) -> Any:
        v = math.exp(min(float(x), 700.0)) if self.log else float(x)
        if self.quantum:
            v = float(np.round(v / self.quantum) * self.quantum) + 0.0  # + 0.0: never -0.0
        return v

    def contains(self, value: Any) -> bool:
        if not isinstance(value, int | float | np.number) or isinstance(value, bool):
            return False
        v = float(value)
        if (
            not math.isfinite(v)
            or (self.log and v < 0)
            or (self.log and not self.quantum and v == 0)
        ):
            return False
        if self.quantum:
            k = v / self.quantum
            return abs(k - round(k)) < 1e-6 * max(1.0, abs(k))
        return True

    def grid(self, n: int) -> list[Any]:
        from scipy.stats import norm

        probs = (np.arange(n) + 0.5) / n
        xs = self.mu + self.sigma * norm.ppf(probs)
        return sorted({self.from_internal(float(x)) for x in xs})

    def describe(self) -> str:
        q = f", q={self.quantum}" if self.quantum else ""
        return f"{self.type_name} (mu={self.mu}, sigma={self.sigma}{q})"


# ---------------------------------------------------------------------------------------------
# Parsing

ParamFactory = Callable[[PathT, Condition | None, Any], Parameter]


def _number(path: PathT, what: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SearchSpaceError(f"parameter {_fmt_path(path)!r}: {what} must be a number, got {v!r}")
    try:
        f = float(v)
    except OverflowError:  # an int beyond the float range
        f = math.inf
    if not math.isfinite(f):
        raise SearchSpaceError(f"parameter {_fmt_path(path)!r}: {what} must be finite, got {v!r}")
    return f


def _values(path: PathT, type_name: str, value: Any, n: int) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != n:
        names = {2: "[low, high]", 3: "[low, high, q]"}
        if type_name.endswith("normal"):
            names = {2: "[mu, sigma]", 3: "[mu, sigma, q]"}
        raise SearchSpaceError(
            f"parameter {_fmt_path(path)!r} ({type_name}): _value must be {names[n]}, got {value!r}"
        )
    return [_number(path, f"_value[{i}]", v) for i, v in enumerate(value)]


def _make_uniform(log: bool, quantized: bool) -> ParamFactory:
    def make(path: PathT, cond: Condition | None, value: Any) -> Parameter:
        type_name = ("q" if quantized else "") + ("loguniform" if log else "uniform")
        vals = _values(path, type_name, value, 3 if quantized else 2)
        low, high = vals[0], vals[1]
        where = f"parameter {_fmt_path(path)!r} ({type_name})"
        if low >= high:
            raise SearchSpaceError(f"{where}: low must be < high, got low={low:g}, high={high:g}")
        if log and low <= 0:
            raise SearchSpaceError(f"{where}: log bounds must be > 0, got low={low:g}")
        if not math.isfinite(high - low):
            raise SearchSpaceError(
                f"{where}: the range high - low must be finite, got low={low:g}, high={high:g}"
            )
        q = vals[2] if quantized else None
        if q is not None and q <= 0:
            raise SearchSpaceError(f"{where}: q must be > 0, got q={q:g}")
        return Uniform(path, cond, lower=low, upper=high, quantum=q, log=log)

    return make


def _make_normal(log: bool, quantized: bool) -> ParamFactory:
    def make(path: PathT, cond: Condition | None, value: Any) -> Parameter:
        type_name = ("q" if quantized else "") + ("lognormal" if log else "normal")
        vals = _values(path, type_name, value, 3 if quantized else 2)
        where = f"parameter {_fmt_path(path)!r} ({type_name})"
        if vals[1] <= 0:
            raise SearchSpaceError(f"{where}: sigma must be > 0, got sigma={vals[1]:g}")
        q = vals[2] if quantized else None
        if q is not None and q <= 0:
            raise SearchSpaceError(f"{where}: q must be > 0, got q={q:g}")
        return Normal(path, cond, mu=vals[0], sigma=vals[1], quantum=q, log=log)

    return make


def _make_randint(path: PathT, cond: Condition | None, value: Any) -> Parameter:
    vals = _values(path, "randint", value, 2)
    where = f"parameter {_fmt_path(path)!r} (randint)"
    if any(v != int(v) for v in vals):
        raise SearchSpaceError(f"{where}: bounds must be integers, got {value!r}")
    low, high = int(vals[0]), int(vals[1])
    if low < -(2**63) or high > 2**63:  # what numpy's integer sampling can draw
        raise SearchSpaceError(f"{where}: bounds must lie within [-2**63, 2**63], got {value!r}")
    if low >= high:
        raise SearchSpaceError(
            f"{where}: low must be < high (high is exclusive), got low={low}, high={high}"
        )
    return RandInt(path, cond, lower=low, upper=high)


_TYPES: dict[str, ParamFactory] = {
    "randint": _make_randint,
    "uniform": _make_uniform(False, False),
    "quniform": _make_uniform(False, True),
    "loguniform": _make_uniform(True, False),
    "qloguniform": _make_uniform(True, True),
    "normal": _make_normal(False, False),
    "qnormal": _make_normal(False, True),
    "lognormal": _make_normal(True, False),
    "qlognormal": _make_normal(True, True),
}


def register_parameter_type(type_name: str, factory: ParamFactory) -> None:
    """Registers a new ``_type``. ``factory(path, condition, _value)`` returns a :class:`Parameter`
    subclass that implements the numeric interface, so every tuner can handle it. It raises
    :class:`SearchSpaceError` for a bad ``_value``."""
    if type_name == "choice" or type_name in _TYPES:
        raise SearchSpaceError(f"parameter type {type_name!r} is already registered")
    _TYPES[type_name] = factory


def _plugin_parameter_type(type_name: str) -> ParamFactory | None:
    """A ``_type`` from an installed ``hyperloom.parameter_types`` plugin (registered on first use)."""
    from hyperloom.registry import parameter_type_factory

    factory = parameter_type_factory(type_name)
    if factory is not None:
        _TYPES[type_name] = factory
    return factory


def _parse(
    spec: Any,
    prefix: PathT,
    cond: Condition | None,
    out: list[Parameter],
    errors: list[str] | None = None,
) -> None:
    """Parses ``spec`` into ``out``. With ``errors``, a bad parameter's message is added there and
    parsing goes on with the next one (so that every error is reported at once)."""
    if not isinstance(spec, Mapping):
        where = f"at {_fmt_path(prefix)!r}" if prefix else "at the top level"
        raise SearchSpaceError(
            f"search space {where} must be a mapping of parameters, got {spec!r}"
        )
    for name, body in spec.items():
        if prefix and name == "_name":
            continue
        try:
            _parse_one(name, body, prefix, cond, out, errors)
        except SearchSpaceError as e:
            if errors is None:
                raise
            errors.extend(e.errors)


def _parse_one(
    name: Any,
    body: Any,
    prefix: PathT,
    cond: Condition | None,
    out: list[Parameter],
    errors: list[str] | None,
) -> None:
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(f"parameter names must be non-empty strings, got {name!r}")
    path = (*prefix, name)
    where = f"parameter {_fmt_path(path)!r}"
    if not isinstance(body, Mapping) or "_type" not in body or "_value" not in body:
        raise SearchSpaceError(f'{where}: expected {{"_type": ..., "_value": ...}}, got {body!r}')
    extra = set(body) - {"_type", "_value"}
    if extra:
        raise SearchSpaceError(f"{where}: unknown keys {sorted(extra)!r} (only _type and _value)")
    type_name, value = body["_type"], body["_value"]
    if type_name == "choice":
        _parse_choice(path, cond, value, out, errors)
        return
    factory = _TYPES.get(type_name) if isinstance(type_name, str) else None
    if factory is None and isinstance(type_name, str):
        factory = _plugin_parameter_type(type_name)
    if factory is None:
        import difflib

        known = ["choice", *_TYPES]
        close = difflib.get_close_matches(str(type_name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known types: {', '.join(known)}"
        raise SearchSpaceError(f"{where}: unknown _type {type_name!r}{hint}")
    out.append(factory(path, cond, value))


#: How deeply nested choices may nest (a deeper space is surely generated by mistake).
MAX_NESTING = 32


def _option_key(v: Any) -> tuple[str, Any]:
    """Options with the same key are one value: equal numbers (1 and 1.0), equal strings,
    booleans only equal to booleans (as in :meth:`Choice.index`), None."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", v)  # 1 == 1.0 and hash(1) == hash(1.0)
    return (type(v).__name__, v)


def _duplicate_options(where: str, value: Sequence[Any]) -> None:
    first: dict[tuple[str, Any], int] = {}
    for j, v in enumerate(value):
        i = first.setdefault(_option_key(v), j)
        if i != j:
            raise SearchSpaceError(
                f"{where}: duplicate options {value[i]!r} (option {i}) and {v!r} (option {j}) "
                "are the same value; list each option once"
            )


def _parse_choice(
    path: PathT,
    cond: Condition | None,
    value: Any,
    out: list[Parameter],
    errors: list[str] | None = None,
) -> None:
    where = f"parameter {_fmt_path(path)!r} (choice)"
    depth = sum(1 for part in path if isinstance(part, int))
    if depth >= MAX_NESTING:
        raise SearchSpaceError(
            f"{where}: nested choices are {depth + 1} levels deep here; at most {MAX_NESTING} "
            "levels are supported"
        )
    if not isinstance(value, list | tuple):
        raise SearchSpaceError(f"{where}: _value must be a list of options, got {value!r}")
    if not value:
        raise SearchSpaceError(f"{where}: _value is an empty list; give at least one option")
    dicts = [v for v in value if isinstance(v, Mapping)]
    if not dicts:
        for v in value:
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise SearchSpaceError(
                    f"{where}: options must be numbers, strings, booleans or null, got {v!r}"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise SearchSpaceError(f"{where}: options must be finite, got {v!r}")
        out.append(Choice(path, cond, options=tuple(value)))
        return
    if len(dicts) != len(value):
        raise SearchSpaceError(
            f"{where}: a nested choice must have only dict options with a _name, got {value!r}"
        )
    names: list[str] = []
    for i, opt in enumerate(value):
        name = opt.get("_name")
        if not isinstance(name, str) or not name:
            raise SearchSpaceError(f"{where}: option {i} needs a string '_name', got {opt!r}")
        if name in names:
            raise SearchSpaceError(
                f"{where}: duplicate _name {name!r} in options {names.index(name)} and {i}"
            )
        names.append(name)
    out.append(Choice(path, cond, options=tuple(names), nested=True))
    for i, opt in enumerate(value):
        _parse(opt, (*path, i), (path, i), out, errors)


class SearchSpace:
    """An immutable, validated search space.

    Build one with :meth:`from_nni` or :meth:`load`. ``parameters`` is the flat list of all
    parameters, nested ones included, parents before children.
    """

    def __init__(self, raw: Mapping[str, Any], parameters: Sequence[Parameter]) -> None:
        self._raw = json.loads(json.dumps(raw))
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self._by_path = {p.path: p for p in self.parameters}

    # construction -----------------------------------------------------------------------------
    @classmethod
    def from_nni(cls, raw: Any) -> SearchSpace:
        """Validates an NNI search-space dict. Raises :class:`SearchSpaceError` naming the
        parameter path and the bad value."""
        params: list[Parameter] = []
        errors: list[str] = []
        _parse(raw, (), None, params, errors)
        if errors:
            raise SearchSpaceError.of(errors)
        try:
            return cls(raw, params)
        except (TypeError, ValueError) as e:
            raise SearchSpaceError(f"search space is not JSON-serializable: {e}") from None

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Loads a space from a JSON or YAML file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise SearchSpaceError(
                f"cannot read search space file {str(p)!r}: {e.strerror}"
            ) from None
        except UnicodeDecodeError as e:
            raise SearchSpaceError(f"{p}: not UTF-8 text (byte {e.start})") from None
        try:
            raw = json.loads(text)
        except RecursionError:
            raise SearchSpaceError(f"{p}: nested too deeply") from None
        except ValueError:
            import yaml
            from hyperloom.config import _yaml_loader  # duplicate keys and alias bombs refused

            try:
                raw = yaml.load(text, Loader=_yaml_loader())
            except yaml.YAMLError as e:
                raise SearchSpaceError(f"{p}: not valid JSON or YAML: {e}") from None
            except RecursionError:
                raise SearchSpaceError(f"{p}: nested too deeply") from None
        try:
            return cls.from_nni(raw)
        except SearchSpaceError as e:
            raise SearchSpaceError.of(e.errors, prefix=f"{p}: ") from None

    def check_duplicate_options(self) -> None:
        """Raises :class:`SearchSpaceError` naming the first choice that lists one value twice
        (``1`` and ``1.0``; a boolean never equals a number). :meth:`from_nni` accepts such
        spaces (a repeated option weighs more when sampled); configs refuse them."""
        for p in self.parameters:
            if isinstance(p, Choice) and not p.nested:
                _duplicate_options(f"parameter {p.name!r} (choice)", p.options)

    # inspection -------------------------------------------------------------------------------
    def to_nni(self) -> dict[str, Any]:
        """The space in NNI's JSON format (a copy)."""
        return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]

    def __getitem__(self, path: PathT) -> Parameter:
        return self._by_path[path]

    def __len__(self) -> int:
        return len(self.parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash(json.dumps(self._raw, sort_keys=True))

    def __repr__(self) -> str:
        return f"SearchSpace({len(self.parameters)} parameters)"

    @property
    def is_finite(self) -> bool:
        """Whether the space holds finitely many points (only choice/randint/bounded q-types)."""
        return all(
            p.is_categorical or isinstance(p, RandInt) or (isinstance(p, Uniform) and p.quantum)
            for p in self.parameters
        )

    def size(self) -> float:
        """The number of distinct points (``inf`` when continuous)."""
        if not self.is_finite:
            return math.inf

        def count(prefix: PathT, cond: Condition | None) -> int:
            total = 1
            for p in self.parameters:
                if p.condition != cond:
                    continue
                if isinstance(p, Choice) and p.nested:
                    total *= sum(count((*p.path, i), (p.path, i)) for i in range(p.n_choices))
                elif isinstance(p, RandInt):
                    total *= p.upper - p.lower
                elif isinstance(p, Uniform) and p.quantum:
                    total *= p.n_values()
                else:
                    total *= p.grid_size(1 << 30)
            return total

        n = count((), None)
        try:
            return float(n)
        except OverflowError:  # more points than a float can count
            return math.inf

    # flat <-> nested --------------------------------------------------------------------------
    def is_active(self, param: Parameter, flat: Mapping[PathT, Any]) -> bool:
        """Whether ``param`` is active given the (flat) values chosen for its ancestors."""
        cond = param.condition
        while cond is not None:
            parent_path, idx = cond
            parent = self._by_path[parent_path]
            if parent_path not in flat:
                return False
            if int(parent.to_internal(flat[parent_path])) != idx:
                return False
            cond = parent.condition
        return True

    def assemble(self, flat: Mapping[PathT, Any]) -> dict[str, Any]:
        """Builds the params dict a trial receives from flat values keyed by path. Values of
        inactive parameters are ignored; active parameters must all be present."""

        def build(cond: Condition | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = flat[p.path]
                if isinstance(p, Choice) and p.nested:
                    i = int(p.to_internal(v))
                    out[p.key] = {"_name": p.options[i], **build((p.path, i))}
                else:
                    out[p.key] = v
            return out

        return build(None)

    def flatten(self, params: Mapping[str, Any]) -> dict[PathT, Any]:
        """The inverse of :meth:`assemble`: flat values (nested choices as their ``_name``)."""
        flat: dict[PathT, Any] = {}

        def walk(d: Mapping[str, Any], prefix: PathT, cond: Condition | None) -> None:
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = d[p.key]
                if isinstance(p, Choice) and p.nested:
                    i = p.index(v)
                    flat[p.path] = p.options[i]
                    walk(v, (*p.path, i), (p.path, i))
                else:
                    flat[p.path] = v

        walk(params, (), None)
        return flat

    # sampling & checking ----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator | int | None = None) -> dict[str, Any]:
        """Draws one point with NNI's semantics."""
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        flat: dict[PathT, Any] = {}
        for p in self.parameters:
            if self.is_active(p, flat):
                flat[p.path] = p.sample(rng)
        return self.assemble(flat)

    def validate(self, params: Any) -> None:
        """Raises :class:`SearchSpaceError` unless ``params`` is a point of this space."""

        def walk(d: Any, prefix: PathT, cond: Condition | None) -> None:
            where = _fmt_path(prefix) if prefix else "params"
            if not isinstance(d, Mapping):
                raise SearchSpaceError(f"{where}: expected a mapping, got {d!r}")
            expected = {p.key for p in self.parameters if p.condition == cond}
            keys = set(d) - ({"_name"} if prefix else set())
            if keys != expected:
                missing, extra = sorted(expected - keys), sorted(keys - expected)
                raise SearchSpaceError(f"{where}: missing {missing}, unexpected {extra}")
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = d[p.key]
                if isinstance(p, Choice) and p.nested:
                    if not isinstance(v, Mapping) or not p.contains(v):
                        raise SearchSpaceError(
                            f"parameter {p.name!r}: {v!r} is not one of {list(p.options)}"
                        )
                    i = p.index(v)
                    walk(v, (*p.path, i), (p.path, i))
                elif not p.contains(v):
                    raise SearchSpaceError(f"parameter {p.name!r}: {v!r} is outside {p.describe()}")

        walk(params, (), None)

    def contains(self, params: Any) -> bool:
        try:
            self.validate(params)
        except (SearchSpaceError, KeyError, TypeError, ValueError):
            return False
        return True
