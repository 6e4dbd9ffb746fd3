"""Unit tests of DevicePool with fake devices: NNI's GPU semantics, leases, resume claims."""

from __future__ import annotations

import random
import threading

import pytest
from hyperloom.devices import DevicePool, GpuDevice, parse_fake
from hyperloom.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HYPERLOOM_FAKE_GPUS", raising=False)


def pool(
    fake: object = 4,
    *,
    n: int | None = 1,
    slots: int = 1,
    indices: list[int] | None = None,
    use_active: bool = True,
) -> DevicePool:
    return DevicePool.from_config(
        trial_gpu_number=n,
        gpu_indices=indices,
        max_trials_per_gpu=slots,
        use_active_gpu=use_active,
        fake=fake,  # type: ignore[arg-type]
    )


def test_leases_distinct_devices_until_full_then_waits() -> None:
    p = pool(3)
    got = [p.try_acquire(f"t{i}", 1) for i in range(4)]
    assert sorted(got[:3]) == [(0,), (1,), (2,)]
    assert got[3] is None
    assert p.wait_reason(1) is not None and "fully leased" in p.wait_reason(1)  # type: ignore[operator]
    p.release("t1")
    assert p.try_acquire("t3", 1) == (1,)


def test_multi_gpu_request_gets_distinct_sorted_devices() -> None:
    p = pool(4, n=2)
    a = p.try_acquire("a", 2)
    b = p.try_acquire("b", 2)
    assert a is not None and b is not None
    assert len(set(a)) == 2 and a == tuple(sorted(a))
    assert set(a).isdisjoint(b)
    assert p.try_acquire("c", 2) is None


def test_request_for_all_gpus_works_on_one_gpu_machine() -> None:
    # NNI 3.0 refuses any request for all GPUs ("Only have 1 GPUs, requesting 1").
    p = pool(1)
    p.check_request(1)
    assert p.try_acquire("a", 1) == (0,)
    p4 = pool(4, n=4)
    p4.check_request(4)
    assert p4.try_acquire("a", 4) == (0, 1, 2, 3)


def test_slots_per_device_allow_that_many_trials_and_spread_load() -> None:
    p = pool(2, slots=3)
    got = [p.try_acquire(f"t{i}", 1) for i in range(7)]
    assert got[6] is None
    assert got[:2] in ([(0,), (1,)], [(1,), (0,)])  # least loaded first: spread before packing
    assert {i: len(h) for i, h in p.holders().items()} == {0: 3, 1: 3}


def test_gpu_indices_restrict_the_pool() -> None:
    p = pool(4, indices=[1, 3])
    got = {p.try_acquire(f"t{i}", 1) for i in range(2)}
    assert got == {(1,), (3,)}
    assert p.try_acquire("x", 1) is None
    assert set(p.holders()) == {1, 3}


def test_gpu_indices_naming_a_missing_device_fail_at_config() -> None:
    with pytest.raises(ConfigError, match=r"gpuIndices.*\[5\].*not found"):
        pool(2, indices=[0, 5])
    with pytest.raises(ConfigError, match="distinct"):
        pool(2, indices=[1, 1])
    with pytest.raises(ConfigError, match="gpuIndices"):
        pool(2, indices=[])


def test_unsatisfiable_requests_fail_at_check_with_a_clear_message() -> None:
    with pytest.raises(ConfigError, match=r"trialGpuNumber: 3 .*never.*has 2"):
        pool(2, n=3).check_request(3)
    with pytest.raises(ConfigError, match=r"widen trainingService\.gpuIndices"):
        pool(4, n=2, indices=[0]).check_request(2)
    with pytest.raises(ConfigError, match="never"):
        pool(None, n=1).check_request(1)  # no device at all (fake=None, no GPU here)
    with pytest.raises(ConfigError, match="0 or more"):
        pool(2).check_request(-1)
    with pytest.raises(ConfigError, match="maxTrialNumberPerGpu"):
        pool(2, slots=0)


def test_no_gpu_requests_never_need_devices() -> None:
    p = pool(None, n=None)
    p.check_request(None)
    p.check_request(0)
    assert p.try_acquire("a", None) == ()
    assert p.try_acquire("b", 0) == ()
    assert p.env_for((), None) == {}
    assert p.env_for((), 0) == {"CUDA_VISIBLE_DEVICES": ""}
    assert p.holders() == {}


def test_env_for_a_lease() -> None:
    p = pool(4, n=2)
    assert p.env_for((2, 0), 2) == {
        "CUDA_VISIBLE_DEVICES": "0,2",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }


def test_use_active_gpu_false_skips_active_devices() -> None:
    p = pool("3:active=1", use_active=False)
    p.check_request(2)  # 2 idle devices left: fine
    got = {p.try_acquire(f"t{i}", 1) for i in range(2)}
    assert got == {(0,), (2,)}
    assert p.try_acquire("t2", 1) is None
    reason = p.wait_reason(1)
    assert reason is not None and "[1] in use by other processes" in reason
    assert [r["usable"] for r in p.snapshot()] == [True, False, True]


def test_use_active_gpu_true_uses_active_devices_after_idle_ones() -> None:
    p = pool("3:active=1", use_active=True)
    first = {p.try_acquire(f"t{i}", 1) for i in range(2)}
    assert first == {(0,), (2,)}  # idle devices are preferred
    assert p.try_acquire("t2", 1) == (1,)


def test_active_by_memory_threshold_from_a_config_list() -> None:
    spec = [{"index": 0, "memory_used_mb": 8000}, {"index": 1, "memory_used_mb": 10}]
    devs = parse_fake(spec)
    assert devs is not None and [d.active for d in devs] == [True, False]
    p = pool(spec, use_active=False)
    assert p.try_acquire("a", 1) == (1,)
    assert p.try_acquire("b", 1) is None


def test_all_devices_active_only_warns_and_waits(caplog: pytest.LogCaptureFixture) -> None:
    p = pool("2:active=0,1", use_active=False)
    p.check_request(1)  # may free up later (another experiment's trials): wait, loudly
    assert "useActiveGpu" in caplog.text
    assert p.try_acquire("a", 1) is None


def test_release_is_idempotent_and_unknown_trials_are_ignored() -> None:
    p = pool(1, slots=2)
    assert p.try_acquire("a", 1) == (0,)
    assert p.try_acquire("b", 1) == (0,)
    p.release("a")
    p.release("a")
    p.release("never-seen")
    assert p.holders() == {0: ["b"]}
    assert p.try_acquire("c", 1) == (0,)
    assert p.try_acquire("d", 1) is None


def test_acquire_twice_returns_the_same_lease() -> None:
    p = pool(2)
    a = p.try_acquire("a", 1)
    assert p.try_acquire("a", 1) == a
    assert sum(len(h) for h in p.holders().values()) == 1


def test_claim_on_resume_records_leases_even_over_capacity() -> None:
    p = pool(2)
    p.claim("old1", (1,))
    assert p.holders() == {0: [], 1: ["old1"]}
    assert p.try_acquire("new", 1) == (0,)
    assert p.try_acquire("new2", 1) is None
    p.claim("old2", [0])  # over capacity: recorded, new leases wait until it falls back
    assert p.holders()[0] == ["new", "old2"]
    p.release("new")
    assert p.try_acquire("new3", 1) is None
    p.release("old2")
    assert p.try_acquire("new3", 1) == (0,)
    p.claim("ghost", (7,))  # a device this machine no longer has: ignored, not a crash
    assert 7 not in p.holders()


def test_claim_clears_active_flag_of_devices_held_by_reattached_trials() -> None:
    # On resume the re-attached trial's own processes make its device look active.
    p = pool("2:active=0", use_active=False)
    p.claim("old", (0,))
    p.release("old")
    assert p.try_acquire("a", 1) is not None
    assert p.try_acquire("b", 1) is not None


@pytest.mark.parametrize("seed", range(5))
def test_no_oversubscription_under_random_acquire_release(seed: int) -> None:
    rng = random.Random(seed)
    n_dev, slots = rng.randint(1, 5), rng.randint(1, 3)
    per_trial = rng.randint(1, n_dev)
    p = pool(n_dev, n=per_trial, slots=slots)
    mine: dict[str, tuple[int, ...]] = {}
    for step in range(2000):
        if mine and rng.random() < 0.45:
            t = rng.choice(sorted(mine))
            p.release(t)
            del mine[t]
        else:
            t = f"t{step}"
            got = p.try_acquire(t, per_trial)
            load = [sum(i in d for d in mine.values()) for i in range(n_dev)]
            free = sum(1 for x in load if x < slots)
            if got is None:
                assert free < per_trial  # it waited only when it had to
            else:
                assert len(set(got)) == per_trial
                mine[t] = got
        load = [sum(i in d for d in mine.values()) for i in range(n_dev)]
        assert max(load) <= slots
        assert {i: sorted(h) for i, h in p.holders().items()} == {
            i: sorted(t for t, d in mine.items() if i in d) for i in range(n_dev)
        }


def test_no_oversubscription_across_threads() -> None:
    p = pool(3, slots=2)
    peak = [0] * 3
    lock = threading.Lock()

    def worker(w: int) -> None:
        rng = random.Random(w)
        for k in range(300):
            t = f"w{w}-{k}"
            got = p.try_acquire(t, 1)
            if got is None:
                continue
            with lock:
                for i in got:
                    peak[i] = max(peak[i], len(p.holders()[i]))
            p.release(t)
            if rng.random() < 0.5:
                p.release(t)  # a second release changes nothing

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert max(peak) <= 2
    assert all(not h for h in p.holders().values())


def test_snapshot_shows_holders_and_slots() -> None:
    p = pool(2, slots=2)
    p.try_acquire("a", 1)
    snap = p.snapshot()
    assert [r["index"] for r in snap] == [0, 1]
    row = next(r for r in snap if r["holders"])
    assert row["holders"] == ["a"] and row["free_slots"] == 1 and row["slots"] == 2
    assert row["fake"] is True and row["backend"] == "fake"


def test_sample_usage_for_fake_devices_reports_configured_utilization() -> None:
    p = pool([{"index": 0, "utilization": 40.0}, {"index": 1, "utilization": 80.0}], n=2)
    p.try_acquire("a", 2)
    out = p.sample_usage({"a": [123], "idle": [456]})
    assert out == {
        "a": {"devices": [0, 1], "memory_mb": None, "utilization": 60.0, "source": "fake"}
    }


def test_gpu_device_is_frozen() -> None:
    d = GpuDevice(0, "GPU-x", "n", 1, 0, 0.0, False, True)
    with pytest.raises(AttributeError):
        d.index = 1  # type: ignore[misc]
