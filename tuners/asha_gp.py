"""Model-based ASHA: asynchronous successive halving with the ``gp`` tuner as its searcher.

The scheduling is :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`'s with one bracket by
default (Syne Tune's comparison found single-bracket asynchronous methods best), the searcher a
Gaussian process per resource level: the ``gp`` tuner (ARD Matérn-5/2, log expected
improvement), composed through its public ``suggest``/``observe`` API and taught the loss of every
trial that reached the level, finished, paused or stopped. A new configuration comes from the GP
of the highest level with at least ``min_points`` values (``d + 1`` by default); trials running
or paused below that level are its pending points (the GP's constant liar).
"""

from __future__ import annotations

from hyperloom.errors import PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._common import BaseTuner
from hyperloom.tuners.bohb import LevelModelScheduler

__all__ = ["ASHAGPScheduler"]


class ASHAGPScheduler(LevelModelScheduler):
    """ASHA (or Hyperband, with ``brackets``) whose new configurations come from a GP.

    Args:
        space, mode, seed, min_resource, max_resource, reduction_factor, type, resource,
        min_points, random_fraction: As
            :class:`~hyperloom.tuners.bohb.LevelModelScheduler`.
        brackets: Hyperband brackets (default 1: ASHA).
        random_fraction: Share of new configurations drawn at random (default 0.1).
        n_candidates: Random points the GP's acquisition scores per suggestion.
        n_restarts: L-BFGS-B starts of the acquisition (fewer: faster suggestions).
        max_points: Most observations one level's GP is fitted to (keeps suggestions fast).
    """

    name = "asha_gp"

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        min_resource: float = 1,
        max_resource: float = 81,
        reduction_factor: int = 3,
        brackets: int | None = 1,
        type: str = "stopping",
        resource: str | None = None,
        min_points: int | None = None,
        random_fraction: float = 0.1,
        n_candidates: int = 128,
        n_restarts: int = 2,
        max_points: int = 100,
    ) -> None:
        for name, value, low in (
            ("n_candidates", n_candidates, 1),
            ("n_restarts", n_restarts, 1),
            ("max_points", max_points, 10),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise PluginError(
                    f"asha_gp: {name} must be an integer >= {low}, got {value!r}; "
                    f"fix classArgs.{name}"
                )
        self.n_candidates = n_candidates
        self.n_restarts = n_restarts
        self.max_points = max_points
        super().__init__(
            space,
            mode=mode,
            seed=seed,
            min_resource=min_resource,
            max_resource=max_resource,
            reduction_factor=reduction_factor,
            brackets=brackets,
            type=type,
            resource=resource,
            min_points=min_points,
            random_fraction=random_fraction,
        )

    def _make_model(self, level: float) -> BaseTuner:
        from hyperloom.tuners.gp import GPTuner

        seed = int(self._entropy + 7919 * int(level * 1000)) % (1 << 63)
        return GPTuner(
            self.space,
            mode="minimize",
            seed=seed,
            n_startup=1,
            n_candidates=self.n_candidates,
            n_restarts=self.n_restarts,
            max_points=self.max_points,
        )
