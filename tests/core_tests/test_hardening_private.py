"""Hardening class 4: nobody else in. The experiment directory is 0700 and the store 0600, socket
tokens are never stored in clear, another local uid can neither read results nor inject them, and
the dashboard serves only a trial's own log files (no symlinks, no hard links, no FIFOs)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyperloom.channel import Message
from hyperloom.dashboard._files import read_tail, trial_log_path
from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited, TrialMessage
from hyperloom.paths import private_dir, private_file, tighten

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]

# a trial that records the token it was given, then reports over the tcp socket
TOKEN_TRIAL = """
import os, time
from hyperloom import trials
with open(os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "seen-token"), "w") as f:
    f.write(os.environ.get("HYPERLOOM_TOKEN", ""))
trials.report(0.5, step=0)
trials.report_final(0.75)
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ------------------------------------------------------------------------------------------------
# the path helpers


def test_private_dir_is_0700_even_under_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        d = private_dir(tmp_path / "a" / "exp")
        assert _mode(d) == 0o700
        loose = tmp_path / "loose"
        loose.mkdir(mode=0o777)
        os.chmod(loose, 0o777)
        assert _mode(private_dir(loose)) == 0o700  # an existing directory is tightened
    finally:
        os.umask(old)


def test_private_file_is_0600_and_refuses_what_exists(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        f = private_file(tmp_path / "experiment.db")
        assert _mode(f) == 0o600
        with pytest.raises(FileExistsError):
            private_file(f)
        (tmp_path / "target").write_text("x")
        (tmp_path / "link.db").symlink_to(tmp_path / "target")
        with pytest.raises(FileExistsError):
            private_file(tmp_path / "link.db")
    finally:
        os.umask(old)


def test_tighten_never_follows_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    target.write_text("x")
    os.chmod(target, 0o644)
    (tmp_path / "link").symlink_to(target)
    assert tighten(tmp_path / "link", 0o600) is False
    assert _mode(target) == 0o644
    assert tighten(target, 0o600) and _mode(target) == 0o600


# ------------------------------------------------------------------------------------------------
# socket tokens: the executor keeps only a digest, and the digest is enough to re-attach


def _spec(tmp_path: Path, trial_id: str, script: Path) -> LaunchSpec:
    trial_dir = tmp_path / "trials" / trial_id
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "params.json").write_text("{}")
    return LaunchSpec(
        trial_id=trial_id,
        experiment_id="exp-tok",
        sequence=1,
        command=f"{sys.executable} {script}",
        cwd=trial_dir,
        trial_dir=trial_dir,
        env={},
        params={},
    )


def test_handle_carries_a_digest_never_the_token(tmp_path: Path) -> None:
    script = tmp_path / "tok.py"
    script.write_text(textwrap.dedent(TOKEN_TRIAL))
    events: list[Any] = []

    async def main() -> dict[str, Any]:
        ex = LocalExecutor(experiment_dir=tmp_path, emit=events.append, channel="tcp")
        await ex.open()
        handle = await ex.start(_spec(tmp_path, "t1", script))
        end = time.monotonic() + 30
        while not any(isinstance(e, TrialExited) for e in events):
            assert time.monotonic() < end
            await asyncio.sleep(0.02)
        await ex.close(grace=1)
        return handle

    handle = asyncio.run(main())
    token = (tmp_path / "trials" / "t1" / "seen-token").read_text()
    assert len(token) >= 32
    assert "token" not in handle
    assert handle["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(handle)
    values = [e.message.value for e in events if isinstance(e, TrialMessage)]
    assert 0.75 in values and 0.5 in values  # the socket accepted the real token
    assert _mode(tmp_path) == 0o700  # the executor made its experiment directory private


def _hello(address: str, trial_id: str, token: str) -> bytes:
    host, _, port = address[len("tcp://") :].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        hello = {"v": 1, "type": "hello", "trial_id": trial_id, "token": token}
        s.sendall((json.dumps(hello) + "\n").encode())
        s.settimeout(5)
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        if reply:
            line = {"v": 1, "type": "final", "value": 666.0}
            s.sendall((json.dumps(line) + "\n").encode())
            time.sleep(0.2)
        return reply


def test_reattach_checks_the_token_against_the_stored_digest(tmp_path: Path) -> None:
    """A manager that re-attaches knows only the digest; the trial's real token still works, a
    forged one (or the digest itself, as a token) is dropped."""
    got: list[Message] = []

    async def main() -> tuple[bytes, bytes, bytes]:
        ex = LocalExecutor(experiment_dir=tmp_path, emit=lambda e: None, channel="tcp")
        await ex.open()
        from hyperloom._channel_socket import SocketServer, token_digest

        server = SocketServer()
        address = await server.start("tcp")
        digest = token_digest("s3cret-token-value")
        server.register("T1", None, got.append, lambda e: None, digest=digest)
        good = await asyncio.to_thread(_hello, address, "T1", "s3cret-token-value")
        forged = await asyncio.to_thread(_hello, address, "T1", "guess")
        as_token = await asyncio.to_thread(_hello, address, "T1", digest)
        await server.drain("T1", 1.0)
        await server.close()
        await ex.close(grace=1)
        return good, forged, as_token

    good, forged, as_token = asyncio.run(main())
    assert b"welcome" in good
    assert forged == b"" and as_token == b""
    assert [m.value for m in got] == [666.0]  # only the real token's message


# ------------------------------------------------------------------------------------------------
# a whole run: modes on disk, no token in the store, and another uid kept out


def _run_tcp_experiment(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "tok.py"
    script.write_text(textwrap.dedent(TOKEN_TRIAL))
    cfg = {
        "experimentName": "private",
        "trialCommand": f"{sys.executable} {script}",
        "trialCodeDirectory": str(tmp_path),
        "trialConcurrency": 1,
        "maxTrialNumber": 2,
        "channel": "tcp",
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": {"name": "random"},
        "dashboard": False,
    }
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    old = os.umask(0o022)
    try:
        out = subprocess.run(
            [*HYPERLOOM, "run", str(path)], capture_output=True, text=True, timeout=120
        )
    finally:
        os.umask(old)
    assert out.returncode == 0, (out.stdout, out.stderr)
    exp_id = out.stdout.split()[1]
    return exp_id, Path(os.environ["HYPERLOOM_HOME"]) / exp_id


def test_a_real_run_stores_no_token_and_keeps_its_directory_private(tmp_path: Path) -> None:
    _, exp_dir = _run_tcp_experiment(tmp_path)
    assert _mode(exp_dir) == 0o700
    tokens = [p.read_text() for p in exp_dir.glob("trials/*/seen-token")]
    assert len(tokens) == 2 and all(tokens)
    blobs = [exp_dir / "experiment.db", exp_dir / "manager.log"]
    blobs += [p for p in exp_dir.rglob("*") if p.is_file() and p.name != "seen-token"]
    for blob in blobs:
        data = blob.read_bytes()
        for token in tokens:
            assert token.encode() not in data, f"token in clear in {blob}"
    conn = sqlite3.connect(exp_dir / "experiment.db")
    handles = [json.loads(h) for (h,) in conn.execute("SELECT handle_json FROM trials")]
    conn.close()
    digests = {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert {h["token_sha256"] for h in handles} == digests


def test_the_store_file_is_0600(tmp_path: Path) -> None:
    _, exp_dir = _run_tcp_experiment(tmp_path)
    for name in ("experiment.db", "experiment.db-wal", "experiment.db-shm"):
        if (exp_dir / name).exists():
            assert _mode(exp_dir / name) & 0o077 == 0, name


def _nobody_can_run() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


@pytest.mark.skipif(not _nobody_can_run(), reason="needs root and setpriv to act as nobody")
def test_uid_nobody_can_read_nothing_of_an_experiment(tmp_path: Path) -> None:
    """As ``nobody`` (a real second uid): the store, a trial's files and the directory listing
    are all refused."""
    os.chmod(tmp_path, 0o755)  # the test's own folders are traversable; the experiment is not
    home = Path(os.environ["HYPERLOOM_HOME"])
    for p in [home, *home.parents]:
        if p == Path("/"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o011)
    _, exp_dir = _run_tcp_experiment(tmp_path)
    probe = textwrap.dedent(
        """
        import sys
        out = []
        for p in sys.argv[1:]:
            try:
                with open(p, "rb") as f:
                    f.read(1)
                out.append("READ " + p)
            except OSError as e:
                out.append(f"DENIED {e.errno}")
        try:
            import os
            os.listdir(sys.argv[1].rsplit("/", 1)[0])
            out.append("LISTED")
        except OSError:
            out.append("NOLIST")
        print("\\n".join(out))
        """
    )
    targets = [exp_dir / "experiment.db", next(exp_dir.glob("trials/*/seen-token"))]
    res = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         sys.executable, "-c", probe, *map(str, targets)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert "READ" not in lines and "LISTED" not in lines, res.stdout
    assert lines.count("DENIED") == len(targets) and "NOLIST" in lines


# ------------------------------------------------------------------------------------------------
# the dashboard serves only the trial's own files


def _trial(tmp_path: Path) -> Path:
    d = tmp_path / "trials" / "T0001"
    d.mkdir(parents=True)
    return d


def test_dashboard_serves_a_plain_log(tmp_path: Path) -> None:
    (_trial(tmp_path) / "stdout.log").write_text("line 1\nline 2\n")
    out = read_tail(trial_log_path(tmp_path, "T0001", "stdout.log"))
    assert out["exists"] and out["text"] == "line 1\nline 2\n" and "refused" not in out


def test_dashboard_refuses_a_hard_link_to_a_file_elsewhere(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    os.link(secret, _trial(tmp_path) / "stdout.log")
    out = read_tail(trial_log_path(tmp_path, "T0001", "stdout.log"))
    assert "TOP-SECRET" not in str(out["text"])
    assert "hard links" in str(out["refused"])


def test_dashboard_refuses_a_symlinked_log(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    (_trial(tmp_path) / "stderr.log").symlink_to(secret)
    out = read_tail(trial_log_path(tmp_path, "T0001", "stderr.log"))
    assert "TOP-SECRET" not in str(out["text"]) and "symbolic link" in str(out["refused"])


def test_dashboard_refuses_a_symlinked_trial_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "stdout.log").write_text("TOP-SECRET\n")
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "T0001").symlink_to(elsewhere)
    out = read_tail(trial_log_path(tmp_path, "T0001", "stdout.log"))
    assert "TOP-SECRET" not in str(out["text"]) and out.get("refused")


def test_dashboard_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(_trial(tmp_path) / "stdout.log")
    start = time.monotonic()
    out = read_tail(trial_log_path(tmp_path, "T0001", "stdout.log"))
    assert time.monotonic() - start < 2
    assert "not a regular file" in str(out["refused"])


SLEEPER = """
import time
from hyperloom import trials
trials.report(0.1, step=0)
time.sleep(3)
trials.report_final(0.2)
"""

INJECT_AS_NOBODY = """
import json, socket, sys
pid, address = int(sys.argv[1]), sys.argv[2]
try:
    open(f"/proc/{pid}/environ", "rb").read()
    print("ENVIRON-READ")
except OSError:
    print("ENVIRON-DENIED")
host, _, port = address[len("tcp://"):].rpartition(":")
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall((json.dumps({"v": 1, "type": "hello", "trial_id": "T1", "token": "guess"}) + "\\n").encode())
s.settimeout(5)
try:
    print("WELCOMED" if s.recv(4096) else "DROPPED")
except OSError:
    print("DROPPED")
"""


@pytest.mark.skipif(not _nobody_can_run(), reason="needs root and setpriv to act as nobody")
def test_uid_nobody_cannot_read_a_trials_token_or_inject_a_result(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(textwrap.dedent(SLEEPER))
    events: list[Any] = []

    async def main() -> str:
        ex = LocalExecutor(experiment_dir=tmp_path / "exp", emit=events.append, channel="tcp")
        (tmp_path / "exp").mkdir()
        await ex.open()
        handle = await ex.start(_spec(tmp_path / "exp", "T1", script))
        assert ex._server is not None
        res = await asyncio.to_thread(
            subprocess.run,
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-c", textwrap.dedent(INJECT_AS_NOBODY), str(handle["pid"]),
             ex._server.address],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        end = time.monotonic() + 30
        while not any(isinstance(e, TrialExited) for e in events):
            assert time.monotonic() < end
            await asyncio.sleep(0.05)
        await ex.close(grace=1)
        return res.stdout + res.stderr

    out = asyncio.run(main())
    assert "ENVIRON-DENIED" in out and "DROPPED" in out, out
    values = [e.message.value for e in events if isinstance(e, TrialMessage)]
    assert values == [0.1, 0.2], values  # nothing injected
