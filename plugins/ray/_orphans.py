"""Ending what a dead manager left on the cluster (``hyperloom stop`` without a manager).

The runners are detached, so they outlive a manager killed with SIGKILL and go on running their
trials. `end_runners` finds every runner of the experiment by its namespace (and by name, for
the trials the store still marks RUNNING), asks each to end its trial's process group, and drops
it. A trial whose runner is gone, but whose process may live on, is ended by a task pinned to its
node (the one ``node.json`` names), as the executor does when a runner dies under a live manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hyperloom.plugins.ray._options import short
from hyperloom.plugins.ray._runner import reap_group

__all__ = ["end_local_leftovers", "end_runners", "node_info"]

logger = logging.getLogger(__name__)

_REAP_TIMEOUT = 60.0  # seconds for a task pinned to a node (it may have to start a worker)


def node_info(experiment_dir: Path, trial_id: str) -> dict[str, Any]:
    """What the executor recorded in the manager's trial directory when the trial started."""
    path = Path(experiment_dir) / "trials" / trial_id / "node.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def end_local_leftovers(infos: Iterable[Mapping[str, Any]], grace: float) -> int:
    """Ends trial process groups left on this host by a Ray instance that was the manager's own
    (it ended with the manager; the trials, in their own sessions, may not have)."""
    host = socket.gethostname()
    ended = 0
    for info in infos:
        if info.get("host") == host and info.get("pid") and info.get("create_time"):
            pid = int(info["pid"])
            if reap_group(int(info.get("pgid") or pid), pid, float(info["create_time"]), grace):
                ended += 1
    return ended


async def end_runners(
    ray: Any, namespace: str, trial_ids: Iterable[str], experiment_dir: Path, grace: float
) -> int:
    """Ends every runner in ``namespace`` (and the trials of ``trial_ids`` whose runner is gone).

    Returns:
        How many trials were ended: runners that answered or were dropped, plus trials ended by
        a pinned task.
    """
    names = set(trial_ids)
    listed = await asyncio.to_thread(ray.util.list_named_actors, True)
    names |= {str(a["name"]) for a in listed if a.get("namespace") == namespace}
    results = await asyncio.gather(
        *(_end_one(ray, namespace, name, experiment_dir, grace) for name in sorted(names))
    )
    return sum(results)


async def _end_one(ray: Any, namespace: str, name: str, experiment_dir: Path, grace: float) -> int:
    try:
        actor = await asyncio.to_thread(ray.get_actor, name, namespace)
    except ValueError:
        actor = None
    if actor is not None:
        try:
            await asyncio.wait_for(actor.kill.remote(grace), grace + 15.0)
            ended = True
        except Exception as exc:  # dead, or never placed: drop it, then look for its process
            logger.info("runner %s/%s did not end its trial: %s", namespace, name, short(exc))
            ended = False
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)
        if ended:
            return 1
    return int(await _reap_on_node(ray, node_info(experiment_dir, name), grace))


async def _reap_on_node(ray: Any, info: Mapping[str, Any], grace: float) -> bool:
    if not info.get("pid") or not info.get("node_id") or not info.get("create_time"):
        return False
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        task = ray.remote(reap_group).options(
            num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(info["node_id"], soft=False),
            max_retries=0,
        )
        ref = task.remote(
            int(info.get("pgid") or info["pid"]), int(info["pid"]), info["create_time"], grace
        )
        return bool(await asyncio.wait_for(ref, _REAP_TIMEOUT))
    except Exception as exc:  # the node is gone too, and its processes with it
        logger.info("trial %s: cannot end it on its node: %s", info.get("trial_id"), short(exc))
        return False
