"""Hardening class 3: no trial process outlives its trial. A trial that double-forks a ``setsid``
daemon and execs it with an empty environment (no marker to find it by) leaves nothing running
after its natural exit, a kill, ``hyperloom stop`` or Ctrl-C: the manager is a child subreaper,
the daemon is re-parented to it, and every trial end sweeps what no running trial can own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited
from hyperloom.procs import adopted_children, is_child_subreaper, set_child_subreaper

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")

# argv: pidfile, seconds to stay up after the daemon is out, daemon command ("sleep" or "tree")
DAEMONIZER = """
import os, sys, time
pidfile, hold, kind = sys.argv[1], float(sys.argv[2]), sys.argv[3]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(r)
        os.write(w, f"{os.getpid()}\\n".encode())
        os.close(w)
        if kind == "tree":  # a daemon with a worker of its own
            os.execve("/bin/sh", ["sh", "-c", "sleep 300 & sleep 301; wait"], {})
        os.execve("/bin/sleep", ["sleep", "300"], {})  # an empty environment: no marker
    os._exit(0)
os.close(w)
daemon = int(os.read(r, 100).decode())
os.waitpid(pid, 0)
with open(pidfile, "a") as f:
    f.write(f"{daemon}\\n")
time.sleep(hold)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _tree(pid: int) -> list[int]:
    try:
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return [pid]


def _wait_pids(pidfile: Path, n: int = 1, timeout: float = 20) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pidfile.exists():
            pids = [int(x) for x in pidfile.read_text().split()]
            if len(pids) >= n:
                return pids
        time.sleep(0.02)
    raise AssertionError("the trial never wrote its daemon's pid")


class _Run:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.events: list[Any] = []
        self.script = tmp_path / "daemonizer.py"
        self.script.write_text(textwrap.dedent(DAEMONIZER))
        self.ex = LocalExecutor(
            experiment_dir=tmp_path, emit=self.events.append, options={"exit_grace": 0.5}
        )

    def spec(self, tid: str, hold: float, kind: str = "sleep") -> LaunchSpec:
        d = self.tmp / "trials" / tid
        d.mkdir(parents=True, exist_ok=True)
        (d / "params.json").write_text("{}")
        cmd = f"{sys.executable} {self.script} {d / 'daemon.pid'} {hold} {kind}"
        return LaunchSpec(tid, "exp-procs", 1, cmd, d, d, {}, {})

    def pidfile(self, tid: str) -> Path:
        return self.tmp / "trials" / tid / "daemon.pid"

    def exited(self, tid: str) -> bool:
        return any(isinstance(e, TrialExited) and e.trial_id == tid for e in self.events)

    async def until_exit(self, tid: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while not self.exited(tid):
            assert time.monotonic() < end, f"trial {tid} did not end"
            await asyncio.sleep(0.02)


def test_subreaper_switch_and_what_it_adopts(tmp_path: Path) -> None:
    before = is_child_subreaper()
    assert set_child_subreaper(True) and is_child_subreaper()
    try:
        script = tmp_path / "d.py"
        script.write_text(textwrap.dedent(DAEMONIZER))
        pidfile = tmp_path / "pid"
        subprocess.run([sys.executable, str(script), str(pidfile), "0", "sleep"], check=True)
        daemon = _wait_pids(pidfile)[0]
        assert psutil.Process(daemon).ppid() == __import__("os").getpid()  # re-parented to us
        assert daemon in [r.pid for r in adopted_children()]
        psutil.Process(daemon).kill()
        psutil.Process(daemon).wait(5)
    finally:
        set_child_subreaper(before)
    assert is_child_subreaper() == before


def test_a_daemon_with_a_cleared_environment_ends_with_its_trial(tmp_path: Path) -> None:
    run = _Run(tmp_path)
    daemons: list[int] = []

    async def main() -> None:
        await run.ex.start(run.spec("T1", hold=0.3))
        daemons.extend(await asyncio.to_thread(_wait_pids, run.pidfile("T1")))
        assert _alive(daemons[0])
        await run.until_exit("T1")
        await asyncio.sleep(0.1)
        assert not _alive(daemons[0]), "the daemon outlived its trial's natural exit"
        await run.ex.close(grace=1)

    asyncio.run(main())
    assert run.ex.orphans_ended >= 1
    assert not is_child_subreaper()  # the executor put the process back as it found it


def test_a_daemon_tree_ends_when_its_trial_is_killed(tmp_path: Path) -> None:
    run = _Run(tmp_path)
    tree: list[int] = []

    async def main() -> None:
        await run.ex.start(run.spec("T1", hold=60, kind="tree"))
        daemon = (await asyncio.to_thread(_wait_pids, run.pidfile("T1")))[0]
        end = time.monotonic() + 10
        while len(_tree(daemon)) < 3 and time.monotonic() < end:  # sh, and its two sleeps
            await asyncio.sleep(0.02)
        tree.extend(_tree(daemon))
        await run.ex.kill("T1", grace=1)
        assert run.exited("T1")
        assert [p for p in tree if _alive(p)] == [], "the daemon or its worker survived a kill"
        await run.ex.close(grace=1)

    asyncio.run(main())
    assert len(tree) >= 3


def test_a_running_trials_daemon_is_left_alone_until_that_trial_ends(tmp_path: Path) -> None:
    """Concurrency 2: the short trial's end must not take the long one's daemon with it."""
    run = _Run(tmp_path)

    async def main() -> None:
        await run.ex.start(run.spec("LONG", hold=2.0))
        long_daemon = (await asyncio.to_thread(_wait_pids, run.pidfile("LONG")))[0]
        await asyncio.sleep(1.2)  # the periodic scan adopts it while both may run
        await run.ex.start(run.spec("SHORT", hold=0.0))
        short_daemon = (await asyncio.to_thread(_wait_pids, run.pidfile("SHORT")))[0]
        await run.until_exit("SHORT")
        await asyncio.sleep(0.1)
        assert _alive(long_daemon), "a running trial's daemon was killed"
        await run.until_exit("LONG")
        await asyncio.sleep(0.1)
        assert not _alive(long_daemon) and not _alive(short_daemon)
        await run.ex.close(grace=1)

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------
# the real CLI

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def _config(tmp_path: Path, hold: float, n: int) -> Path:
    import yaml

    script = tmp_path / "daemonizer.py"
    script.write_text(textwrap.dedent(DAEMONIZER))
    cfg = {
        "experimentName": "daemons",
        "trialCommand": f"{sys.executable} {script} {tmp_path / 'daemons.pid'} {hold} tree",
        "trialCodeDirectory": str(tmp_path),
        "trialConcurrency": 2,
        "maxTrialNumber": n,
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": {"name": "random"},
        "stopGracePeriod": 1,
        "dashboard": False,
    }
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _trees(pids: list[int]) -> list[int]:
    return [p for d in pids for p in _tree(d)]


def test_cli_run_leaves_no_daemon_behind(tmp_path: Path) -> None:
    n = 3
    out = subprocess.run(
        [*HYPERLOOM, "run", str(_config(tmp_path, 0.2, n))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # the trials only daemonize and report nothing: none succeeds, so the run exits 1
    assert out.returncode == 1 and "No trial succeeded" in out.stdout, out.stderr
    daemons = _wait_pids(tmp_path / "daemons.pid", n)
    time.sleep(0.2)
    assert [p for p in daemons if _alive(p)] == []


@pytest.mark.parametrize("how", ["stop", "ctrl-c"])
def test_cli_stop_and_ctrl_c_leave_no_daemon_behind(tmp_path: Path, how: str) -> None:
    proc = subprocess.Popen(
        [*HYPERLOOM, "run", str(_config(tmp_path, 60, 4))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    exp_id = proc.stdout.readline().split()[1]
    daemons = _wait_pids(tmp_path / "daemons.pid", 2)
    time.sleep(0.3)
    tree = _trees(daemons)
    assert len(tree) >= 4
    if how == "stop":
        res = subprocess.run([*HYPERLOOM, "stop", exp_id], capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr
    else:
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    time.sleep(0.2)
    assert [p for p in tree if _alive(p)] == [], f"survived {how}"


def test_a_daemon_adopted_before_the_manager_is_killed_is_ended_by_resume(tmp_path: Path) -> None:
    """kill -9 of the manager after it adopted a trial's daemon (empty environment, so no marker
    finds it): the record it left lets the resumed manager end it, and the daemon's own workers
    (children of the daemon, not of the manager) with it. The trials hold 5 s, so they are still
    running to be re-attached, and their daemons are not yet ended by their own trial's end."""
    proc = subprocess.Popen(
        [*HYPERLOOM, "run", str(_config(tmp_path, 5.0, 3))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    exp_id = proc.stdout.readline().split()[1]
    daemons = _wait_pids(tmp_path / "daemons.pid", 1)
    home = Path(__import__("os").environ["HYPERLOOM_HOME"])
    strays = home / exp_id / ".strays.jsonl"
    end = time.monotonic() + 20
    while not (strays.exists() and str(daemons[0]) in strays.read_text()):
        assert time.monotonic() < end, "the daemon was never adopted"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the daemons it had adopted (one made in the last scan interval may not be yet)
    adopted = {int(json.loads(line)["pid"]) for line in strays.read_text().splitlines()}
    tree = _trees(sorted(adopted))
    assert [p for p in tree if _alive(p)], "the daemon should outlive the killed manager"
    res = subprocess.run(
        [*HYPERLOOM, "resume", exp_id, "--no-dashboard"], capture_output=True, timeout=120
    )
    # its trials only daemonize and report nothing: none succeeds, so resume exits 1
    assert res.returncode == 1 and b"No trial succeeded" in res.stdout, res.stderr
    time.sleep(0.2)
    assert [p for p in tree if _alive(p)] == [], "an adopted daemon survived kill -9 + resume"
    assert not strays.exists()
    for p in _trees(_wait_pids(tmp_path / "daemons.pid", 3)):  # leave nothing for other tests
        with contextlib.suppress(psutil.Error):
            psutil.Process(p).kill()
