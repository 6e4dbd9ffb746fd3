"""Size calibration of inherited-weight rewards, inside the search budget. Imports torch.

On small search spaces a network's capacity predicts its standalone accuracy better than its
inherited-weight accuracy does (docs/notes/nas-oneshot.md: Kendall tau 0.41 for the parameter
count against 0.12-0.14 for SPOS/ENAS supernets). :class:`SizeCalibration` retrains a few
random cells from scratch (the search pays for them), then fits how their standalone
*validation* accuracy depends on their inherited accuracy and their size
(:func:`~hyperloom.plugins.nas._proxies.fit_size_calibration`); the single-path searches rank
by that score instead of the raw inherited accuracy. The test split is never used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from hyperloom.plugins.nas._data import Dataset
from hyperloom.plugins.nas._oneshot import evaluate_inherited, train_standalone
from hyperloom.plugins.nas._proxies import fit_size_calibration
from hyperloom.plugins.nas._supernet import Supernet

__all__ = ["SizeCalibration"]

SIZE_METRICS = ("params", "flops")


class SizeCalibration:
    """A score ``w_acc * inherited_acc + w_size * log(size)`` fitted on retrained random cells.

    Args:
        supernet: The supernet whose space the cells come from (its weights are not touched
            while the cells are retrained: they are built fresh).
        data: The training rows train the cells; their validation accuracy is the target.
        n_cells: Random cells retrained from scratch (at least 2; about 8 makes the fit usable).
        epochs: Their training epochs (Adam, cosine; ``train_standalone``).
        metric: ``"params"`` or ``"flops"``: the size in the score.
        seed: Draws the cells and seeds their training.
        lr, batch_size: Their training settings.
        ridge: The fit's penalty (see ``fit_size_calibration``).

    Attributes:
        archs, standalone, sizes: The cells, their standalone validation accuracy, their size.
        w_acc, w_size: The fitted weights (``w_acc = 1, w_size = 0`` before :meth:`fit`).
        cpu_seconds: Process CPU time spent retraining the cells.
    """

    def __init__(
        self,
        supernet: Supernet,
        data: Dataset,
        *,
        n_cells: int = 8,
        epochs: int = 4,
        metric: str = "params",
        seed: int = 0,
        lr: float = 3e-3,
        batch_size: int = 64,
        ridge: float = 0.1,
    ) -> None:
        if n_cells < 2:
            raise ValueError(f"SizeCalibration needs at least 2 cells, got n_cells={n_cells}")
        if metric not in SIZE_METRICS:
            raise ValueError(f"metric must be one of {SIZE_METRICS}, got {metric!r}")
        self.supernet = supernet
        self.metric = metric
        self.ridge = ridge
        self._sizes: dict[tuple[tuple[str, Any], ...], float] = {}
        rng = np.random.default_rng(seed + 4243)
        self.archs = [supernet.sample(rng) for _ in range(n_cells)]
        c0 = time.process_time()
        state = torch.get_rng_state()
        self.standalone: list[float] = []
        for i, arch in enumerate(self.archs):
            torch.manual_seed(seed + 31 * i)
            net = supernet.extract(arch, inherit=False)
            scores = train_standalone(
                net, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed + 31 * i
            )
            self.standalone.append(float(scores["val_acc"]))
        self.sizes = [self.size(a) for a in self.archs]
        torch.set_rng_state(state)  # building the cells must not shift the caller's draws
        self.cpu_seconds = time.process_time() - c0
        self.w_acc, self.w_size = 1.0, 0.0
        self.inherited: list[float] = []

    def size(self, arch: Mapping[str, Any]) -> float:
        """The architecture's parameter count or FLOPs (cached)."""
        key = tuple(sorted((k, v) for k, v in arch.items()))
        if key not in self._sizes:
            net = self.supernet.extract(arch, inherit=False)
            self._sizes[key] = float(
                net.num_parameters() if self.metric == "params" else net.flops()
            )
        return self._sizes[key]

    def fit(self, data: Dataset, *, n_val: int | None = 500, bn_batches: int = 2) -> None:
        """Evaluates the cells with the supernet's current weights and fits the score."""
        self.inherited = [
            evaluate_inherited(self.supernet, a, data, n_val=n_val, bn_batches=bn_batches)
            for a in self.archs
        ]
        self.w_acc, self.w_size = fit_size_calibration(
            self.inherited, self.standalone, self.sizes, ridge=self.ridge
        )

    def score(self, arch: Mapping[str, Any], acc: float) -> float:
        """The calibrated reward of an architecture with inherited accuracy ``acc``."""
        return float(self.w_acc * acc + self.w_size * np.log(self.size(arch)))

    def scores(self, archs: Sequence[Mapping[str, Any]], accs: Sequence[float]) -> list[float]:
        """:meth:`score` for several architectures."""
        return [self.score(a, x) for a, x in zip(archs, accs, strict=True)]

    def as_dict(self) -> dict[str, Any]:
        """What :attr:`SearchResult.calibration` records."""
        return {
            "w_acc": self.w_acc, "w_size": self.w_size, "metric": self.metric,
            "archs": [dict(a) for a in self.archs], "standalone": list(self.standalone),
            "inherited": list(self.inherited), "sizes": list(self.sizes),
            "cpu_seconds": self.cpu_seconds,
        }  # fmt: skip

    def describe(self) -> str:
        """One line for the search notes."""
        return (
            f"size calibration on {len(self.archs)} retrained cells "
            f"({self.cpu_seconds:.0f} CPU s): score = {self.w_acc:.3f} * acc + "
            f"{self.w_size:.4f} * log({self.metric})"
        )
