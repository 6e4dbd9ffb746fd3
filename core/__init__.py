"""hyperloom: hyperparameter optimization and neural architecture search over your own scripts.

The public API is re-exported here lazily, so ``import hyperloom`` stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported: `import hyperloom.trials` pays for this module

__version__ = "0.1.0"

_EXPORTS = {
    "SearchSpace": "hyperloom.space",
    "Parameter": "hyperloom.space",
    "register_parameter_type": "hyperloom.space",
    "TrialResult": "hyperloom.types",
    "TrialStatus": "hyperloom.types",
    "Verdict": "hyperloom.types",
    "HyperloomError": "hyperloom.errors",
    "ConfigError": "hyperloom.errors",
    "SearchSpaceError": "hyperloom.errors",
    "PluginError": "hyperloom.errors",
    "load_tuner": "hyperloom.registry",
    "load_assessor": "hyperloom.registry",
    "Config": "hyperloom.config",
    "Experiment": "hyperloom.experiment",
    "open_experiment": "hyperloom.experiment",
    "optimize": "hyperloom.optimize",
    "stop_experiment": "hyperloom._stop",
    "Tuner": "hyperloom.tuners",
    "Assessor": "hyperloom.assessors",
}

__all__ = [
    "Assessor",
    "Config",
    "ConfigError",
    "Experiment",
    "HyperloomError",
    "Parameter",
    "PluginError",
    "SearchSpace",
    "SearchSpaceError",
    "TrialResult",
    "TrialStatus",
    "Tuner",
    "Verdict",
    "__version__",
    "load_assessor",
    "load_tuner",
    "open_experiment",
    "optimize",
    "register_parameter_type",
    "stop_experiment",
]

if TYPE_CHECKING:
    from typing import Any

    from hyperloom._stop import stop_experiment
    from hyperloom.assessors import Assessor
    from hyperloom.config import Config
    from hyperloom.errors import ConfigError, HyperloomError, PluginError, SearchSpaceError
    from hyperloom.experiment import Experiment, open_experiment
    from hyperloom.optimize import optimize
    from hyperloom.registry import load_assessor, load_tuner
    from hyperloom.space import Parameter, SearchSpace, register_parameter_type
    from hyperloom.tuners import Tuner
    from hyperloom.types import TrialResult, TrialStatus, Verdict


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperloom' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
