"""A new search-space type, ``pow2``: a power of two between two bounds.

``{"_type": "pow2", "_value": [16, 256]}`` takes the values 16, 32, 64, 128, 256. Tuners see it
through the numeric interface of :class:`hyperloom.space.Parameter`: an ordered integer
parameter whose internal value is the exponent, so model-based tuners move along it in log scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperloom.errors import SearchSpaceError
from hyperloom.space import Parameter


@dataclass(frozen=True)
class Pow2(Parameter):
    """A power of two ``2**k`` with ``lo_exp <= k <= hi_exp``."""

    lo_exp: int = 0
    hi_exp: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_name", "pow2")
        object.__setattr__(self, "is_int", True)
        object.__setattr__(self, "is_log", False)

    @property
    def low(self) -> float:
        return float(self.lo_exp)

    @property
    def high(self) -> float:
        return float(self.hi_exp)

    @property
    def q(self) -> float | None:
        return 1.0

    def sample(self, rng: np.random.Generator) -> Any:
        return 2 ** int(rng.integers(self.lo_exp, self.hi_exp + 1))

    def to_internal(self, value: Any) -> float:
        return math.log2(float(value))

    def from_internal(self, x: float) -> Any:
        k = min(max(round(float(x)), self.lo_exp), self.hi_exp)
        return 2 ** int(k)

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            return False
        k = int(value).bit_length() - 1
        return 2**k == value and self.lo_exp <= k <= self.hi_exp

    def grid(self, n: int) -> list[Any]:
        ks = range(self.lo_exp, self.hi_exp + 1)
        if len(ks) > n:
            ks = sorted({round(k) for k in np.linspace(self.lo_exp, self.hi_exp, n)})  # type: ignore[assignment]
        return [2 ** int(k) for k in ks]

    def describe(self) -> str:
        return f"pow2 [{2**self.lo_exp}, {2**self.hi_exp}]"


def make_pow2(path: tuple[str | int, ...], condition: Any, value: Any) -> Parameter:
    """The factory hyperloom calls for ``_type: pow2``; ``value`` is ``[low, high]``."""
    where = f"parameter {'/'.join(map(str, path))!r} (pow2)"
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise SearchSpaceError(f"{where}: _value must be [low, high], got {value!r}")
    exps = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0 or v & (v - 1):
            raise SearchSpaceError(f"{where}: bounds must be powers of two, got {v!r}")
        exps.append(v.bit_length() - 1)
    if exps[0] > exps[1]:
        raise SearchSpaceError(f"{where}: low must be <= high, got {value!r}")
    return Pow2(path, condition, lo_exp=exps[0], hi_exp=exps[1])
