"""Hardening class 9: channel edges. A trial that truncates, replaces or rewrites its
``metrics.jsonl`` gets a recorded rejection and loses or repeats no step; socket trials journal
every line to the file, so a manager killed with messages in flight loses none, and the copy that
comes both ways is delivered once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hyperloom.channel import ChannelError, FileTail, Message
from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited, TrialMessage, TrialRejected


def _line(step: int | None, value: float, kind: str = "metric", t: float = 1.0) -> bytes:
    msg: dict[str, Any] = {"v": 1, "type": kind, "value": value, "t": t}
    if step is not None:
        msg["step"] = step
    return (json.dumps(msg) + "\n").encode()


def _steps(items: list[Message | ChannelError]) -> list[int | None]:
    return [m.step for m in items if isinstance(m, Message) and m.type == "metric"]


def _errors(items: list[Message | ChannelError]) -> list[str]:
    return [e.reason for e in items if isinstance(e, ChannelError)]


# ------------------------------------------------------------------------------------------------
# FileTail on its own


def test_truncate_and_rewrite_shorter_is_reported_and_not_repeated(tmp_path: Path) -> None:
    f = tmp_path / "metrics.jsonl"
    f.write_bytes(b"".join(_line(i, i / 10, t=100 + i) for i in range(5)))
    tail = FileTail(f)
    assert _steps(tail.read()) == [0, 1, 2, 3, 4]
    f.write_bytes(_line(3, 0.3, t=103) + _line(5, 0.5, t=105))  # O_TRUNC: shorter than before
    got = tail.read()
    assert len(_errors(got)) == 1 and "shrank" in _errors(got)[0]
    assert "steps up to 4" in _errors(got)[0]
    assert _steps(got) == [5]  # 3 came before; 5 is new
    tail.close()


def test_truncate_and_rewrite_longer_between_reads_is_caught_by_the_newline_check(
    tmp_path: Path,
) -> None:
    f = tmp_path / "metrics.jsonl"
    f.write_bytes(_line(0, 0.0, t=100) + _line(1, 0.1, t=101))
    tail = FileTail(f)
    assert _steps(tail.read()) == [0, 1]
    # the same inode, truncated and written past the old offset with other lines
    with open(f, "r+b") as fh:
        fh.truncate(0)
        fh.write(_line(0, 0.0, t=100.5) + _line(1, 0.1, t=101.5) + _line(2, 0.2, t=102))
    got = tail.read()
    assert len(_errors(got)) == 1 and "rewritten" in _errors(got)[0]
    assert _steps(got) == [2]
    assert tail.rewrites == 1
    tail.close()


def test_replacing_the_file_by_rename_is_detected_and_the_old_tail_is_kept(tmp_path: Path) -> None:
    f = tmp_path / "metrics.jsonl"
    f.write_bytes(_line(0, 0.0, t=100))
    tail = FileTail(f)
    assert _steps(tail.read()) == [0]
    with open(f, "ab") as fh:
        fh.write(_line(1, 0.1, t=101))  # appended to the old file, not read yet
    new = tmp_path / "new.jsonl"
    new.write_bytes(b"".join(_line(i, i / 10, t=200 + i) for i in range(4)))
    os.replace(new, f)
    got = tail.read()
    assert _steps(got) == [1, 2, 3]  # old file's last line, then the new file's new steps
    assert len(_errors(got)) == 1 and "new inode" in _errors(got)[0]
    with open(f, "ab") as fh:
        fh.write(_line(4, 0.4, t=204))
    assert _steps(tail.read()) == [4]  # and it keeps following the new file
    tail.close()


def test_a_repeated_final_after_a_rewrite_is_not_delivered_again(tmp_path: Path) -> None:
    f = tmp_path / "metrics.jsonl"
    f.write_bytes(_line(0, 0.0) + _line(None, 0.9, "final"))
    tail = FileTail(f)
    assert [m.type for m in tail.read() if isinstance(m, Message)] == ["metric", "final"]
    f.write_bytes(_line(None, 0.9, "final"))
    got = tail.read()
    assert not [m for m in got if isinstance(m, Message)]
    assert "the final report" in _errors(got)[0]
    tail.close()


def test_plain_appends_never_look_like_a_rewrite(tmp_path: Path) -> None:
    f = tmp_path / "metrics.jsonl"
    tail = FileTail(f)
    seen: list[int | None] = []
    with open(f, "ab", buffering=0) as fh:
        for i in range(200):
            data = _line(i, float(i), t=float(i))
            cut = (i * 7) % len(data)  # lines land in two pieces, split anywhere
            fh.write(data[:cut])
            seen += _steps(tail.read())
            fh.write(data[cut:])
            seen += _steps(tail.read())
    assert seen == list(range(200)) and tail.rewrites == 0
    tail.close()


# ------------------------------------------------------------------------------------------------
# through the executor, with real trial processes

REWRITER = """
import json, os, time
path = os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "metrics.jsonl")
def line(step, t):
    return json.dumps({"v": 1, "type": "metric", "step": step, "value": step / 10, "t": t}) + "\\n"
with open(path, "a") as f:
    for i in range(4):
        f.write(line(i, 100 + i)); f.flush(); time.sleep(0.05)
time.sleep(0.3)
with open(path + ".tmp", "w") as f:  # the whole history again plus two new steps, renamed over
    f.write("".join(line(i, 100 + i) for i in range(6)))
os.replace(path + ".tmp", path)
time.sleep(0.3)
with open(path, "w") as f:  # and truncated to the last two
    f.write(line(5, 105) + line(6, 106))
time.sleep(0.3)
"""


def _spec(tmp_path: Path, trial_id: str, script: Path) -> LaunchSpec:
    trial_dir = tmp_path / "trials" / trial_id
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "params.json").write_text("{}")
    return LaunchSpec(
        trial_id=trial_id,
        experiment_id="exp-chan",
        sequence=1,
        command=f"{sys.executable} {script}",
        cwd=trial_dir,
        trial_dir=trial_dir,
        env={},
        params={},
    )


def _run_one(tmp_path: Path, script_text: str, channel: str = "file") -> list[Any]:
    script = tmp_path / "trial.py"
    script.write_text(textwrap.dedent(script_text))
    events: list[Any] = []

    async def main() -> None:
        ex = LocalExecutor(experiment_dir=tmp_path, emit=events.append, channel=channel)
        await ex.open()
        await ex.start(_spec(tmp_path, "t1", script))
        end = time.monotonic() + 30
        while not any(isinstance(e, TrialExited) for e in events):
            assert time.monotonic() < end, "the trial did not end"
            await asyncio.sleep(0.02)
        await ex.close(grace=1)

    asyncio.run(main())
    return events


def test_a_trial_rewriting_its_metrics_file_loses_and_repeats_nothing(tmp_path: Path) -> None:
    events = _run_one(tmp_path, REWRITER)
    steps = [e.message.step for e in events if isinstance(e, TrialMessage)]
    assert steps == list(range(7)), steps
    reasons = [e.reason for e in events if isinstance(e, TrialRejected)]
    assert len(reasons) == 2, reasons
    assert "new inode" in reasons[0] and "shrank" in reasons[1]
    assert isinstance(events[-1], TrialExited) and events[-1].exit_code == 0


SOCKET_TRIAL = """
from hyperloom import trials
for i in range(300):
    trials.report(i / 1000, step=i)
trials.report_final(0.5)
"""


@pytest.mark.parametrize("channel", ["tcp", "unix"])
def test_socket_messages_are_journaled_and_delivered_once(tmp_path: Path, channel: str) -> None:
    events = _run_one(tmp_path, SOCKET_TRIAL, channel)
    msgs = [e.message for e in events if isinstance(e, TrialMessage)]
    assert [m.step for m in msgs if m.type == "metric"] == list(range(300))
    assert [m.value for m in msgs if m.type == "final"] == [0.5]
    journal = (tmp_path / "trials" / "t1" / "metrics.jsonl").read_bytes().splitlines()
    assert len(journal) == 301  # every line is in the file too
    assert not [e for e in events if isinstance(e, TrialRejected)]


def test_the_journal_alone_carries_the_reports_when_the_socket_is_gone(tmp_path: Path) -> None:
    """The socket client journals before it sends: with the server gone mid-run, send() does not
    raise and every report is in the file."""
    import socket as socketlib

    from hyperloom.trials._socket import SocketClient

    server = socketlib.socket(socketlib.AF_INET, socketlib.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    journal = tmp_path / "metrics.jsonl"
    client = SocketClient(
        f"tcp://127.0.0.1:{port}", "tok", "T1", lambda: None, journal=str(journal)
    )

    import threading

    def accept() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b'{"v":1,"type":"welcome"}\n')
        time.sleep(0.1)
        conn.close()  # the manager dies

    th = threading.Thread(target=accept)
    th.start()
    client.connect()
    th.join()
    server.close()
    time.sleep(0.2)
    for i in range(50):
        client.send(_line(i, float(i), t=float(i)))
    client.close()
    tail = FileTail(journal)
    assert _steps(tail.read()) == list(range(50))
    tail.close()


def test_kill_9_of_the_manager_loses_no_socket_message(tmp_path: Path) -> None:
    """Real CLI, tcp channel, trials reporting as fast as they can: the manager is killed -9
    twice mid-stream and resumed; every trial that succeeded has every one of its steps, once."""
    import random
    import signal
    import sqlite3

    from test_engine import config, first_line_id, start_cli, write_config

    n_steps, n_trials = 400, 4
    space = {
        "steps": {"_type": "choice", "_value": [n_steps]},
        "sleep": {"_type": "choice", "_value": [0.002]},
        "a": {"_type": "uniform", "_value": [0, 1]},
    }
    cfg = config(space, maxTrialNumber=n_trials, trialConcurrency=2, channel="tcp")
    proc = start_cli(["run", str(write_config(tmp_path, cfg)), "--no-dashboard"])
    exp_id = first_line_id(proc)
    exp_dir = Path(os.environ["HYPERLOOM_HOME"]) / exp_id
    end = time.monotonic() + 60
    while not list(exp_dir.glob("trials/*/metrics.jsonl")):  # killed mid-stream, not at startup
        assert time.monotonic() < end and proc.poll() is None, "no trial started"
        time.sleep(0.02)
    rng = random.Random(16)
    for _ in range(2):
        time.sleep(rng.uniform(0.2, 0.8))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc = start_cli(["resume", exp_id, "--no-dashboard"])
    assert proc.wait(timeout=180) == 0, proc.stderr.read() if proc.stderr else ""
    db = exp_dir / "experiment.db"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT trial_id, status FROM trials").fetchall()
    checked = 0
    for trial_id, status in rows:
        if status != "SUCCEEDED":
            continue
        steps = [s for (s,) in conn.execute(
            "SELECT step FROM metrics WHERE trial_id = ? ORDER BY step", (trial_id,)
        )]  # fmt: skip
        assert steps == list(range(n_steps)), (trial_id, len(steps))
        checked += 1
    conn.close()
    assert checked >= n_trials - 1, rows


# ------------------------------------------------------------------------------------------------
# property: whatever mix of appends, in-place rewrites, renames over and truncations a trial
# does between reads, no step is delivered twice, steps come in order, and every step still in
# the file at the end has been delivered

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["append", "rewrite", "replace", "truncate", "read"]), st.integers(0, 4)
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
def test_any_rewrite_pattern_delivers_each_step_at_most_once_in_order(
    ops: list[tuple[str, int]], tmp_path: Path
) -> None:
    import tempfile

    d = Path(tempfile.mkdtemp(dir=tmp_path))
    f = d / "metrics.jsonl"
    f.write_bytes(b"")
    tail = FileTail(f)
    written: list[int] = []  # the trial's whole history
    delivered: list[int | None] = []

    def body(steps: list[int]) -> bytes:
        return b"".join(_line(s, float(s), t=1000.0 + s) for s in steps)

    for op, k in ops:
        new = list(range(len(written), len(written) + k))
        if op == "append":
            with open(f, "ab") as fh:
                fh.write(body(new))
            written += new
        elif op == "rewrite":  # same inode: the whole history again, plus new steps
            written += new
            with open(f, "r+b") as fh:
                fh.truncate(0)
                fh.write(body(written))
        elif op == "replace":  # written elsewhere and renamed over
            written += new
            (d / "tmp").write_bytes(body(written))
            os.replace(d / "tmp", f)
        elif op == "truncate":  # only the last k steps kept
            f.write_bytes(body(written[-k:] if k else []))
        delivered += _steps(tail.read())
    delivered += _steps(tail.read())
    tail.close()
    assert len(delivered) == len(set(delivered)), delivered
    assert delivered == sorted(delivered), delivered  # type: ignore[type-var]
    in_file = _steps(FileTail(f).read())
    assert set(in_file) <= set(delivered), (in_file, delivered)
