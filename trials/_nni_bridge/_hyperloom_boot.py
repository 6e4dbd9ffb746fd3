"""Makes ``hyperloom.trials`` importable in a trial whose interpreter lacks hyperloom.

hyperloom puts this folder on the trial's PYTHONPATH (only for trials that use NNI's API) and
names its own sources in ``HYPERLOOM_CORE_SRC`` and ``HYPERLOOM_TRIALS_SRC``. ``hyperloom.trials``
needs the standard library only, so it can be loaded from there into any Python 3.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def ensure_trials() -> None:
    """Imports ``hyperloom.trials``, from hyperloom's sources when it is not installed."""
    try:
        import hyperloom.trials  # noqa: F401

        return
    except ImportError:
        for name in ("hyperloom.trials", "hyperloom"):
            sys.modules.pop(name, None)
    folders = (
        ("hyperloom", os.environ.get("HYPERLOOM_CORE_SRC")),
        ("hyperloom.trials", os.environ.get("HYPERLOOM_TRIALS_SRC")),
    )
    for name, folder in folders:
        if not folder:
            raise ImportError(
                f"{name} is not importable here and HYPERLOOM_CORE_SRC / HYPERLOOM_TRIALS_SRC are "
                f"not set; install hyperloom in the trial's environment"
            )
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {name} from {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    sys.modules["hyperloom"].trials = sys.modules["hyperloom.trials"]  # type: ignore[attr-defined]
