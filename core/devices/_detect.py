"""Device detection: fake devices, NVML, ``nvidia-smi``, each read as a list of probes.

A probe is one device plus the compute processes on it, so that detection (``detect_devices``)
and per-trial sampling (``DevicePool.sample_usage``) share one reader per backend.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hyperloom.errors import ConfigError

__all__ = [
    "ACTIVE_MEMORY_MB",
    "FAKE_ENV",
    "FakeSpec",
    "GpuDevice",
    "Probe",
    "detect_devices",
    "filter_visible",
    "parse_fake",
    "parse_visible_devices",
    "probe",
]

logger = logging.getLogger(__name__)

FAKE_ENV = "HYPERLOOM_FAKE_GPUS"
ACTIVE_MEMORY_MB = 1024
"""A device with more memory in use than this (MiB) counts as active (in use by someone else)."""

_FAKE_TOTAL_MB = 16384
_FAKE_KEYS = frozenset(
    {"index", "uuid", "name", "memory_total_mb", "memory_used_mb", "utilization", "active"}
)
_SMI_TIMEOUT_S = 10.0

FakeSpec = int | str | Sequence[Mapping[str, Any]] | None
"""``N``, ``"N"`` / ``"N:active=0,2"`` (the environment form), or a list of device dicts."""


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as seen when it was detected.

    Attributes:
        index: NVML index, which is the PCI bus order (trials get ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
            so that CUDA numbers devices the same way).
        uuid: ``GPU-...`` identifier.
        name: product name.
        memory_total_mb: total memory in MiB.
        memory_used_mb: memory in use in MiB.
        utilization: GPU core utilisation in percent (0-100).
        active: in use by someone else: it runs compute processes, or more than
            ``ACTIVE_MEMORY_MB`` of its memory is in use.
        fake: simulated (``HYPERLOOM_FAKE_GPUS`` or the config's ``fakeGpus``).
        compute_pids: pids of the compute processes seen on it (empty for fake devices).
    """

    index: int
    uuid: str
    name: str
    memory_total_mb: int
    memory_used_mb: int
    utilization: float
    active: bool
    fake: bool
    compute_pids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "index": self.index,
            "uuid": self.uuid,
            "name": self.name,
            "memory_total_mb": self.memory_total_mb,
            "memory_used_mb": self.memory_used_mb,
            "utilization": self.utilization,
            "active": self.active,
            "fake": self.fake,
            "compute_pids": list(self.compute_pids),
        }


@dataclass(frozen=True)
class Probe:
    """A device and, per compute process on it, its memory (MiB) and, where known, utilisation."""

    device: GpuDevice
    proc_memory_mb: Mapping[int, float] = field(default_factory=dict)
    proc_utilization: Mapping[int, float] = field(default_factory=dict)


def _is_active(used_mb: int, pids: Iterable[int]) -> bool:
    return bool(tuple(pids)) or used_mb > ACTIVE_MEMORY_MB


# --------------------------------------------------------------------------- fake devices


def _fake_device(index: int, **kw: Any) -> GpuDevice:
    used = int(kw.get("memory_used_mb", 0))
    return GpuDevice(
        index=index,
        uuid=str(kw.get("uuid", f"GPU-fa4e0000-0000-4000-8000-{index:012d}")),
        name=str(kw.get("name", "Fake GPU")),
        memory_total_mb=int(kw.get("memory_total_mb", _FAKE_TOTAL_MB)),
        memory_used_mb=used,
        utilization=float(kw.get("utilization", 0.0)),
        active=bool(kw["active"]) if "active" in kw else used > ACTIVE_MEMORY_MB,
        fake=True,
    )


def _parse_fake_str(text: str, where: str) -> list[GpuDevice]:
    head, _, tail = text.strip().partition(":")
    try:
        n = int(head)
        active: set[int] = set()
        for part in filter(None, (p.strip() for p in tail.split(";"))):
            key, _, value = part.partition("=")
            if key.strip() != "active":
                raise ValueError(key)
            active |= {int(v) for v in value.split(",") if v.strip()}
    except ValueError:
        raise ConfigError(
            f"{where}: {text!r} is not a fake-GPU spec; write N or N:active=I,J "
            f"(e.g. '4' or '4:active=0,2')"
        ) from None
    if n < 0 or not active <= set(range(n)):
        raise ConfigError(f"{where}: {text!r} needs N >= 0 and active indices below N")
    return [_fake_device(i, active=i in active) for i in range(n)]


def parse_fake(spec: FakeSpec, where: str = "trainingService.fakeGpus") -> list[GpuDevice] | None:
    """Fake devices from a spec; ``None`` when the spec is ``None``.

    Args:
        spec: ``N`` or ``"N"`` (N idle devices), ``"N:active=0,2"`` (devices 0 and 2 are active),
            or a list of dicts with any of ``index, uuid, name, memory_total_mb, memory_used_mb,
            utilization, active`` (``active`` defaults to ``memory_used_mb > ACTIVE_MEMORY_MB``).
        where: the config key or variable named in error messages.

    Raises:
        ConfigError: the spec is malformed.
    """
    if spec is None:
        return None
    if isinstance(spec, bool):
        raise ConfigError(f"{where}: expected a number of devices or a list, got {spec!r}")
    if isinstance(spec, int):
        return _parse_fake_str(str(spec), where)
    if isinstance(spec, str):
        return _parse_fake_str(spec, where)
    devices: list[GpuDevice] = []
    for pos, item in enumerate(spec):
        if not isinstance(item, Mapping) or not set(item) <= _FAKE_KEYS:
            raise ConfigError(
                f"{where}[{pos}]: expected a dict with keys among {sorted(_FAKE_KEYS)}, "
                f"got {item!r}"
            )
        try:
            fields = {k: v for k, v in item.items() if k != "index"}
            devices.append(_fake_device(int(item.get("index", pos)), **fields))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}[{pos}]: bad value in {dict(item)!r} ({e})") from None
    if len({d.index for d in devices}) != len(devices):
        raise ConfigError(f"{where}: device indices repeat: {[d.index for d in devices]}")
    return devices


# --------------------------------------------------------------------------- NVML

_nvml_lock = threading.Lock()
_nvml_state: dict[str, Any] = {}


def _nvml() -> Any | None:
    """The initialised ``pynvml`` module, or ``None`` when NVML cannot be used here."""
    with _nvml_lock:
        if "module" not in _nvml_state:
            try:
                import pynvml

                pynvml.nvmlInit()
                _nvml_state["module"] = pynvml
            except Exception as e:  # ImportError, NVMLError (no driver, no library)
                logger.debug("NVML unavailable: %s", e)
                _nvml_state["module"] = None
        return _nvml_state["module"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _probe_nvml(nv: Any, sample_since: int | None) -> list[Probe]:
    probes = []
    for i in range(nv.nvmlDeviceGetCount()):
        h = nv.nvmlDeviceGetHandleByIndex(i)
        mem = nv.nvmlDeviceGetMemoryInfo(h)
        try:
            util = float(nv.nvmlDeviceGetUtilizationRates(h).gpu)
        except nv.NVMLError:
            util = 0.0
        try:
            procs = nv.nvmlDeviceGetComputeRunningProcesses(h)
        except nv.NVMLError:
            procs = []
        proc_mem = {
            int(p.pid): (p.usedGpuMemory or 0) / 2**20 if isinstance(p.usedGpuMemory, int) else 0.0
            for p in procs
        }
        proc_util: dict[int, float] = {}
        if sample_since is not None and proc_mem:
            try:
                for s in nv.nvmlDeviceGetProcessUtilization(h, sample_since):
                    proc_util[int(s.pid)] = float(s.smUtil)
            except nv.NVMLError:
                pass  # not supported on this device, or no sample yet
        used = int(mem.used // 2**20)
        dev = GpuDevice(
            index=i,
            uuid=_text(nv.nvmlDeviceGetUUID(h)),
            name=_text(nv.nvmlDeviceGetName(h)),
            memory_total_mb=int(mem.total // 2**20),
            memory_used_mb=used,
            utilization=util,
            active=_is_active(used, proc_mem),
            fake=False,
            compute_pids=tuple(sorted(proc_mem)),
        )
        probes.append(Probe(dev, proc_mem, proc_util))
    return probes


# --------------------------------------------------------------------------- nvidia-smi


def _smi_csv(exe: str, query: str) -> list[list[str]]:
    out = subprocess.run(
        [exe, f"--query-{query}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=_SMI_TIMEOUT_S,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    return [[c.strip() for c in row] for row in csv.reader(out.splitlines()) if row]


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return 0.0


def _probe_smi() -> list[Probe] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        gpus = _smi_csv(exe, "gpu=index,uuid,name,memory.total,memory.used,utilization.gpu")
        apps = _smi_csv(exe, "compute-apps=gpu_uuid,pid,used_memory")
    except (OSError, subprocess.SubprocessError) as e:
        logger.warning("nvidia-smi failed (%s); no GPU is used", e)
        return None
    by_uuid: dict[str, dict[int, float]] = {}
    for row in apps:
        if len(row) >= 3 and row[1].isdigit():
            by_uuid.setdefault(row[0], {})[int(row[1])] = _num(row[2])
    probes = []
    for row in gpus:
        if len(row) < 6 or not row[0].isdigit():
            continue
        procs = by_uuid.get(row[1], {})
        used = int(_num(row[4]))
        dev = GpuDevice(
            index=int(row[0]),
            uuid=row[1],
            name=row[2],
            memory_total_mb=int(_num(row[3])),
            memory_used_mb=used,
            utilization=_num(row[5]),
            active=_is_active(used, procs),
            fake=False,
            compute_pids=tuple(sorted(procs)),
        )
        probes.append(Probe(dev, procs))
    return probes


def probe(backend: str, sample_since: int | None = None) -> list[Probe]:
    """Reads every device of a real backend (``"nvml"`` or ``"nvidia-smi"``) now.

    Args:
        backend: which reader to use.
        sample_since: for NVML, a timestamp (microseconds) from which per-process utilisation
            samples are asked for; ``None`` skips them.

    Returns:
        One probe per device; empty when the backend fails.
    """
    if backend == "nvml":
        nv = _nvml()
        if nv is None:
            return []
        try:
            return _probe_nvml(nv, sample_since)
        except nv.NVMLError as e:
            logger.warning("NVML query failed: %s", e)
            return []
    return _probe_smi() or []


# --------------------------------------------------------------------------- visibility


def parse_visible_devices(value: str | None) -> list[str] | None:
    """The entries of a ``CUDA_VISIBLE_DEVICES`` value, as CUDA reads them.

    ``None`` (unset) means every device is visible. CUDA stops at the first invalid entry, so
    ``"0,-1,2"`` is ``["0"]`` and ``"-1"`` or ``""`` is ``[]``.
    """
    if value is None:
        return None
    entries = []
    for raw in value.split(","):
        tok = raw.strip()
        if tok.isdigit() or tok.startswith(("GPU-", "MIG-")):
            entries.append(tok)
        else:
            break
    return entries


def filter_visible(devices: Sequence[GpuDevice], visible: str | None) -> list[GpuDevice]:
    """``devices`` less those that a ``CUDA_VISIBLE_DEVICES`` value hides (indices or UUIDs).

    Indices are read as NVML (PCI bus) indices. A UUID may be given by a unique prefix, as CUDA
    allows. MIG instances cannot be mapped to a whole device and are skipped with a warning.
    """
    entries = parse_visible_devices(visible)
    if entries is None:
        return list(devices)
    keep: set[int] = set()
    for tok in entries:
        if tok.isdigit():
            keep |= {d.index for d in devices if d.index == int(tok)}
        elif tok.startswith("GPU-"):
            hits = [d.index for d in devices if d.uuid.startswith(tok)]
            keep |= set(hits) if len(hits) == 1 else set()
        else:
            logger.warning(
                "CUDA_VISIBLE_DEVICES entry %s is a MIG instance; it is not scheduled", tok
            )
    return [d for d in devices if d.index in keep]


def _fake_from_env() -> list[GpuDevice] | None:
    text = os.environ.get(FAKE_ENV)
    if text is None or not text.strip():
        return None
    return parse_fake(text, where=FAKE_ENV)


def detect(fake: FakeSpec = None) -> tuple[str, list[GpuDevice]]:
    """Like :func:`detect_devices`, and also names the backend: fake, nvml, nvidia-smi or none."""
    devices = parse_fake(fake) if fake is not None else _fake_from_env()
    backend = "fake"
    if devices is None:
        backend = "nvml" if _nvml() is not None else "nvidia-smi"
        probes = probe(backend)
        if not probes and backend == "nvml":
            backend, probes = "nvidia-smi", probe("nvidia-smi")
        devices = [p.device for p in probes]
        if not devices:
            backend = "none"
    visible = filter_visible(devices, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if len(visible) < len(devices):
        logger.info(
            "CUDA_VISIBLE_DEVICES=%r leaves GPUs %s of %s",
            os.environ.get("CUDA_VISIBLE_DEVICES"),
            [d.index for d in visible],
            [d.index for d in devices],
        )
    return backend, visible


def detect_devices(*, fake: FakeSpec = None) -> list[GpuDevice]:
    """The GPUs this process may give to trials.

    Fake devices come first: ``fake`` (the config's ``trainingService.fakeGpus``), else the
    ``HYPERLOOM_FAKE_GPUS`` variable. Otherwise NVML (``nvidia-ml-py``), else
    ``nvidia-smi``, else none. The result is always intersected with this process's own
    ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs), fake devices included.

    Args:
        fake: a fake-device spec, see :func:`parse_fake`.

    Raises:
        ConfigError: a fake-device spec is malformed.
    """
    return detect(fake)[1]


def refreshed(device: GpuDevice, fresh: GpuDevice) -> GpuDevice:
    """``device`` with the live figures of a fresh reading of it."""
    return replace(
        device,
        memory_used_mb=fresh.memory_used_mb,
        utilization=fresh.utilization,
        active=fresh.active,
        compute_pids=fresh.compute_pids,
    )
