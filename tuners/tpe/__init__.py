"""TPE: the Tree-structured Parzen Estimator tuner (registered as ``tpe``)."""

from hyperloom.tuners.tpe._tuner import TPETuner

__all__ = ["TPETuner"]
