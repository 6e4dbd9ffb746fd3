"""Options of the Ray executor: ``resourcesPerTrial``, sizes, exit reasons; importing ray."""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping
from typing import Any

from hyperloom.errors import ConfigError, MissingDependencyError

__all__ = ["exit_reason", "import_ray", "parse_bytes", "parse_resources", "short"]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}  # fmt: skip


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray", "The ray executor") from exc
    return ray


def parse_bytes(value: Any, where: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return int(value)
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(value))
    if m and m.group(2).lower() in _UNITS:
        return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    raise ConfigError(f"{where} must be a size in bytes or like '4GiB', got {value!r}")


def parse_resources(raw: Any) -> dict[str, Any]:
    """``resourcesPerTrial`` → Ray actor options (num_cpus, num_gpus, memory, resources)."""
    where = "trainingService.resourcesPerTrial"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping like {{cpu: 1, gpu: 1}}, got {raw!r}")
    out: dict[str, Any] = {"num_cpus": 1.0, "num_gpus": 0.0}
    custom: dict[str, float] = {}
    for key, value in raw.items():
        k = str(key).lower()
        if k == "memory":
            out["memory"] = parse_bytes(value, f"{where}.memory")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}.{key} must be a number >= 0, got {value!r}")
        if k in ("cpu", "cpus", "num_cpus"):
            out["num_cpus"] = float(value)
        elif k in ("gpu", "gpus", "num_gpus"):
            out["num_gpus"] = float(value)
        else:
            custom[str(key)] = float(value)
    if custom:
        out["resources"] = custom
    return out


def exit_reason(code: int | None, killed: bool, stderr: bytes) -> str | None:
    if code is None:
        return "killed by hyperloom" if killed else "the trial's exit code is unknown"
    if code == 0:
        return None
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (" (killed by hyperloom)" if killed else "")
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return f"exit code {code}: {lines[-1][:300]}" if lines else f"exit code {code}"


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = next((ln.strip() for ln in text if ln.strip()), type(exc).__name__)
    return first[:200]
