"""The GPU device pool: detection (NVML, ``nvidia-smi``, fake devices) and per-trial leases.

NNI's semantics: ``trialGpuNumber`` (unset: no GPU scheduling; 0: no GPU), ``gpuIndices``,
``maxTrialNumberPerGpu`` (slots per device) and ``useActiveGpu``. A request for every GPU of the
machine works; one that can never be satisfied fails at config check; a trial that must wait
never stalls the manager (:meth:`DevicePool.try_acquire` never blocks).
"""

from __future__ import annotations

from hyperloom.devices._detect import (
    ACTIVE_MEMORY_MB,
    FAKE_ENV,
    FakeSpec,
    GpuDevice,
    detect_devices,
    filter_visible,
    parse_fake,
    parse_visible_devices,
)
from hyperloom.devices._pool import DevicePool
from hyperloom.devices._usage import describe as describe_usage
from hyperloom.devices._usage import summarize as summarize_usage

__all__ = [
    "ACTIVE_MEMORY_MB",
    "FAKE_ENV",
    "DevicePool",
    "FakeSpec",
    "GpuDevice",
    "describe_usage",
    "detect_devices",
    "filter_visible",
    "parse_fake",
    "parse_visible_devices",
    "summarize_usage",
]
