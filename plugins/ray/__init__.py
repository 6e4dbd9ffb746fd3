"""Run trials on a Ray cluster: the ``ray`` executor (``trainingService.platform: ray``).

Each trial is still an isolated subprocess of the user's command; a small Ray actor per trial,
placed by Ray with ``trainingService.resourcesPerTrial``, starts it on a node, tails its channel
file there and relays what it reports to the manager. Ray itself is imported only when the
executor opens (``pip install 'hyperloom[ray]'``).
"""

from __future__ import annotations

from hyperloom.plugins.ray._executor import RayExecutor

__all__ = ["RayExecutor"]
