"""Tuners: the ``Tuner`` contract and the built-in search algorithms.

Built-ins are registered under the entry-point group ``hyperloom.tuners``; load one by name with
:func:`hyperloom.load_tuner`.
"""

from hyperloom.tuners._base import Tuner, check_mode

__all__ = ["Tuner", "check_mode"]
