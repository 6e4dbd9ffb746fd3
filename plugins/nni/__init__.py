"""Run NNI's tuners and assessors (built-in or your own subclasses) under hyperloom.

Needs the ``nni`` extra (``pip install 'hyperloom[nni]'``); nni is imported only when an adapter
is built. Registered as the tuner ``nni`` and the assessor ``nni``::

    tuner:
      name: nni
      classArgs: {builtin: TPE, class_args: {tpe_args: {n_startup_jobs: 5}}}
    assessor:
      name: nni
      codeDirectory: .          # where class_name is imported from (given to the adapter)
      classArgs: {class_name: my_assessor.MyAssessor, class_args: {}}

Configs that name an algorithm with no native equivalent, or a ``className`` whose class
derives from ``nni.tuner.Tuner`` / ``nni.assessor.Assessor`` (decided by importing it and
walking its base classes, so a class re-exported from a package's ``__init__.py`` counts), are
translated to these adapters automatically (:mod:`hyperloom.nni_config`).
"""

from __future__ import annotations

from ._assessor import NNIAssessor
from ._tuner import NNITuner

__all__ = ["NNIAssessor", "NNITuner"]
