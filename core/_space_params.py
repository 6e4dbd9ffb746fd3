"""The parameter types of a search space (:mod:`hyperloom.space` re-exports them): what one
parameter is, how it samples, and its internal numeric form for model-based tuners; and the
factories that build them from NNI's ``{"_type", "_value"}``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hyperloom.errors import SearchSpaceError

__all__ = [
    "Choice",
    "Condition",
    "Normal",
    "ParamFactory",
    "Parameter",
    "PathT",
    "RandInt",
    "Uniform",
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
