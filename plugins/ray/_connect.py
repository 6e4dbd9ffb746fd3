"""Reaching the Ray cluster: a quick TCP probe, ``ray.init``, and the resource check."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from hyperloom.errors import ConfigError, HyperloomError

__all__ = ["check_fits", "check_same_cluster", "connect", "probe"]


def probe(address: str, timeout: float) -> None:
    """A TCP connection to ``host:port`` within ``connectTimeout`` (ray.init may retry long)."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"trainingService.address {address!r} is not 'auto', 'host:port' or 'ray://host:port'"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise HyperloomError(
            f"cannot reach the Ray cluster at {address} (trainingService.address): "
            f"{exc.strerror or exc}. Start it with `ray start --head --port={port}` on {host}, "
            "or fix the address"
        ) from exc


def check_same_cluster(ray: Any, address: str | None) -> None:
    """This process is connected already (the user's own ``ray.init``): it must be there."""
    if address is None or address == "auto" or "://" in address:
        return
    connected = str(ray.get_runtime_context().gcs_address or "")
    if connected.rpartition(":")[2] != address.rpartition(":")[2]:
        raise HyperloomError(
            f"this process is connected to the Ray cluster at {connected}, but "
            f"trainingService.address is {address}: call ray.shutdown() first, or "
            "leave the address out to use the connected cluster"
        )


def connect(ray: Any, address: str | None) -> None:
    """``ray.init`` quietly: the given cluster, or a local instance without a dashboard."""
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        kwargs["include_dashboard"] = False
    else:
        kwargs["address"] = address
    ray.init(**kwargs)


def check_fits(ray: Any, actor_opts: Mapping[str, Any]) -> None:
    """`ConfigError` when no alive node has the resources of one trial."""
    want = {"CPU": actor_opts["num_cpus"], "GPU": actor_opts["num_gpus"]}
    if "memory" in actor_opts:
        want["memory"] = actor_opts["memory"]
    want.update(actor_opts.get("resources", {}))
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    for node in nodes:
        have = node.get("Resources", {})
        if all(have.get(k, 0.0) >= v for k, v in want.items() if v > 0):
            return
    shown = {k: v for k, v in want.items() if v > 0}
    largest = [n.get("Resources", {}) for n in nodes]
    summary = "; ".join(
        ", ".join(f"{k}={v:g}" for k, v in sorted(r.items()) if k in want) or "nothing"
        for r in largest
    )
    raise ConfigError(
        f"no node of the Ray cluster has the resources one trial asks for "
        f"(trainingService.resourcesPerTrial = {shown}); nodes have: {summary or 'no live node'}. "
        "Lower resourcesPerTrial, add nodes, or set checkResources: false for an autoscaling cluster"
    )
