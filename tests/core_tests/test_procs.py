"""Process-tree termination with real processes: grandchildren, SIGTERM-ignorers, escapees."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest
from hyperloom.procs import (
    ProcRef,
    aterminate_tree,
    find_marked,
    group_members,
    proc_ref,
    snapshot_descendants,
    terminate_tree,
)

# The trial forks a child (in its group, or in a new session when ESCAPE is set) which forks a
# grandchild; every process writes its pid to PIDS and optionally ignores SIGTERM.
TREE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    pids, ignore, escape, level = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", int(sys.argv[4])
    if ignore:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    if level < 2:
        subprocess.Popen(
            [sys.executable, __file__, pids, sys.argv[2], sys.argv[3], str(level + 1)],
            start_new_session=escape and level == 1,
        )
    time.sleep(120)
    """
)


def _spawn(
    tmp_path: Path, *, ignore: bool, escape: bool, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], list[int]]:
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    pids_file = tmp_path / "pids.txt"
    popen = subprocess.Popen(
        [sys.executable, str(script), str(pids_file), str(int(ignore)), str(int(escape)), "0"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 20
    while True:
        pids = [int(x) for x in pids_file.read_text().split()] if pids_file.exists() else []
        if len(pids) == 3:
            break
        assert time.monotonic() < deadline, "the process tree did not start"
        time.sleep(0.02)
    time.sleep(0.1)  # let the last one install its handler
    return popen, pids


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("ignore", [False, True])
def test_terminate_tree_kills_group_with_grandchild(tmp_path: Path, ignore: bool) -> None:
    popen, pids = _spawn(tmp_path, ignore=ignore, escape=False)
    try:
        assert sorted(group_members(popen.pid)) == sorted(pids)
        start = time.monotonic()
        assert terminate_tree(popen.pid, grace=0.5)
        took = time.monotonic() - start
        assert _alive(pids) == []
        assert popen.wait(5) == (-9 if ignore else -15)
        assert took < 0.5 + 4.0  # SIGTERM ends it at once, or SIGKILL right after the grace
    finally:
        for pid in _alive(pids):
            os.kill(pid, 9)


def test_escaped_process_found_by_recorded_ref(tmp_path: Path) -> None:
    popen, pids = _spawn(tmp_path, ignore=True, escape=True)
    try:
        refs = snapshot_descendants(popen.pid)
        assert {r.pid for r in refs} == set(pids[1:])
        me = proc_ref(popen.pid)
        assert me is not None
        assert snapshot_descendants(popen.pid, me.create_time) == refs
        assert snapshot_descendants(popen.pid, me.create_time - 50) == set()  # a reused pid
        assert sorted(group_members(popen.pid)) == sorted(pids[:2])  # the grandchild left
        assert terminate_tree(popen.pid, pids=refs, grace=0.3)
        assert _alive(pids) == []
    finally:
        popen.wait(5)
        for pid in _alive(pids):
            os.kill(pid, 9)


def test_escaped_process_found_by_environment_marker(tmp_path: Path) -> None:
    marker = {"HYPERLOOM_TRIAL_ID": uuid.uuid4().hex, "HYPERLOOM_EXPERIMENT_ID": "procs-test"}
    popen, pids = _spawn(tmp_path, ignore=False, escape=True, env=marker)
    try:
        assert {r.pid for r in find_marked(marker)} == set(pids)
        # no recorded refs: only the marker scan can find the escapee
        assert asyncio.run(aterminate_tree(popen.pid, grace=0.3, marker=marker))
        assert _alive(pids) == []
        assert find_marked(marker) == set()
    finally:
        popen.wait(5)
        for pid in _alive(pids):
            os.kill(pid, 9)


def test_find_marked_never_returns_this_process() -> None:
    os.environ["HYPERLOOM_PROCS_SELF_TEST"] = "1"
    try:
        assert os.getpid() not in {r.pid for r in find_marked({"HYPERLOOM_PROCS_SELF_TEST": "1"})}
    finally:
        del os.environ["HYPERLOOM_PROCS_SELF_TEST"]


def test_procref_does_not_match_a_reused_pid() -> None:
    me = proc_ref(os.getpid())
    assert me is not None and me.process() is not None
    assert ProcRef(me.pid, me.create_time - 100).process() is None
    assert proc_ref(2**22 + 12345) is None


def test_terminate_tree_of_vanished_group_is_quick() -> None:
    popen = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    popen.wait(10)
    start = time.monotonic()
    assert terminate_tree(popen.pid, grace=5.0)
    assert time.monotonic() - start < 3.0  # far below the 5 s grace, with room for a loaded machine
