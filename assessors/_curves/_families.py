"""Parametric learning-curve families, each written as ``y = c + a * h(x; theta)``.

Every family is a basis function ``h`` that increases with the step ``x`` (1, 2, ...), a grid over
its nonlinear parameters ``theta``, and linear coefficients ``c`` (an offset, absent for ``vap``)
and ``a >= 0``. Written this way, the families of Domhan, Springenberg & Hutter (IJCAI 2015) fall
into eight distinct shapes:

====================  ==============================================  ===========================
family                 curve                                           also covers
====================  ==============================================  ===========================
``pow3``               c − a·x^(−α)
``pow4``               c − a·(x + d)^(−α)
``mmf``                c + a / (1 + (x50/x)^δ)                         log-power, Hill (with an
                                                                       offset), MMF
``weibull``            c − a·exp(−(x/λ)^δ)                             Janoschek, exp4
``vap``                a·exp(b/x + c·ln x)   (b <= 0, c >= 0)          vapor pressure
``ilog2``              c − a / ln(x + 1)
``linear``             c + a·x
``logx_linear``        c + a·ln x
====================  ==============================================  ===========================

MMF, log-power and Hill with a background term are the same logistic curve in ``ln x`` under a
change of parameters, and so are Weibull, Janoschek and exp4 (a stretched exponential): fitted by
least squares they give identical curves, so each set is fitted once (listing it three times
would only triple its weight in the ensemble). The grids scale with the horizon ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "Family", "basis_tables"]


@dataclass(frozen=True)
class Family:
    """One family's basis over a grid: ``table[i, x - 1] = h(x; theta_i)`` for x = 1..N.

    Attributes:
        name: Family name.
        table: (grid size, N) basis values.
        offset: Whether the family has a free offset ``c`` (two linear coefficients) or not (one).
    """

    name: str
    table: np.ndarray
    offset: bool


def _grid2(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = np.meshgrid(a, b, indexing="ij")
    return ga.reshape(-1, 1), gb.reshape(-1, 1)


def basis_tables(horizon: int, length: int) -> list[Family]:
    """The basis tables of all families for steps 1..``length``, grids scaled to ``horizon``."""
    t = float(max(horizon, 2))
    x = np.arange(1, length + 1, dtype=float)[None, :]
    fams: list[Family] = []

    fams.append(Family("linear", x / t, True))
    fams.append(Family("logx_linear", np.log(x), True))
    fams.append(Family("ilog2", -1.0 / np.log(x + 1.0), True))

    alpha = np.geomspace(0.05, 4.0, 32)[:, None]
    fams.append(Family("pow3", -(x**-alpha), True))

    d, alpha = _grid2(np.geomspace(0.5, 2 * t, 12), np.geomspace(0.1, 6.0, 16))
    fams.append(Family("pow4", -(((x + d) / (1.0 + d)) ** -alpha), True))

    x50, delta = _grid2(np.geomspace(0.3, 4 * t, 24), np.geomspace(0.25, 4.0, 17))
    fams.append(Family("mmf", 1.0 / (1.0 + (x50 / x) ** delta), True))

    lam, delta = _grid2(np.geomspace(0.3, 4 * t, 48), np.geomspace(0.25, 4.0, 17))
    fams.append(Family("weibull", -np.exp(-((x / lam) ** delta)), True))

    b, c = _grid2(
        -np.concatenate([[0.0], np.geomspace(0.01, t, 12)]),
        np.concatenate([[0.0], np.geomspace(0.005, 1.0, 11)]),
    )
    with np.errstate(over="ignore"):
        vap = np.exp(b / x + c * np.log(x))
    fams.append(Family("vap", vap / vap[:, -1:], False))
    return fams


FAMILIES = ("linear", "logx_linear", "ilog2", "pow3", "pow4", "mmf", "weibull", "vap")
