"""The checkpoint registry, with real files: commit, latest, private restore, GC and budget."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hyperloom.checkpoints import (
    MARKER,
    CheckpointError,
    CheckpointManager,
    copy_tree,
    parse_size,
)
from hyperloom.errors import UsageError


def _write(d: Path, name: str, data: bytes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def _read_tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_commit_is_an_immutable_snapshot_even_when_the_trial_rewrites_in_place(
    tmp_path: Path,
) -> None:
    live = tmp_path / "live"
    _write(live, "model.bin", b"A" * 1000)
    _write(live / "sub", "opt.bin", b"opt-1")
    cm = CheckpointManager(tmp_path / "ckpt")
    data = cm.commit("T0001", 3, live)
    assert cm.latest("T0001") == (3, data)
    # the trial rewrites its files in place (this would corrupt a hard link)
    with open(live / "model.bin", "wb") as f:
        f.write(b"B" * 10)
    (live / "sub" / "opt.bin").write_bytes(b"opt-2")
    (live / "new.bin").write_bytes(b"x")
    assert _read_tree(data) == {"model.bin": b"A" * 1000, "sub/opt.bin": b"opt-1"}
    assert os.stat(data / "model.bin").st_ino != os.stat(live / "model.bin").st_ino
    marker = json.loads((data.parent / MARKER).read_text())
    assert marker["step"] == 3 and marker["bytes"] == 1005 and marker["files"] == 2


def test_latest_follows_commits_and_older_snapshots_go(tmp_path: Path) -> None:
    live = tmp_path / "live"
    cm = CheckpointManager(tmp_path / "ckpt")
    assert cm.latest("T0001") is None
    for step in (0, 4, 9):
        _write(live, "w", str(step).encode())
        cm.commit("T0001", step, live)
    step, data = cm.latest("T0001") or (None, None)
    assert step == 9 and data is not None and (data / "w").read_bytes() == b"9"
    assert [s.step for s in cm.snapshots("T0001")] == [9]
    assert sorted(p.name for p in (tmp_path / "ckpt" / "T0001").iterdir()) == ["step-9"]
    # a retried trial starting over: a lower step becomes the latest
    _write(live, "w", b"again")
    cm.commit("T0001", 2, live)
    assert cm.latest("T0001") == (2, tmp_path / "ckpt" / "T0001" / "step-2" / "data")
    # the same step twice: the second replaces the first
    _write(live, "w", b"again2")
    cm.commit("T0001", 2, live)
    assert (cm.latest("T0001") or (0, tmp_path))[1].joinpath("w").read_bytes() == b"again2"


def test_prepare_restore_gives_a_private_copy_and_none_without_a_checkpoint(
    tmp_path: Path,
) -> None:
    live = tmp_path / "live"
    _write(live, "w", b"donor")
    cm = CheckpointManager(tmp_path / "ckpt")
    dest = tmp_path / "child" / "restore"
    assert cm.prepare_restore("T0001", dest) is None
    assert not dest.exists()
    cm.commit("T0001", 5, live)
    assert cm.prepare_restore("T0001", dest) == 5
    assert (dest / "w").read_bytes() == b"donor"
    with open(dest / "w", "wb") as f:  # the child scribbles over its copy
        f.write(b"child")
    assert ((cm.latest("T0001") or (0, tmp_path))[1] / "w").read_bytes() == b"donor"
    with pytest.raises(CheckpointError, match="not empty"):
        cm.prepare_restore("T0001", dest)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cm.prepare_restore("T0001", empty) == 5


def test_kill_mid_copy_leaves_nothing_visible_and_the_next_start_cleans_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ckpt"
    live = tmp_path / "live"
    _write(live, "w", b"good")
    cm = CheckpointManager(root)
    cm.commit("T0001", 1, live)
    # what a kill -9 mid-copy leaves: a temp dir with data but no marker, and a step dir whose
    # marker never made it (written by something else than commit)
    (root / "T0001" / ".tmp-step-2-deadbeef" / "data").mkdir(parents=True)
    (root / "T0001" / ".tmp-step-2-deadbeef" / "data" / "w").write_bytes(b"half")
    (root / "T0002" / "step-7" / "data").mkdir(parents=True)
    # ... and one killed between the two renames that replace a step (complete, marker written)
    done = root / "T0003" / ".tmp-step-4-0badc0de"
    (done / "data").mkdir(parents=True)
    (done / "data" / "w").write_bytes(b"complete")
    (done / MARKER).write_text(json.dumps({"step": 4, "bytes": 8, "seq": 99}))
    again = CheckpointManager(root)
    assert again.latest("T0001") == (1, root / "T0001" / "step-1" / "data")
    assert again.latest("T0002") is None
    assert again.latest("T0003") == (4, root / "T0003" / "step-4" / "data")
    assert sorted(p.name for p in (root / "T0001").iterdir()) == ["step-1"]
    assert not (root / "T0002" / "step-7").exists()
    # commit order survives the restart
    _write(live, "w", b"next")
    again.commit("T0004", 0, live)
    assert again.snapshots()[-1].trial_id == "T0004"
    assert again.snapshots()[-1].seq > 99


def test_a_failed_copy_commits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hyperloom.checkpoints as ck

    live = tmp_path / "live"
    _write(live, "a", b"1")
    _write(live, "b", b"2")
    cm = CheckpointManager(tmp_path / "ckpt")
    cm.commit("T0001", 1, live)
    calls = {"n": 0}
    real = ck._copy_file

    def dying(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(ck, "_copy_file", dying)
    with pytest.raises(OSError):
        cm.commit("T0001", 2, live)
    assert cm.latest("T0001") == (1, tmp_path / "ckpt" / "T0001" / "step-1" / "data")
    assert [p.name for p in (tmp_path / "ckpt" / "T0001").iterdir()] == ["step-1"]
    with pytest.raises(CheckpointError, match="does not exist"):
        cm.commit("T0001", 3, tmp_path / "missing")


def test_a_tree_that_changes_during_the_copy_is_refused_not_mislabeled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hyperloom.checkpoints as ck

    live = tmp_path / "live"
    _write(live, "a", b"0")
    _write(live, "b", b"0")
    real = ck._copy_file

    def racing(src: Path, dst: Path) -> None:
        real(src, dst)
        (live / "a").write_bytes(b"step 2 already")  # the trial writes its next checkpoint

    monkeypatch.setattr(ck, "_copy_file", racing)
    cm = CheckpointManager(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="changed while it was copied"):
        cm.commit("T0001", 1, live)
    assert cm.latest("T0001") is None
    assert not any((tmp_path / "ckpt" / "T0001").iterdir())


def test_a_file_that_vanishes_during_the_copy_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hyperloom.checkpoints as ck

    live = tmp_path / "live"
    _write(live, "state.json", b"{}")
    _write(live, "state.json.tmp", b"{}")
    real = ck._copy_file

    def renaming(src: Path, dst: Path) -> None:
        if (live / "state.json.tmp").exists():
            os.replace(live / "state.json.tmp", live / "state.json")  # the trial's atomic save
        real(src, dst)

    monkeypatch.setattr(ck, "_copy_file", renaming)
    cm = CheckpointManager(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=r"vanished|changed"):
        cm.commit("T0001", 1, live)
    assert cm.latest("T0001") is None


def test_files_written_after_the_report_are_the_next_checkpoint(tmp_path: Path) -> None:
    import time

    live = tmp_path / "live"
    _write(live, "w", b"step 1")
    reported = time.time()
    cm = CheckpointManager(tmp_path / "ckpt")
    assert cm.commit("T0001", 1, live, reported_at=reported + 1.0)  # written before: fine
    os.utime(live / "w", (reported + 5, reported + 5))  # rewritten after the report of step 2
    with pytest.raises(CheckpointError, match="after the checkpoint was reported"):
        cm.commit("T0001", 2, live, reported_at=reported)
    assert (cm.latest("T0001") or (None,))[0] == 1


def test_gc_keeps_needed_and_enforces_the_budget_oldest_unneeded_first(tmp_path: Path) -> None:
    live = tmp_path / "live"
    cm = CheckpointManager(tmp_path / "ckpt", budget_bytes=3500)
    for i in range(1, 6):
        _write(live, "w", bytes([i]) * 1000)
        cm.commit(f"T000{i}", 1, live)
    assert cm.total_bytes() == 5000
    deleted = cm.gc({"T0001", "T0004"})
    # oldest unneeded first, only until it fits: T0002 and T0003 go, T0005 stays
    assert [s.trial_id for s in deleted] == ["T0002", "T0003"]
    assert [s.trial_id for s in cm.snapshots()] == ["T0001", "T0004", "T0005"]
    assert cm.total_bytes() == 3000 and not cm.over_budget_logged
    assert not (tmp_path / "ckpt" / "T0002" / "step-1").exists()
    # all needed and over budget: nothing needed is deleted, and it is said
    tight = CheckpointManager(tmp_path / "ckpt", budget_bytes=10)
    assert tight.gc({s.trial_id for s in tight.snapshots()}) == []
    assert tight.over_budget_logged
    assert tight.latest("T0001") is not None and tight.latest("T0004") is not None
    # without a budget unneeded latest snapshots stay (the user may want them)
    free = CheckpointManager(tmp_path / "ckpt")
    assert free.gc(set()) == []


def test_gc_never_deletes_a_snapshot_being_restored(tmp_path: Path) -> None:
    import hyperloom.checkpoints as ck

    live = tmp_path / "live"
    _write(live, "w", b"z" * 100)
    cm = CheckpointManager(tmp_path / "ckpt", budget_bytes=0)
    cm.commit("T0001", 1, live)
    started, release = threading.Event(), threading.Event()
    real = ck._copy_file

    def slow(src: Path, dst: Path) -> None:
        started.set()
        release.wait(5)
        real(src, dst)

    ck_copy = ck._copy_file
    ck._copy_file = slow  # type: ignore[assignment]
    try:
        got: list[int | None] = []
        th = threading.Thread(
            target=lambda: got.append(cm.prepare_restore("T0001", tmp_path / "dest"))
        )
        th.start()
        assert started.wait(5)
        assert cm.gc(set()) == []  # pinned while copying
        release.set()
        th.join(5)
    finally:
        ck._copy_file = ck_copy  # type: ignore[assignment]
    assert got == [1] and (tmp_path / "dest" / "w").read_bytes() == b"z" * 100
    assert [s.trial_id for s in cm.gc(set())] == ["T0001"]


def test_copy_tree_keeps_links_and_modes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write(src, "run.sh", b"#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    os.symlink("run.sh", src / "link")
    nbytes, nfiles = copy_tree(src, tmp_path / "dst")
    assert (nbytes, nfiles) == (10, 1)
    assert os.readlink(tmp_path / "dst" / "link") == "run.sh"
    assert os.stat(tmp_path / "dst" / "run.sh").st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("5GB", 5 * 10**9),
        ("500 MB", 500 * 10**6),
        ("1.5GiB", int(1.5 * 2**30)),
        ("2048", 2048),
        (4096, 4096),
        ("0", 0),
        ("10kb", 10_000),
    ],
)
def test_parse_size(text: str | int, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["", "5 parsecs", "-1GB", "GB", True, float("inf")])
def test_parse_size_refuses_nonsense(bad: object) -> None:
    with pytest.raises(UsageError, match="checkpointBudget"):
        parse_size(bad)  # type: ignore[arg-type]


def test_bad_ids_and_steps(tmp_path: Path) -> None:
    cm = CheckpointManager(tmp_path / "ckpt")
    (tmp_path / "live").mkdir()
    for bad in ("", "../x", ".hidden"):
        with pytest.raises(CheckpointError):
            cm.commit(bad, 1, tmp_path / "live")
    with pytest.raises(CheckpointError):
        cm.commit("T0001", -1, tmp_path / "live")


def test_durable_commits_fsync_and_read_back(tmp_path: Path) -> None:
    live = tmp_path / "live"
    _write(live, "w", b"d")
    cm = CheckpointManager(tmp_path / "ckpt", durable=True)
    data = cm.commit("T0001", 0, live)
    assert (data / "w").read_bytes() == b"d"
    assert CheckpointManager(tmp_path / "ckpt").latest("T0001") == (0, data)
