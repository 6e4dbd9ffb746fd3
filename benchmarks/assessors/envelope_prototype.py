"""Session-7 prototype of the survivor envelope (not a hyperloom assessor; kept to reproduce the
prototype figures in docs/notes/assessors.md, session 7).

``Envelope`` judges a trial by the share of ended trials (stopped ones count as worse) strictly
better than its best so far, against an allowed share learned from the best completed trials:
``gfrac``/``gmin`` pick them (the top ``max(gmin, ceil(gfrac * n))`` of ``n`` completed), the
allowed share at step ``s`` is their worst share at ``s`` or later (``mono``), times
``1 + mult``, plus ``margin``, plus ``(1 - worst) * prior / (k + 1)`` for ``k`` good trials.
``harsh=True`` uses it only to tighten the schedule ``p0 * s ** -pa`` once ``gneed`` good trials
are known (what became ``median_stop``'s ``envelope_*`` options); ``harsh=False`` uses it alone.
Any argument that is not a Python dict is a ``replay.py`` rule spec. Prints, per rule, the mean
over the datasets (of the median epochs over orders), the worst share of orders that kept the
best run, the mean top-5 kept ("*": admissible), then each dataset's cell.

Usage::

    .venv/bin/python benchmarks/assessors/envelope_prototype.py 3 median_stop \\
        "{'harsh': True, 'gmin': 10, 'margin': 0.1}" "{'gfrac': 0, 'gmin': 5, 'margin': 0.05}"
"""

from __future__ import annotations

import ast
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import DATASETS, Rule, load_curves, make_rule, replay, score


class Envelope(Rule):
    def __init__(
        self,
        startup: int = 4,
        gfrac: float = 0.2,
        gmin: int = 3,
        margin: float = 0.05,
        prior: float = 0.0,
        mult: float = 0.0,
        mono: bool = True,
        harsh: bool = False,
        gneed: int = 5,
        p0: float = 0.7,
        pa: float = 0.5,
    ) -> None:
        self.startup, self.gfrac, self.gmin, self.margin = startup, gfrac, gmin, margin
        self.prior, self.mult, self.mono, self.harsh = prior, mult, mono, harsh
        self.gneed, self.p0, self.pa = gneed, p0, pa
        self.best: list[np.ndarray] = []
        self.stopped: list[bool] = []
        self.final: list[float] = []
        self.full = 0
        self.allowed: np.ndarray | None = None

    def end(self, tid: int, history: list[float], stopped: bool) -> None:
        self.best.append(np.maximum.accumulate(np.array(history, dtype=float)))
        self.stopped.append(stopped)
        self.final.append(-math.inf if stopped else history[-1])
        if not stopped:
            self.full = max(self.full, len(history))
        self.allowed = None

    def _refs(self, t: int) -> np.ndarray:
        col = self.matrix[:, t - 1]
        n_worse = int((self.short < t).sum())
        return np.concatenate([col[np.isfinite(col)], np.full(n_worse, -np.inf)])

    def _build(self) -> np.ndarray:
        width = max(b.size for b in self.best)
        self.matrix = np.full((len(self.best), width), np.nan)
        for i, b in enumerate(self.best):
            self.matrix[i, : b.size] = b
        lengths = np.array([b.size for b in self.best])
        self.short = lengths[np.array(self.stopped)]
        done = sorted(
            (i for i, s in enumerate(self.stopped) if not s), key=lambda i: -self.final[i]
        )
        good = done[: max(self.gmin, math.ceil(self.gfrac * len(done)))]
        env = np.ones(width)
        for t in range(1, width + 1):
            refs = self._refs(t)
            shares = [(refs > self.matrix[g, t - 1]).mean() for g in good if t <= lengths[g]]
            if refs.size and shares:
                env[t - 1] = max(shares)
        if self.mono:
            env = np.maximum.accumulate(env[::-1])[::-1]
        k = len(good)
        allowed = env * (1 + self.mult) + (1 - env) * self.prior / (k + 1) + self.margin
        allowed = np.clip(allowed, 0.0, 1.0)
        if self.harsh:
            schedule = self.p0 * np.arange(1, width + 1.0) ** -self.pa
            allowed = np.minimum(schedule, allowed) if k >= self.gneed else schedule
        return allowed

    def report(self, tid: int, history: list[float]) -> bool:
        t = len(history)
        if len(self.best) < self.startup or t >= self.full:
            return False
        if self.allowed is None:
            self.allowed = self._build()
        if t > self.allowed.size:
            return False
        refs = self._refs(t)
        if refs.size < self.startup:
            return False
        return bool((refs > max(history)).mean() > self.allowed[t - 1])


def run(factory: Callable[[], Rule], orders: int) -> dict[str, tuple[float, float, float]]:
    out = {}
    for d in DATASETS:
        curves = load_curves(d)
        rows = []
        for s in range(orders):
            order = np.random.default_rng(s).permutation(len(curves))
            epochs, completed, _ = replay(curves, order, factory())
            rows.append(score(curves, completed, epochs, "maximize"))
        out[d.stem] = (
            statistics.median(r["epochs"] for r in rows),
            statistics.mean(r["best"] for r in rows),
            statistics.mean(r["top5"] for r in rows),
        )
    return out


def main() -> None:
    orders = int(sys.argv[1])
    for arg in sys.argv[2:]:
        if arg.startswith("{"):
            kwargs = ast.literal_eval(arg)
            out = run(lambda kw=kwargs: Envelope(**kw), orders)
        else:
            out = run(lambda spec=arg: make_rule(spec, "maximize"), orders)
        ep = statistics.mean(v[0] for v in out.values())
        best = min(v[1] for v in out.values())
        top5 = statistics.mean(v[2] for v in out.values())
        ok = "*" if best == 1 and top5 >= 4.5 else " "
        cells = " ".join(f"{v[0]:5.1%} {v[1]:.2f} {v[2]:.2f} |" for v in out.values())
        print(f"{arg:60s} {ep:6.1%} {best:4.0%} {top5:4.2f}{ok} | {cells}", flush=True)


if __name__ == "__main__":
    main()
