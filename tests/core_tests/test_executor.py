"""LocalExecutor with real subprocess trials, real files and real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from hyperloom.executor import (
    ExecutorEvent,
    LaunchSpec,
    LocalExecutor,
    TrialExited,
    TrialMessage,
    TrialRejected,
)
from hyperloom.procs import find_marked

PY = shlex.quote(sys.executable)

REPORTER = """
import os, sys
from hyperloom import trials
p = trials.get_params()
for i in range(p["n"]):
    trials.report(i / 10, extra=i)
trials.report_final(1.5, who=trials.trial_id(), exp=trials.experiment_id())
print("hello from", trials.trial_id())
"""

STOPPABLE = """
import time
from hyperloom import trials
step = 0
while not trials.should_stop():
    trials.report(step)
    step += 1
    time.sleep(0.02)
trials.report_final(-1.0)
"""

# forks a grandchild that ignores SIGTERM (and ignores it itself when asked), records pids
FORKER = """
import os, signal, subprocess, sys, time
ignore = sys.argv[1] == "1"
if ignore:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"],
    start_new_session=sys.argv[2] == "1")
with open("pids.txt", "w") as f:
    f.write(f"{os.getpid()} {child.pid}\\n")
time.sleep(120)
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


class Harness:
    def __init__(self, tmp_path: Path, channel: str = "file", **options: Any) -> None:
        self.tmp = tmp_path
        self.events: list[ExecutorEvent] = []
        self.ex = LocalExecutor(
            experiment_dir=tmp_path, emit=self.events.append, channel=channel, options=options
        )

    def spec(
        self,
        trial_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> LaunchSpec:
        trial_dir = self.tmp / "trials" / trial_id
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "params.json").write_text(json.dumps(params or {}))
        return LaunchSpec(
            trial_id=trial_id,
            experiment_id="exp-" + self.tmp.name[-12:],
            sequence=1,
            command=command,
            cwd=cwd or trial_dir,
            trial_dir=trial_dir,
            env=env or {},
            params=params or {},
        )

    def exits(self, trial_id: str) -> list[TrialExited]:
        return [e for e in self.events if isinstance(e, TrialExited) and e.trial_id == trial_id]

    def messages(self, trial_id: str) -> list[TrialMessage]:
        return [e for e in self.events if isinstance(e, TrialMessage) and e.trial_id == trial_id]

    async def wait_exit(self, trial_id: str, timeout: float = 30.0) -> TrialExited:
        await until(lambda: bool(self.exits(trial_id)), timeout)
        return self.exits(trial_id)[0]


async def until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        await asyncio.sleep(0.01)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("channel", ["file", "tcp", "unix"])
def test_trial_reports_reach_manager_before_exit(tmp_path: Path, channel: str) -> None:
    script = _write(tmp_path / "reporter.py", REPORTER)

    async def main() -> None:
        h = Harness(tmp_path, channel)
        await h.ex.open()
        spec = h.spec("t1", f"{PY} {script}", {"n": 3})
        handle = await h.ex.start(spec)
        assert handle["pid"] > 0 and handle["create_time"] > 0
        assert "token" not in handle and (handle["token_sha256"] is None) == (channel == "file")
        exited = await h.wait_exit("t1")
        await h.ex.close(grace=1)
        assert exited.exit_code == 0 and exited.reason is None
        assert h.events[-1] == exited  # every message before the exit
        msgs = [m.message for m in h.messages("t1")]
        assert [(m.type, m.step, m.value) for m in msgs] == [
            ("metric", 0, 0.0),
            ("metric", 1, 0.1),
            ("metric", 2, 0.2),
            ("final", None, 1.5),
        ]
        assert msgs[-1].metrics == {"who": "t1", "exp": spec.experiment_id}
        assert "hello from t1" in (spec.trial_dir / "stdout.log").read_text()
        # socket trials journal every line to the file too; each message still came once
        assert (spec.trial_dir / "metrics.jsonl").exists()
        if channel == "file":
            assert h.messages("t1")[-1].offset == (spec.trial_dir / "metrics.jsonl").stat().st_size

    run(main)


def test_command_not_found_exits_127_with_reason(tmp_path: Path) -> None:
    async def main() -> None:
        h = Harness(tmp_path)
        await h.ex.start(h.spec("t1", "no-such-command-hyperloom --lr 0.1"))
        exited = await h.wait_exit("t1")
        await h.ex.close(grace=1)
        assert exited.exit_code == 127
        assert exited.reason and "no-such-command-hyperloom" in exited.reason
        assert "not found" in exited.reason

    run(main)


def test_missing_working_directory_is_a_clear_failure(tmp_path: Path) -> None:
    async def main() -> None:
        h = Harness(tmp_path)
        handle = await h.ex.start(h.spec("t1", f"{PY} -c pass", cwd=tmp_path / "nowhere"))
        exited = await h.wait_exit("t1")
        await h.ex.close(grace=1)
        assert handle["pid"] is None
        assert exited.exit_code == 127
        assert exited.reason and "working directory" in exited.reason

    run(main)


def test_nonzero_exit_and_signal_reasons(tmp_path: Path) -> None:
    async def main() -> None:
        h = Harness(tmp_path)
        await h.ex.start(h.spec("a", f"{PY} -c \"import sys; sys.exit('boom: bad lr')\""))
        suicide = _write(tmp_path / "suicide.py", "import os\nos.kill(os.getpid(), 9)\n")
        await h.ex.start(h.spec("b", f"{PY} {suicide}"))  # executed directly: a real signal
        await h.ex.start(h.spec("d", f"{PY} {suicide} && true"))  # through /bin/sh
        await h.ex.start(h.spec("c", "exit 3"))  # a shell builtin, through /bin/sh
        a, b, c, d = [await h.wait_exit(t) for t in "abcd"]
        await h.ex.close(grace=1)
        assert a.exit_code == 1 and a.reason == "exit code 1: boom: bad lr"
        assert b.exit_code == -9 and b.reason == "killed by SIGKILL"
        assert c.exit_code == 3
        assert d.exit_code == 128 + 9 and d.reason == "exit code 137: Killed"  # the shell's way

    run(main)


def test_bad_channel_lines_are_rejected_not_fatal(tmp_path: Path) -> None:
    script = _write(
        tmp_path / "garbage.py",
        """
        import os
        fd = os.open("metrics.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, b"not json\\n")
        os.write(fd, b'{"type":"metric","value":NaN}\\n')
        os.write(fd, b'{"type":"metric","value":"high"}\\n')
        os.write(fd, b'{"type":"surprise","value":1}\\n')
        os.write(fd, b'{"type":"metric","value":1,"pad":"' + b"z" * (10 * 1024 * 1024) + b'"}\\n')
        os.write(fd, b'{"type":"final","value":0.25}\\n')
        """,
    )

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{PY} {script}")
        await h.ex.start(spec)
        exited = await h.wait_exit("t1")
        await h.ex.close(grace=1)
        assert exited.exit_code == 0
        reasons = [e.reason for e in h.events if isinstance(e, TrialRejected)]
        assert len(reasons) == 5
        assert "not valid JSON" in reasons[0] and "not valid JSON" in reasons[1]
        assert "must be a number" in reasons[2] and "unknown message type" in reasons[3]
        assert "over the 64 KiB limit" in reasons[4]
        assert [m.message.value for m in h.messages("t1")] == [0.25]

    run(main)


@pytest.mark.parametrize("channel", ["file", "tcp"])
def test_request_stop_is_cooperative(tmp_path: Path, channel: str) -> None:
    script = _write(tmp_path / "stoppable.py", STOPPABLE)

    async def main() -> None:
        h = Harness(tmp_path, channel)
        await h.ex.start(h.spec("t1", f"{PY} {script}"))
        await until(lambda: len(h.messages("t1")) >= 2)
        await h.ex.request_stop("t1")
        exited = await h.wait_exit("t1", timeout=10)
        await h.ex.close(grace=1)
        assert exited.exit_code == 0
        assert h.messages("t1")[-1].message.type == "final"

    run(main)


@pytest.mark.parametrize(("ignore", "escape"), [(False, False), (True, False), (True, True)])
def test_kill_leaves_no_process(tmp_path: Path, ignore: bool, escape: bool) -> None:
    script = _write(tmp_path / "forker.py", FORKER)

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{PY} {script} {int(ignore)} {int(escape)}")
        await h.ex.start(spec)
        pids_file = spec.trial_dir / "pids.txt"
        await until(lambda: pids_file.exists() and pids_file.read_text().endswith("\n"))
        pids = [int(p) for p in pids_file.read_text().split()]
        assert len(_alive(pids)) == 2
        start = time.monotonic()
        await h.ex.kill("t1", grace=0.3)
        took = time.monotonic() - start
        assert h.exits("t1"), "kill returns after TrialExited"
        exited = h.exits("t1")[0]
        await h.ex.close(grace=1)
        assert _alive(pids) == []
        assert exited.exit_code == (-9 if ignore else -15)
        assert exited.reason and "killed by hyperloom" in exited.reason
        assert took < 5
        marker = {"HYPERLOOM_TRIAL_ID": "t1", "HYPERLOOM_EXPERIMENT_ID": spec.experiment_id}
        assert find_marked(marker) == set()

    run(main)


def test_close_kills_every_running_trial(tmp_path: Path) -> None:
    script = _write(tmp_path / "forker.py", FORKER)

    async def main() -> None:
        h = Harness(tmp_path, "tcp")
        specs = [h.spec(f"t{i}", f"{PY} {script} 1 {i % 2}") for i in range(2)]
        for spec in specs:
            await h.ex.start(spec)
        files = [s.trial_dir / "pids.txt" for s in specs]
        await until(lambda: all(f.exists() and f.read_text().endswith("\n") for f in files))
        pids = [int(p) for f in files for p in f.read_text().split()]
        await h.ex.close(grace=0.3)
        assert _alive(pids) == []
        assert sorted(e.trial_id for e in h.events if isinstance(e, TrialExited)) == ["t0", "t1"]

    run(main)


def test_processes_left_behind_by_a_finished_trial_are_ended(tmp_path: Path) -> None:
    script = _write(
        tmp_path / "leaver.py",
        """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open("pids.txt", "w").write(f"{child.pid}\\n")
        """,
    )

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{PY} {script}")
        await h.ex.start(spec)
        exited = await h.wait_exit("t1")
        pid = int((spec.trial_dir / "pids.txt").read_text())
        assert exited.exit_code == 0
        assert _alive([pid]) == []
        await h.ex.close(grace=1)

    run(main)


RESUMABLE = """
import json, os, sys, time
path = os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "metrics.jsonl")
def put(obj):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (json.dumps(obj) + "\\n").encode())
    os.close(fd)
put({"type": "metric", "step": 0, "value": 0.0})
put({"type": "metric", "step": 1, "value": 1.0})
go = os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "go")
while not os.path.exists(go):
    time.sleep(0.01)
put({"type": "metric", "step": 2, "value": 2.0})
put({"type": "final", "value": 3.0})
"""


def _start_orphan(h: Harness, spec: LaunchSpec) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Starts a trial the way a previous manager would have, and returns its handle."""
    env = {
        **os.environ,
        "HYPERLOOM_TRIAL_DIR": str(spec.trial_dir),
        "HYPERLOOM_TRIAL_ID": spec.trial_id,
        "HYPERLOOM_EXPERIMENT_ID": spec.experiment_id,
    }
    popen = subprocess.Popen(
        shlex.split(spec.command), cwd=spec.cwd, env=env, start_new_session=True
    )
    handle = {
        "pid": popen.pid,
        "pgid": popen.pid,
        "create_time": psutil.Process(popen.pid).create_time(),
        "host": os.uname().nodename,
        "token": None,
    }
    return popen, handle


def test_reattach_reads_on_from_offset(tmp_path: Path) -> None:
    script = _write(tmp_path / "resumable.py", RESUMABLE)

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{sys.executable} {script}")
        popen, handle = _start_orphan(h, spec)
        metrics = spec.trial_dir / "metrics.jsonl"
        await until(lambda: metrics.exists() and metrics.read_bytes().count(b"\n") == 2)
        offset = metrics.read_bytes().index(b"\n") + 1  # the old manager had seen step 0
        # reap in a thread, like init would for an orphan; the executor must poll, not wait
        threading.Thread(target=popen.wait, daemon=True).start()
        assert await h.ex.reattach(spec, handle, offset)
        await until(lambda: len(h.messages("t1")) == 1)
        (spec.trial_dir / "go").touch()
        exited = await h.wait_exit("t1")
        await h.ex.close(grace=1)
        assert [m.message.step for m in h.messages("t1")] == [1, 2, None]
        assert h.messages("t1")[-1].message.value == 3.0
        assert exited.exit_code is None and exited.reason and "unknown" in exited.reason
        assert h.events[-1] == exited

    run(main)


def test_reattach_to_a_gone_trial_returns_false(tmp_path: Path) -> None:
    script = _write(tmp_path / "resumable.py", RESUMABLE)

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{sys.executable} {script}")
        (spec.trial_dir / "go").touch()
        popen, handle = _start_orphan(h, spec)
        popen.wait(20)
        assert not await h.ex.reattach(spec, handle, 0)
        assert h.events == []
        # a live pid with another create time is a reused pid: gone as well
        other = dict(handle, pid=os.getpid())
        assert not await h.ex.reattach(spec, other, 10**9)
        await h.ex.close(grace=1)

    run(main)


def test_kill_a_reattached_trial(tmp_path: Path) -> None:
    script = _write(tmp_path / "resumable.py", RESUMABLE)

    async def main() -> None:
        h = Harness(tmp_path)
        spec = h.spec("t1", f"{sys.executable} {script}")
        popen, handle = _start_orphan(h, spec)
        threading.Thread(target=popen.wait, daemon=True).start()
        assert await h.ex.reattach(spec, handle, 0)
        await h.ex.kill("t1", grace=0.5)
        exited = h.exits("t1")[0]
        await h.ex.close(grace=1)
        assert exited.exit_code is None and exited.reason and "killed by hyperloom" in exited.reason
        assert _alive([handle["pid"]]) == []

    run(main)


def test_many_sequential_trials_leak_no_fds_or_threads(tmp_path: Path) -> None:
    me = psutil.Process()

    async def main() -> None:
        h = Harness(tmp_path, "tcp")
        await h.ex.open()
        await asyncio.sleep(0.05)
        # warm up once (thread pool workers for asyncio.to_thread are created lazily)
        for tid in ("w0", "w1"):
            await h.ex.start(h.spec(tid, f"{PY} -c pass"))
        for tid in ("w0", "w1"):
            await h.wait_exit(tid)
        fds, threads = me.num_fds(), me.num_threads()
        for i in range(0, 30, 2):
            for tid in (f"t{i}", f"t{i + 1}"):
                await h.ex.start(h.spec(tid, f"{PY} -c pass"))
            for tid in (f"t{i}", f"t{i + 1}"):
                assert (await h.wait_exit(tid)).exit_code == 0
        # a leak would be one or more per trial (30); a loaded machine may still hold the last
        # pair's pidfds or sockets for a moment, so a few are allowed
        assert me.num_fds() <= fds + 4, (fds, me.num_fds())
        # asyncio's default thread pool may add a worker or two; a thread per trial would add 30
        assert me.num_threads() <= threads + 4
        await h.ex.close(grace=1)

    run(main)
