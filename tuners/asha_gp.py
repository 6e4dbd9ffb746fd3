"""Model-based ASHA: asynchronous successive halving with the ``gp`` tuner as its searcher.

The scheduling is :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`'s with one bracket by
default (Syne Tune's comparison found single-bracket asynchronous methods best), the searcher a
Gaussian process per resource level: the ``gp`` tuner (ARD Matérn-5/2, log expected
improvement), composed through its public ``suggest``/``observe`` API and taught the loss of every
trial that reached the level, finished, paused or stopped. A new configuration comes from the GP
of the highest level with at least ``min_points`` values (the default is bohb's:
``max(2 (d + 1), ceil((d + 1) / 0.15))``, see :class:`~hyperloom.tuners.bohb.LevelModelScheduler`);
trials running
or paused below that level are its pending points (the GP's constant liar).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hyperloom.space import SearchSpace
from hyperloom.tuners._common import BaseTuner
from hyperloom.tuners._scheduler_options import ASHAGPOptions, SchedulerOptions
from hyperloom.tuners.bohb import LevelModelScheduler

__all__ = ["ASHAGPScheduler"]


class ASHAGPScheduler(LevelModelScheduler):
    """ASHA (or Hyperband, with ``brackets``) whose new configurations come from a GP.

    Args:
        space, mode, seed: As :class:`~hyperloom.tuners.hyperband.HyperbandScheduler`.
        **options: :class:`~hyperloom.tuners._scheduler_options.ASHAGPOptions`: the scheduling
            options (``brackets`` 1: ASHA), ``min_points`` (None: see
            :class:`~hyperloom.tuners.bohb.LevelModelScheduler`), ``random_fraction`` (0.1),
            ``n_candidates`` (128 random points the acquisition scores), ``n_restarts`` (2
            L-BFGS-B starts), ``max_points`` (100: the most observations one level's GP is
            fitted to, which keeps suggestions fast).
    """

    name = "asha_gp"
    options_type: ClassVar[type[SchedulerOptions]] = ASHAGPOptions
    #: one GP suggestion per new trial: a second costs another acquisition optimisation, and
    #: the GP's own pending points already spread its suggestions
    novelty_tries = 1

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed, **options)
        opts = self.options
        assert isinstance(opts, ASHAGPOptions)
        self.n_candidates = opts.n_candidates
        self.n_restarts = opts.n_restarts
        self.max_points = opts.max_points

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
