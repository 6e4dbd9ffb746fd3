"""Gaussian-process Bayesian optimisation (registered as ``gp``)."""

from hyperloom.tuners.gp._tuner import GPTuner

__all__ = ["GPTuner"]
