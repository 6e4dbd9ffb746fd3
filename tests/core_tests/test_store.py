"""The experiment store: writer, read-only reader, records, errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hyperloom.errors import StoreError
from hyperloom.store import SCHEMA_VERSION, Store, StoreReader, TrialRecord
from hyperloom.types import Report, TrialResult, TrialStatus

SPACE = {"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}
CONFIG = {"experimentName": "demo", "tuner": {"name": "random", "classArgs": {"mode": "minimize"}}}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.create(tmp_path, experiment_id="exp1", name="demo", config=CONFIG, space=SPACE)
    yield s
    s.close()


def _run_trial(
    s: Store,
    tid: str,
    values: list[float],
    final: float | None,
    status: TrialStatus = TrialStatus.SUCCEEDED,
) -> int:
    seq = s.allocate_sequence()
    s.add_trial(tid, seq, {"lr": 0.01 * seq})
    s.start_trial(tid, started=100.0 + seq, pid=123, pgid=123, handle={"pid": 123}, devices=[1])
    for i, v in enumerate(values):
        s.add_metric(tid, i, v, {"loss": -v}, 101.0 + i, offset=10 * (i + 1))
    if final is not None:
        s.set_final(tid, final, {"acc": final}, 150.0, offset=999)
    s.finish_trial(tid, status, ended=160.0 + seq, exit_code=0, reason="done")
    return seq


def test_lifecycle_and_json_contract(store: Store, tmp_path: Path) -> None:
    _run_trial(store, "aaa", [0.1 + 0.2, 0.5], 0.75)
    with StoreReader(tmp_path) as r:
        (rec,) = r.trials()
        js = rec.to_json()
    assert {
        "trial_id",
        "sequence",
        "status",
        "params",
        "value",
        "metrics",
        "intermediate",
        "started",
        "ended",
    } <= set(js)
    assert js["trial_id"] == "aaa" and js["sequence"] == 1 and js["status"] == "SUCCEEDED"
    assert js["params"] == {"lr": 0.01} and js["value"] == 0.75 and js["metrics"] == {"acc": 0.75}
    assert js["intermediate"] == [0.1 + 0.2, 0.5]  # exact float round trip
    assert js["started"] == 101.0 and js["ended"] == 161.0 and js["duration"] == 60.0
    assert js["exit_code"] == 0 and js["reason"] == "done" and js["devices"] == [1]
    json.dumps(js, allow_nan=False)  # plain JSON
    assert rec.channel_offset == 999 and rec.final_seen and rec.handle == {"pid": 123}
    res = rec.to_result()
    assert isinstance(res, TrialResult)
    assert res == TrialResult(
        trial_id="aaa",
        params={"lr": 0.01},
        status=TrialStatus.SUCCEEDED,
        value=0.75,
        intermediate=(0.1 + 0.2, 0.5),
        sequence=1,
        metrics={"acc": 0.75},
        duration=60.0,  # from the stored start and end, as resume replays it
    )


def test_running_trial_intermediate_exact_and_in_step_order(store: Store) -> None:
    store.add_trial("run", store.allocate_sequence(), {"lr": 0.1})
    store.start_trial("run", started=1.0)
    values = [1 / 3, 2e-300, 123456789.123456789, -0.0, 7.0]
    for step in (4, 0, 3, 1, 2):  # reported out of order
        store.add_metric("run", step, values[step], None, 1.0)
    rec = store.trial("run")
    assert rec is not None and rec.status is TrialStatus.RUNNING
    assert rec.intermediate == tuple(values)
    assert [s for s, _, _ in store.intermediate("run")] == [0, 1, 2, 3, 4]
    store.finish_trial("run", TrialStatus.FAILED, ended=2.0, exit_code=1)
    rec = store.trial("run")
    assert rec is not None and rec.intermediate == tuple(values) and rec.value is None


def test_add_metric_step_none_appends_and_repeat_replaces(store: Store) -> None:
    store.add_trial("t", store.allocate_sequence(), {})
    assert store.add_metric("t", None, 1.0) == 0
    assert store.add_metric("t", None, 2.0) == 1
    assert store.add_metric("t", 1, 3.0, offset=42) == 1  # replayed line: replaces, no duplicate
    assert store.add_metric("t", None, 4.0) == 2
    rec = store.trial("t")
    assert rec is not None and rec.intermediate == (1.0, 3.0, 4.0) and rec.channel_offset == 42


def test_unknown_trial_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no trial 'nope'"):
        store.add_metric("nope", 0, 1.0)
    with pytest.raises(StoreError, match="no trial 'nope'"):
        store.finish_trial("nope", TrialStatus.FAILED, ended=1.0)
    assert store.intermediate("nope") == []  # the failed add_metric was rolled back
    assert store.trial("nope") is None


def test_sequences_persist_and_are_never_reused(tmp_path: Path) -> None:
    s = Store.create(tmp_path, experiment_id="e", name=None, config={}, space={})
    assert [s.allocate_sequence() for _ in range(3)] == [1, 2, 3]
    s.add_trial("x", 2, {})
    with pytest.raises(StoreError, match="already used"):
        s.add_trial("y", 2, {})
    s.close()
    s = Store.open(tmp_path)
    assert s.allocate_sequence() == 4
    assert s.experiment()["next_sequence"] == 5
    s.close()


def test_queries_filter_order_count_events_state(store: Store, tmp_path: Path) -> None:
    _run_trial(store, "t1", [1.0], 0.3)
    _run_trial(store, "t2", [2.0], 0.9)
    _run_trial(store, "t3", [], None, TrialStatus.EARLY_STOPPED)
    store.add_trial("t4", store.allocate_sequence(), {"lr": 1.0})
    store.add_event("assessor", "t3", {"verdict": "STOP", "reason": "median", "step": 0}, 5.0)
    e2 = store.add_event("stop_request", None, None, 6.0)
    store.set_experiment_status("STOPPED", "user stop")
    with StoreReader(tmp_path / "experiment.db") as r:
        assert [t.trial_id for t in r.trials(order="-value")] == ["t2", "t1", "t3", "t4"]
        assert [t.trial_id for t in r.trials(order="value")] == ["t1", "t2", "t3", "t4"]
        assert [t.trial_id for t in r.trials(limit=2, offset=1)] == ["t2", "t3"]
        assert [t.trial_id for t in r.trials(status="waiting")] == ["t4"]
        both = r.trials(status=[TrialStatus.SUCCEEDED, "EARLY_STOPPED"], with_intermediate=False)
        assert [t.trial_id for t in both] == ["t1", "t2", "t3"]
        assert all(t.intermediate == () for t in both)
        counts = r.count_by_status()
        assert counts["SUCCEEDED"] == 2 and counts["EARLY_STOPPED"] == 1 and counts["WAITING"] == 1
        assert set(counts) == set(TrialStatus.__members__)
        ev = r.events()
        assert [e["kind"] for e in ev] == ["assessor", "stop_request"]
        assert ev[0]["payload"]["reason"] == "median" and ev[0]["trial_id"] == "t3"
        assert r.events(after_id=ev[0]["id"])[0]["id"] == e2
        assert r.events(trial_id="t3", kind="assessor")[0]["payload"]["verdict"] == "STOP"
        exp = r.experiment()
        assert exp["status"] == "STOPPED" and exp["message"] == "user stop"
        assert exp["config"] == CONFIG and exp["space"] == SPACE and exp["id"] == "exp1"
        with pytest.raises(StoreError, match="unknown trial status"):
            r.trials(status="DONE")
        with pytest.raises(StoreError, match="unknown trial order"):
            r.trials(order="value; DROP TABLE trials")
    with pytest.raises(StoreError, match="unknown experiment status"):
        store.set_experiment_status("PAUSED")


def test_import_records_bulk(tmp_path: Path) -> None:
    s = Store.create(tmp_path, experiment_id="b", name=None, config={}, space={})
    recs = [
        TrialRecord(f"t{i}", i + 1, TrialStatus.SUCCEEDED, {"i": i}, float(i), {}, (0.5, 1.5 * i))
        for i in range(1200)
    ]
    assert s.import_records(recs) == 1200
    assert s.allocate_sequence() == 1201
    got = s.trials(order="-sequence", limit=1)[0]
    assert got.trial_id == "t1199" and got.intermediate == (0.5, 1.5 * 1199)
    assert s.intermediate("t3") == [(0, 0.5, None), (1, 4.5, None)]
    s.close()


def test_reader_sees_progress_while_another_process_writes(tmp_path: Path) -> None:
    s = Store.create(tmp_path, experiment_id="w", name=None, config={}, space={})
    s.close()
    writer = textwrap.dedent(
        f"""
        from hyperloom.store import Store
        s = Store.open({str(tmp_path)!r})
        for i in range(300):
            tid = f"t{{i}}"
            s.add_trial(tid, s.allocate_sequence(), {{"i": i}})
            for step in range(5):
                s.add_metric(tid, step, float(step), None, 0.0, offset=step)
            s.set_final(tid, float(i), {{}}, 0.0)
            s.finish_trial(tid, "SUCCEEDED", ended=1.0, exit_code=0)
        s.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", writer])
    seen: list[int] = []
    with StoreReader(tmp_path) as r:
        while proc.poll() is None or not seen or seen[-1] < 300:
            trials = r.trials()
            for t in trials:  # every snapshot is consistent
                if t.status is TrialStatus.SUCCEEDED:
                    assert t.intermediate == (0.0, 1.0, 2.0, 3.0, 4.0) and t.value is not None
            seen.append(len(trials))
            if proc.poll() is not None and seen[-1] == 300:
                break
    assert proc.wait(timeout=60) == 0
    assert seen == sorted(seen) and seen[-1] == 300
    assert len(set(seen)) > 2  # it read while the writer was writing


def test_not_a_store_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a hyperloom experiment store"):
        StoreReader(junk)
    with pytest.raises(StoreError, match="not a hyperloom experiment store"):
        Store.open(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(StoreError, match="not a hyperloom experiment store"):
        StoreReader(other)
    with pytest.raises(StoreError, match="does not exist"):
        StoreReader(tmp_path / "missing")
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "missing")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.create(tmp_path, experiment_id="n", name=None, config={}, space={}).close()
    conn = sqlite3.connect(tmp_path / "experiment.db")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    for opener in (StoreReader, Store.open):
        with pytest.raises(StoreError, match="newer hyperloom"):
            opener(tmp_path)


def test_create_refuses_existing_store(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="already exists"):
        Store.create(tmp_path, experiment_id="again", name=None, config={}, space={})
    with pytest.raises(StoreError, match="does not exist"):
        Store.create(tmp_path / "nodir", experiment_id="x", name=None, config={}, space={})


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """Makes ``directory`` read-only for this process: chmod, or for root (who ignores
    permissions) the immutable attribute; skips the test when neither is possible."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if (
        chattr is None
        or subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode
    ):
        pytest.skip("running as root without a working chattr: cannot make a directory read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


def test_unwritable_directory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Creating or resuming in a read-only directory fails clearly; reading still works, also
    when there is no -wal/-shm to share (the store is then read as immutable)."""
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.mkdir()
    new.mkdir()
    with Store.create(old, experiment_id="o", name=None, config={}, space={}) as s:
        s.add_trial("t", s.allocate_sequence(), {})
    assert not (old / "experiment.db-wal").exists()
    with _read_only(new):
        with pytest.raises(StoreError, match="is not writable"):
            Store.create(new, experiment_id="x", name=None, config={}, space={})
        assert list(new.iterdir()) == []
    with _read_only(old):
        with pytest.raises(StoreError, match="is not writable"):
            Store.open(old)
        caplog.set_level(logging.DEBUG, logger="hyperloom._store_read")
        with StoreReader(old) as r:
            assert [t.trial_id for t in r.trials()] == ["t"]
        assert "as immutable" in caplog.text


def test_json_text_equals_to_json_for_every_kind_of_trial(store: Store) -> None:
    _run_trial(store, "done", [0.1 + 0.2, 1e-300, 5.0], 0.5)  # cached intermediate path
    _run_trial(store, "nometrics", [], None, TrialStatus.FAILED)
    store.add_trial("run", store.allocate_sequence(), {"a": [1, 2], "b": {"_name": "x"}})
    store.start_trial("run", started=3.0, devices=[0, 1])
    store.add_metric("run", 0, 1 / 3)  # aggregated in SQL: 17 digits
    store.add_metric("run", 1, 2.0)
    store.add_trial("wait", store.allocate_sequence(), {"s": 'é"q'})
    store.add_trial("later", store.allocate_sequence(), {})
    store.start_trial("later", started=9.0)
    store.finish_trial("later", "CANCELED", ended=10.0, reason=None)
    reasons = {"later": "stopped by user"}
    texts = list(store.iter_trials_json(reasons=reasons))
    records = store.trials()
    assert len(texts) == len(records) == 5
    for text, rec in zip(texts, records, strict=True):
        expected = rec.to_json()
        if expected["reason"] is None and rec.trial_id in reasons:
            expected["reason"] = reasons[rec.trial_id]
        assert json.loads(text) == expected
    assert json.loads(texts[2])["intermediate"] == [1 / 3, 2.0]
    assert [json.loads(t)["trial_id"] for t in store.iter_trials_json(status="WAITING")] == ["wait"]


def test_non_finite_values_are_refused(store: Store) -> None:
    store.add_trial("t", store.allocate_sequence(), {})
    for bad in (float("nan"), float("inf")):
        with pytest.raises(StoreError, match="not a finite number"):
            store.add_metric("t", 0, bad)
        with pytest.raises(StoreError, match="not a finite number"):
            store.set_final("t", bad)
    assert store.intermediate("t") == []


def test_create_with_unserializable_config_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="as JSON"):
        Store.create(tmp_path, experiment_id="x", name=None, config={"f": object()}, space={})
    assert list(tmp_path.iterdir()) == []


def test_sparse_steps_survive_the_end_of_a_trial_and_a_v2_store_is_migrated(
    tmp_path: Path,
) -> None:
    """A trial resumed from a checkpoint reports steps 3, 4, 5: the ended record and the replay
    give those steps, not 0, 1, 2 (what a live tuner saw is what a resumed one sees)."""
    import sqlite3

    from hyperloom.manager import replay_results

    s = Store.create(tmp_path, experiment_id="sp", name=None, config={}, space={})
    for tid, steps in (("a", [3, 4, 5]), ("b", [0, 1, 2])):
        s.add_trial(tid, s.allocate_sequence(), {"x": 1}, t=1.0)
        s.start_trial(tid, started=1.0, pid=None, pgid=None, handle={}, devices=[])
        for st in steps:
            s.add_metric(tid, st, st / 10, {}, 1.0, 0)
        s.finish_trial(tid, TrialStatus.SUCCEEDED, ended=2.0, value=0.5, values=[0.5])
    rec = s.trial("a")
    assert rec is not None and rec.steps == (3, 4, 5)
    assert tuple(rec.to_result().reports) == (Report(3, 0.3), Report(4, 0.4), Report(5, 0.5))
    other = s.trial("b")
    assert other is not None and other.steps is None, "dense steps are not stored twice"
    assert [r.step for r in other.to_result().reports] == [0, 1, 2]
    assert list(replay_results(s)) == [s.trial("a").to_result(), s.trial("b").to_result()]  # type: ignore[union-attr]
    s.close()
    conn = sqlite3.connect(tmp_path / "experiment.db")
    conn.execute("ALTER TABLE trials DROP COLUMN steps_blob")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with StoreReader(tmp_path) as r:  # read-only v2: the steps read as absent
        old = r.trial("a")
        assert old is not None and old.steps is None and old.value == 0.5
    Store.open(tmp_path).close()  # a writer migrates to v3
    with StoreReader(tmp_path) as r:
        assert r._version == SCHEMA_VERSION == 3


def test_grouped_writes_commit_in_groups_and_each_write_stays_whole(tmp_path: Path) -> None:
    """A simulated run commits its writes in groups: readers see them at each group's commit
    (and at close), and a failed write inside a group undoes only itself."""
    from hyperloom.errors import StoreError

    s = Store.create(tmp_path, experiment_id="g", name=None, config={}, space={})
    s.group_writes(every=3)
    s.add_trial("a", s.allocate_sequence(), {"x": 1}, t=1.0)
    with StoreReader(tmp_path) as r:
        assert r.trials() == [], "not yet committed"
    with pytest.raises(StoreError, match="already used"):
        s.add_trial("a", 99, {"x": 2}, t=1.0)  # a reused id: only this write is undone
    s.add_event("note", None, {}, 1.0)  # the third write commits the group
    with StoreReader(tmp_path) as r:
        assert [t.trial_id for t in r.trials()] == ["a"]
    s.add_trial("b", s.allocate_sequence(), {"x": 3}, t=1.0)
    s.close()  # commits what is pending
    with StoreReader(tmp_path) as r:
        assert [t.trial_id for t in r.trials()] == ["a", "b"]


@pytest.mark.parametrize(
    "value, values, intermediate, reports",
    [
        (0.5, None, (0.1, 0.2), ()),
        (None, None, (), ()),
        (0.5, (0.5, 3.0), (0.1,), (Report(4, 0.1),)),
        (None, None, (0.3,), ()),
    ],
)
def test_the_replay_constructor_builds_what_the_dataclass_builds(
    value: float | None,
    values: tuple[float, ...] | None,
    intermediate: tuple[float, ...],
    reports: tuple[Report, ...],
) -> None:
    import dataclasses
    import pickle

    args = ("t1", {"x": 1}, TrialStatus.SUCCEEDED, value, intermediate, 3, {"m": 1}, values,
            reports, "p0", 2.5)  # fmt: skip
    fast, slow = TrialResult._from_store(*args), TrialResult(*args)
    assert fast == slow and repr(fast) == repr(slow) and hash(fast.trial_id) == hash(slow.trial_id)
    assert vars(fast) == vars(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert dataclasses.replace(fast, value=9.0) == dataclasses.replace(slow, value=9.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.value = 1.0  # type: ignore[misc]
