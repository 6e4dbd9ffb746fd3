"""Learning-curve extrapolation for the curve-fitting assessor (private)."""

from hyperloom.assessors._curves._ensemble import CurveEnsemble, Prediction
from hyperloom.assessors._curves._families import FAMILIES

__all__ = ["FAMILIES", "CurveEnsemble", "Prediction"]
