"""Assessors: the ``Assessor`` contract and the built-in early-stopping rules.

Built-ins are registered under the entry-point group ``hyperloom.assessors``.
"""

from hyperloom.assessors._base import Assessor, Verdict

__all__ = ["Assessor", "Verdict"]
