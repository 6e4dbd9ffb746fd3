"""Per-trial GPU usage samples: memory and utilisation of each running trial on its devices."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hyperloom.devices._detect import Probe, probe

if TYPE_CHECKING:
    from hyperloom.devices._pool import DevicePool

__all__ = ["describe", "sample", "summarize"]

logger = logging.getLogger(__name__)

_FIRST_WINDOW_US = 2_000_000


def _process_tree(pids: Iterable[int]) -> set[int]:
    """``pids`` and all their descendants (data loaders, ``torchrun`` workers, ...)."""
    out = set(pids)
    try:
        import psutil
    except ImportError:
        return out
    for pid in list(out):
        try:
            out |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.Error:
            continue
    return out


def _share(p: Probe, mine: list[int], sole: bool) -> tuple[float, float | None, str] | None:
    """(memory MiB, utilisation %, source) of one trial on one device, or None if unknown."""
    if mine:
        mem = sum(p.proc_memory_mb[pid] for pid in mine)
        utils = [p.proc_utilization[pid] for pid in mine if pid in p.proc_utilization]
        util = sum(utils) if utils else (p.device.utilization if sole else None)
        return mem, util, "process"
    if sole:  # its processes are not visible by pid (another pid namespace): the device is its
        return float(p.device.memory_used_mb), p.device.utilization, "device"
    return None


def sample(pool: DevicePool, pids_by_trial: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """Per-trial GPU usage of the trials that hold devices.

    Memory comes from NVML's per-process figures for the trial's whole process tree; when those
    pids are not visible (containers) and the trial is a device's only holder, the device's own
    figures are used (``source: "device"``). Fake devices report their configured utilisation
    and no memory (``source: "fake"``). The pool's device readings (for :meth:`snapshot`) are
    refreshed on the way.

    Args:
        pool: the pool.
        pids_by_trial: trial id to the pids the manager knows (the tree is expanded here).

    Returns:
        Trial id to ``{"devices": [...], "memory_mb": float | None, "utilization": float | None,
        "source": "process" | "device" | "fake"}``; trials holding no device are left out.
    """
    leases = {t: pool.lease(t) for t in pids_by_trial}
    held = {t: devs for t, devs in leases.items() if devs}
    if pool.backend in ("fake", "none"):
        devices = {d.index: d for d in pool.devices}
        return {
            t: {
                "devices": list(devs),
                "memory_mb": None,
                "utilization": sum(devices[i].utilization for i in devs if i in devices)
                / len(devs),
                "source": "fake",
            }
            for t, devs in held.items()
        }
    now_us = int(time.time() * 1e6)
    since = pool._sample_since or now_us - _FIRST_WINDOW_US
    pool._sample_since = now_us
    probes = {p.device.index: p for p in probe(pool.backend, sample_since=since)}
    pool._apply_readings({i: p.device for i, p in probes.items()})
    holders = pool.holders()
    owner = {
        pid: t for t, pids in pids_by_trial.items() if t in held for pid in _process_tree(pids)
    }
    out: dict[str, dict[str, Any]] = {}
    for t, devs in held.items():
        mem: float | None = None
        utils: list[float] = []
        sources: set[str] = set()
        for i in devs:
            p = probes.get(i)
            if p is None:
                continue
            mine = [pid for pid in p.proc_memory_mb if owner.get(pid) == t]
            share = _share(p, mine, holders.get(i) == [t])
            if share is None:
                continue
            mem = (mem or 0.0) + share[0]
            if share[1] is not None:
                utils.append(share[1])
            sources.add(share[2])
        out[t] = {
            "devices": list(devs),
            "memory_mb": mem,
            "utilization": sum(utils) / len(utils) if utils else None,
            "source": "device" if "device" in sources else "process",
        }
    return out


def summarize(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per trial, a summary of its stored ``gpu_sample`` events (for ``trials`` and the UI).

    Args:
        events: store events ``{trial_id, payload, ...}`` of kind ``gpu_sample``.

    Returns:
        Trial id to ``{"devices", "samples", "utilization_mean", "memory_peak_mb"}``
        (``None`` where no sample had the figure).
    """
    acc: dict[str, dict[str, Any]] = {}
    for ev in events:
        t, p = ev.get("trial_id"), ev.get("payload") or {}
        if not t:
            continue
        a = acc.setdefault(t, {"devices": [], "samples": 0, "utils": [], "mems": []})
        a["devices"] = list(p.get("devices") or a["devices"])
        a["samples"] += 1
        if isinstance(p.get("utilization"), int | float):
            a["utils"].append(float(p["utilization"]))
        if isinstance(p.get("memory_mb"), int | float):
            a["mems"].append(float(p["memory_mb"]))
    return {
        t: {
            "devices": a["devices"],
            "samples": a["samples"],
            "utilization_mean": sum(a["utils"]) / len(a["utils"]) if a["utils"] else None,
            "memory_peak_mb": max(a["mems"]) if a["mems"] else None,
        }
        for t, a in acc.items()
    }


def describe(summary: Mapping[str, Any]) -> str:
    """A short text for one trial's summary: ``GPU 0,1 · 83% · 2.1 GiB``."""
    parts = ["GPU " + ",".join(str(i) for i in summary.get("devices", []))]
    if summary.get("utilization_mean") is not None:
        parts.append(f"{summary['utilization_mean']:.0f}%")
    if summary.get("memory_peak_mb") is not None:
        parts.append(f"{summary['memory_peak_mb'] / 1024:.1f} GiB")
    return " · ".join(parts)
