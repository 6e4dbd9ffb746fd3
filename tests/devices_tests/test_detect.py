"""Detection: fake specs, CUDA_VISIBLE_DEVICES, the nvidia-smi fallback (a real executable), NVML."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hyperloom.devices import (
    DevicePool,
    _detect,
    detect_devices,
    filter_visible,
    parse_fake,
    parse_visible_devices,
)
from hyperloom.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HYPERLOOM_FAKE_GPUS", raising=False)


def test_fake_from_env_with_active_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "4:active=0,2")
    devs = detect_devices()
    assert [d.index for d in devs] == [0, 1, 2, 3]
    assert [d.active for d in devs] == [True, False, True, False]
    assert all(d.fake for d in devs)
    assert len({d.uuid for d in devs}) == 4


def test_config_fake_spec_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "4")
    assert len(detect_devices(fake=2)) == 2
    assert [d.index for d in detect_devices(fake=[{"index": 3}, {"index": 5}])] == [3, 5]


@pytest.mark.parametrize(
    "spec",
    [
        "x",
        "2:active=5",
        "2:busy=1",
        "-1",
        True,
        [{"index": 0, "colour": "red"}],
        [{}, {"index": 0}],
    ],
)
def test_bad_fake_specs_name_the_key(spec: Any) -> None:
    with pytest.raises(ConfigError, match=r"fakeGpus"):
        parse_fake(spec)


def test_bad_env_spec_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "two")
    with pytest.raises(ConfigError, match="HYPERLOOM_FAKE_GPUS"):
        detect_devices()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", []),
        ("-1", []),
        ("0,1", ["0", "1"]),
        (" 2 , 0 ", ["2", "0"]),
        ("0,-1,2", ["0"]),  # CUDA stops at the first invalid entry
        ("1,,2", ["1"]),
        ("GPU-abc,1", ["GPU-abc", "1"]),
    ],
)
def test_parse_visible_devices(value: str | None, expected: list[str] | None) -> None:
    assert parse_visible_devices(value) == expected


def test_visible_devices_by_index_and_uuid_prefix() -> None:
    devs = parse_fake(4)
    assert devs is not None
    assert [d.index for d in filter_visible(devs, "2,0")] == [0, 2]
    assert [d.index for d in filter_visible(devs, devs[3].uuid)] == [3]
    assert [d.index for d in filter_visible(devs, devs[1].uuid[:-2] + "01")] == [1]
    assert filter_visible(devs, "GPU-fa4e") == []  # ambiguous prefix matches nothing
    assert filter_visible(devs, "7") == []
    assert filter_visible(devs, "") == []


def test_detection_is_intersected_with_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLOOM_FAKE_GPUS", "4")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert [d.index for d in detect_devices()] == [1, 3]
    p = DevicePool.from_config(
        trial_gpu_number=1, gpu_indices=None, max_trials_per_gpu=1, use_active_gpu=True
    )
    with pytest.raises(ConfigError, match=r"never.*has 2"):
        p.check_request(3)
    with pytest.raises(ConfigError, match=r"gpuIndices: GPU \[0\] not found"):
        DevicePool.from_config(
            trial_gpu_number=1, gpu_indices=[0], max_trials_per_gpu=1, use_active_gpu=True
        )
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_devices() == []


def test_no_detection_without_gpu_scheduling(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("detection ran")

    monkeypatch.setattr(_detect, "probe", boom)
    p = DevicePool.from_config(
        trial_gpu_number=0, gpu_indices=None, max_trials_per_gpu=1, use_active_gpu=True
    )
    assert p.devices == [] and p.backend == "none"


SMI = """#!{python}
import sys
args = " ".join(sys.argv[1:])
if "--query-gpu" in args:
    print("0, GPU-aaaa-0, NVIDIA H100 80GB HBM3, 81559, 4, 0")
    print("1, GPU-bbbb-1, NVIDIA H100 80GB HBM3, 81559, 30210, 97")
    print("2, GPU-cccc-2, NVIDIA H100 80GB HBM3, 81559, [N/A], [N/A]")
elif "--query-compute-apps" in args:
    print("GPU-bbbb-1, 4242, 30200")
else:
    sys.exit(2)
"""


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exe = tmp_path / "nvidia-smi"
    exe.write_text(SMI.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(_detect, "_nvml_state", {"module": None})  # as if NVML were absent
    return exe


def test_nvidia_smi_fallback(fake_smi: Path) -> None:
    backend, devs = _detect.detect(None)
    assert backend == "nvidia-smi"
    assert [(d.index, d.uuid, d.memory_total_mb, d.memory_used_mb) for d in devs] == [
        (0, "GPU-aaaa-0", 81559, 4),
        (1, "GPU-bbbb-1", 81559, 30210),
        (2, "GPU-cccc-2", 81559, 0),
    ]
    assert devs[1].utilization == 97.0 and devs[1].compute_pids == (4242,)
    assert [d.active for d in devs] == [False, True, False]
    assert not any(d.fake for d in devs)


def test_nvidia_smi_pool_skips_the_busy_device_and_samples_by_device(fake_smi: Path) -> None:
    p = DevicePool.from_config(
        trial_gpu_number=1, gpu_indices=None, max_trials_per_gpu=1, use_active_gpu=False
    )
    assert p.backend == "nvidia-smi"
    assert {p.try_acquire("a", 1), p.try_acquire("b", 1)} == {(0,), (2,)}
    assert p.try_acquire("c", 1) is None
    usage = p.sample_usage({"a": [os.getpid()], "b": [os.getpid()]})
    # the trials' pids do not show on the devices: each is its device's only holder
    assert usage["a"]["source"] == "device" and usage["a"]["devices"] in ([0], [2])
    assert {usage["a"]["memory_mb"], usage["b"]["memory_mb"]} == {4.0, 0.0}


def test_no_gpu_tool_at_all_means_no_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_detect, "_nvml_state", {"module": None})
    assert _detect.detect(None) == ("none", [])


class _Err(Exception):
    pass


def _fake_nvml() -> Any:
    mib = 2**20
    devs = [
        {"uuid": b"GPU-1111", "total": 80 * 1024 * mib, "used": 2 * mib, "util": 0, "procs": []},
        {
            "uuid": "GPU-2222",
            "total": 80 * 1024 * mib,
            "used": 5000 * mib,
            "util": 55,
            "procs": [SimpleNamespace(pid=777, usedGpuMemory=4000 * mib)],
        },
    ]
    return SimpleNamespace(
        NVMLError=_Err,
        nvmlDeviceGetCount=lambda: len(devs),
        nvmlDeviceGetHandleByIndex=lambda i: devs[i],
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=h["total"], used=h["used"]),
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=h["util"]),
        nvmlDeviceGetComputeRunningProcesses=lambda h: h["procs"],
        nvmlDeviceGetProcessUtilization=lambda h, t: [
            SimpleNamespace(pid=p.pid, smUtil=50) for p in h["procs"]
        ],
        nvmlDeviceGetUUID=lambda h: h["uuid"],
        nvmlDeviceGetName=lambda h: b"NVIDIA Test",
    )


def test_nvml_reader_and_per_process_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_detect, "_nvml_state", {"module": _fake_nvml()})
    backend, devs = _detect.detect(None)
    assert backend == "nvml"
    assert [(d.uuid, d.name, d.memory_used_mb, d.active) for d in devs] == [
        ("GPU-1111", "NVIDIA Test", 2, False),
        ("GPU-2222", "NVIDIA Test", 5000, True),
    ]
    p = DevicePool.from_config(
        trial_gpu_number=1, gpu_indices=[1], max_trials_per_gpu=2, use_active_gpu=True
    )
    assert p.try_acquire("t", 1) == (1,)
    p.try_acquire("u", 1)
    usage = p.sample_usage({"t": [777], "u": [778]})
    assert usage["t"] == {
        "devices": [1],
        "memory_mb": 4000.0,
        "utilization": 50.0,
        "source": "process",
    }
    assert usage["u"]["memory_mb"] is None  # shares the device, has no process on it
