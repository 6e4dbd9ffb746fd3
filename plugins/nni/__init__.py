"""Run NNI's tuners and assessors (built-in or your own subclasses) under hyperloom.

Needs the ``nni`` extra (``pip install 'hyperloom[nni]'``); nni is imported only when an adapter
is built. Registered as the tuner ``nni`` and the assessor ``nni``::

    tuner:
      name: nni
      classArgs: {builtin: TPE, class_args: {tpe_args: {n_startup_jobs: 5}}}
    assessor:
      name: nni
      classArgs: {class_name: my_assessor.MyAssessor, code_directory: ., class_args: {}}

NNI v2 configs that name an algorithm with no native equivalent, or a ``className`` written
against nni, are translated to these adapters automatically (:mod:`hyperloom.nni_config`).
"""

from __future__ import annotations

from ._assessor import NNIAssessor
from ._tuner import NNITuner

__all__ = ["NNIAssessor", "NNITuner"]
