"""The ``import://`` target of ``NNI_TRIAL_COMMAND_CHANNEL`` in hyperloom trials.

Its name is unique so that it can sit on a trial's PYTHONPATH without shadowing anything.
"""

from _hyperloom_boot import ensure_trials

ensure_trials()

from hyperloom.trials.nni_channel import HyperloomChannel  # noqa: E402

__all__ = ["HyperloomChannel"]
