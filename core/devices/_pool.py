"""The device pool: leases of device slots to trials, NNI's GPU semantics, never blocking."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hyperloom.devices._detect import FakeSpec, GpuDevice, detect, refreshed
from hyperloom.errors import ConfigError

__all__ = ["DevicePool"]

logger = logging.getLogger(__name__)


class DevicePool:
    """Gives each trial its GPUs: ``slots_per_device`` trials at most on each device.

    A trial that asks for ``n`` GPUs gets one slot on each of ``n`` distinct devices, the least
    loaded first. Nothing here blocks: :meth:`try_acquire` answers ``None`` when the trial must
    wait, and the manager asks again after a :meth:`release`. Every method is thread-safe
    (:meth:`sample_usage` runs in a worker thread).

    Call order: :meth:`from_config`, :meth:`claim` for every trial re-attached on resume, then
    :meth:`check_request` at config check, then :meth:`try_acquire` / :meth:`env_for` per trial
    start and :meth:`release` at every trial end (any end; it is idempotent).

    Args:
        devices: the devices of the pool (already restricted by ``CUDA_VISIBLE_DEVICES`` and
            ``gpuIndices``).
        slots_per_device: NNI's ``maxTrialNumberPerGpu``.
        use_active_gpu: NNI's ``useActiveGpu``. When false, devices that are in use by someone
            else (``GpuDevice.active``, refreshed while they hold no lease) get no new lease.
        backend: where the devices came from: ``fake``, ``nvml``, ``nvidia-smi`` or ``none``.
        detected: every device detected before ``gpuIndices`` applied (for messages).
    """

    def __init__(
        self,
        devices: Sequence[GpuDevice],
        slots_per_device: int = 1,
        *,
        use_active_gpu: bool = True,
        backend: str = "fake",
        detected: Sequence[GpuDevice] | None = None,
    ) -> None:
        if slots_per_device < 1:
            raise ConfigError(
                f"trainingService.maxTrialNumberPerGpu: must be 1 or more, got {slots_per_device}"
            )
        self.slots_per_device = slots_per_device
        self.use_active_gpu = use_active_gpu
        self.backend = backend
        self._devices = {d.index: d for d in sorted(devices, key=lambda d: d.index)}
        self._detected = list(detected) if detected is not None else list(devices)
        self._leases: dict[str, tuple[int, ...]] = {}
        self._load = dict.fromkeys(self._devices, 0)
        self._lock = threading.Lock()
        self._last_wait: str | None = None
        self._sample_since: int | None = None

    @classmethod
    def from_config(
        cls,
        *,
        trial_gpu_number: int | None,
        gpu_indices: Sequence[int] | None,
        max_trials_per_gpu: int,
        use_active_gpu: bool,
        fake: FakeSpec = None,
    ) -> DevicePool:
        """The pool for an experiment config (NNI field names in the messages).

        Devices are detected only when GPUs are scheduled (``trial_gpu_number`` > 0) or fake
        devices are given, so CPU-only experiments never touch NVML.

        Args:
            trial_gpu_number: ``trialGpuNumber``: ``None`` no GPU scheduling, 0 no GPU.
            gpu_indices: ``trainingService.gpuIndices``: the devices the pool may use.
            max_trials_per_gpu: ``trainingService.maxTrialNumberPerGpu``: slots per device.
            use_active_gpu: ``trainingService.useActiveGpu``.
            fake: ``trainingService.fakeGpus`` (see :func:`hyperloom.devices.parse_fake`).

        Raises:
            ConfigError: ``gpuIndices`` names a device that is not there, or a value is invalid.
        """
        backend = "none"
        detected: list[GpuDevice] = []
        if fake is not None or (trial_gpu_number or 0) > 0:
            backend, detected = detect(fake)
        devices = detected
        if gpu_indices is not None:
            wanted = list(gpu_indices)
            if not wanted or len(set(wanted)) != len(wanted) or min(wanted) < 0:
                raise ConfigError(
                    f"trainingService.gpuIndices: {wanted} must list distinct device indices "
                    f"(0 or more); leave it out to use every GPU"
                )
            have = {d.index for d in detected}
            missing = [i for i in wanted if i not in have]
            if missing and (trial_gpu_number or 0) > 0:
                raise ConfigError(
                    f"trainingService.gpuIndices: GPU {missing} not found; this machine "
                    f"offers {sorted(have) or 'no GPU'} ({_source(backend)}); "
                    f"use indices among those"
                )
            devices = [d for d in detected if d.index in wanted]
        pool = cls(
            devices,
            max_trials_per_gpu,
            use_active_gpu=use_active_gpu,
            backend=backend,
            detected=detected,
        )
        logger.info(
            "device pool: %s from %s, %d slot(s) each, useActiveGpu=%s",
            [d.index for d in devices],
            backend,
            max_trials_per_gpu,
            use_active_gpu,
        )
        return pool

    # ------------------------------------------------------------------ queries

    @property
    def devices(self) -> list[GpuDevice]:
        """The pool's devices, by index, with their latest readings."""
        with self._lock:
            return list(self._devices.values())

    def _blocked(self, index: int) -> bool:
        """True if the device is in use by someone else and may get no new lease."""
        return not self.use_active_gpu and self._devices[index].active

    def check_request(self, n: int | None) -> None:
        """Fails fast for a per-trial request that can never be satisfied.

        Args:
            n: ``trialGpuNumber``.

        Raises:
            ConfigError: ``n`` is negative, or more than the devices of the pool.
        """
        if n is None or n == 0:
            return
        if n < 0:
            raise ConfigError(f"trialGpuNumber: must be 0 or more, got {n}")
        with self._lock:
            total = len(self._devices)
            blocked = [i for i in self._devices if self._blocked(i)]
        if n > total:
            if total < len(self._detected):
                fix = "lower trialGpuNumber or widen trainingService.gpuIndices"
            elif total == 0:
                fix = (
                    "leave trialGpuNumber out to run without GPU scheduling, check the NVIDIA "
                    "driver and CUDA_VISIBLE_DEVICES, or set HYPERLOOM_FAKE_GPUS=N to simulate"
                )
            else:
                fix = "lower trialGpuNumber"
            raise ConfigError(
                f"trialGpuNumber: {n} GPU{'s' if n != 1 else ''} per trial can never be "
                f"satisfied: the pool has {total} ({self._describe()}); {fix}"
            )
        if n > total - len(blocked):
            logger.warning(
                "trialGpuNumber %d: GPU %s in use by other processes and useActiveGpu is false; "
                "trials wait until they are free (set trainingService.useActiveGpu: true to share)",
                n,
                blocked,
            )

    def _describe(self) -> str:
        seen = [d.index for d in self._detected]
        parts = [f"detected {seen or 'none'} via {_source(self.backend)}"]
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            parts.append(f"CUDA_VISIBLE_DEVICES={visible!r}")
        if len(self._devices) < len(self._detected):
            parts.append(f"gpuIndices keeps {list(self._devices)}")
        return ", ".join(parts)

    def holders(self) -> dict[int, list[str]]:
        """Device index to the trials that hold a slot on it (every device, maybe no trial)."""
        with self._lock:
            out: dict[int, list[str]] = {i: [] for i in self._devices}
            for trial_id, devs in self._leases.items():
                for i in devs:
                    out.setdefault(i, []).append(trial_id)
            return out

    def lease(self, trial_id: str) -> tuple[int, ...] | None:
        """The devices ``trial_id`` holds, or ``None`` when it holds none."""
        with self._lock:
            return self._leases.get(trial_id)

    def wait_reason(self, n: int | None) -> str | None:
        """Why a request of ``n`` GPUs cannot be leased now, or ``None`` if it can."""
        if not n:
            return None
        with self._lock:
            free = [i for i in self._devices if self._free(i)]
            if len(free) >= n:
                return None
            busy = [i for i in self._devices if self._load[i] >= self.slots_per_device]
            blocked = [i for i in self._devices if self._blocked(i) and i not in busy]
        why = f"needs {n} GPU(s), {len(free)} free"
        if busy:
            why += f"; GPU {busy} fully leased"
        if blocked:
            why += f"; GPU {blocked} in use by other processes (useActiveGpu is false)"
        return why

    def snapshot(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per device: its reading, slots, holders and whether it is usable."""
        holders = self.holders()
        with self._lock:
            out = []
            for i, d in self._devices.items():
                row = d.to_json()
                row.update(
                    slots=self.slots_per_device,
                    free_slots=max(0, self.slots_per_device - self._load[i]),
                    holders=holders.get(i, []),
                    usable=not self._blocked(i),
                    backend=self.backend,
                )
                out.append(row)
            return out

    # ------------------------------------------------------------------ leases

    def _free(self, index: int) -> bool:
        return self._load[index] < self.slots_per_device and not self._blocked(index)

    def try_acquire(self, trial_id: str, n: int | None) -> tuple[int, ...] | None:
        """Leases ``n`` devices to ``trial_id`` if they are free now; never blocks.

        Args:
            trial_id: the trial.
            n: ``trialGpuNumber``. ``None`` or 0 lease nothing and return ``()`` (see
                :meth:`env_for` for the difference).

        Returns:
            The leased device indices, sorted; ``None`` when the trial must wait. A trial that
            already holds a lease gets that lease back.
        """
        if not n:
            return ()
        with self._lock:
            held = self._leases.get(trial_id)
            if held is not None:
                return held
            free = [i for i in self._devices if self._free(i)]
            if len(free) < n:
                self._note_wait(trial_id, n, len(free))
                return None
            free.sort(
                key=lambda i: (
                    self._load[i],
                    self._devices[i].active,
                    self._devices[i].memory_used_mb,
                    i,
                )
            )
            devs = tuple(sorted(free[:n]))
            for i in devs:
                self._load[i] += 1
            self._leases[trial_id] = devs
            self._last_wait = None
        logger.debug("trial %s leases GPU %s", trial_id, devs)
        return devs

    def _note_wait(self, trial_id: str, n: int, free: int) -> None:
        blocked = [i for i in self._devices if self._blocked(i)]
        key = f"{n}:{free}:{blocked}"
        if key == self._last_wait:  # log a wait once per change, not at every poll
            return
        self._last_wait = key
        if blocked:  # the user may want to know: other processes keep these devices
            logger.info(
                "trial %s waits for %d GPU(s): %d free, GPU %s in use by other processes "
                "(useActiveGpu is false)",
                trial_id,
                n,
                free,
                blocked,
            )
        else:  # the ordinary case: every slot is leased
            logger.debug("trial %s waits for %d GPU(s); %d free now", trial_id, n, free)

    def env_for(self, devices: tuple[int, ...], n: int | None) -> dict[str, str]:
        """The environment a trial gets for its lease.

        ``n`` ``None``: ``{}`` (no GPU scheduling, ``CUDA_VISIBLE_DEVICES`` untouched); 0:
        ``{"CUDA_VISIBLE_DEVICES": ""}``; otherwise the leased indices and
        ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that CUDA numbers devices as NVML does.
        """
        if n is None:
            return {}
        if n == 0 or not devices:
            return {"CUDA_VISIBLE_DEVICES": ""}
        return {
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in sorted(devices)),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        }

    def claim(self, trial_id: str, devices: Sequence[int]) -> None:
        """Records the lease of a trial re-attached on resume (it runs already, so it always wins).

        The claimed devices stop counting as in use by someone else: the processes seen on them
        at detection are most likely this trial's. A claim over capacity is logged; new leases
        then wait until the load falls back.
        """
        devs = tuple(sorted({int(i) for i in devices}))
        with self._lock:
            if trial_id in self._leases:
                self._release_locked(trial_id)
            gone = [i for i in devs if i not in self._devices]
            if gone:
                logger.warning(
                    "trial %s held GPU %s, which the pool %s no longer has",
                    trial_id,
                    gone,
                    list(self._devices),
                )
            devs = tuple(i for i in devs if i in self._devices)
            for i in devs:
                self._load[i] += 1
                if self._load[i] > self.slots_per_device:
                    logger.warning("GPU %d over capacity after resume: %d", i, self._load[i])
                self._devices[i] = replace(self._devices[i], active=False)
            if devs:
                self._leases[trial_id] = devs

    def release(self, trial_id: str) -> None:
        """Returns the devices of ``trial_id`` to the pool; idempotent."""
        with self._lock:
            self._release_locked(trial_id)

    def _release_locked(self, trial_id: str) -> None:
        devs = self._leases.pop(trial_id, ())
        for i in devs:
            if i in self._load:
                self._load[i] = max(0, self._load[i] - 1)
        if devs:
            self._last_wait = None
            logger.debug("trial %s released GPU %s", trial_id, devs)

    def sample_usage(self, pids_by_trial: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
        """Per-trial GPU utilisation and memory now; see :func:`hyperloom.devices._usage.sample`."""
        from hyperloom.devices._usage import sample

        usage: dict[str, dict[str, Any]] = sample(self, pids_by_trial)
        return usage

    def _apply_readings(self, fresh: dict[int, GpuDevice]) -> None:
        """Stores fresh readings (for :mod:`hyperloom.devices._usage`).

        A device's ``active`` flag is refreshed only while it has no lease: while it has one, the
        processes on it are most likely the holders' own (their pids may be in another pid
        namespace, so they cannot always be told apart).
        """
        with self._lock:
            for i, f in fresh.items():
                d = self._devices.get(i)
                if d is not None:
                    self._devices[i] = replace(
                        refreshed(d, f), active=f.active if self._load[i] == 0 else d.active
                    )


def _source(backend: str) -> str:
    return {
        "fake": "fake devices",
        "nvml": "NVML",
        "nvidia-smi": "nvidia-smi",
        "none": "no NVML, no nvidia-smi",
    }.get(backend, backend)
