"""``hyperloom view``, and reads from other machines when bound beyond loopback."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hyperloom.cli import main


def _lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 9))  # no packet is sent for a UDP connect
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def _get(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def test_view_unknown_id_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", "--no-browser", "nosuchexp"]) == 2
    assert "no experiment 'nosuchexp'" in capsys.readouterr().err


def test_view_serves_the_experiments_read_only(make_experiment: Any, hl_home: Path) -> None:
    d, _ = make_experiment("exp00001", n=4)
    (hl_home / "exp00001").symlink_to(d)
    # an experiment whose config chose its own directory is found through the home's .index
    elsewhere, _ = make_experiment("exp00002", n=2)
    (hl_home / ".index").mkdir(exist_ok=True)
    (hl_home / ".index" / "exp00002").write_text(str(elsewhere), encoding="utf-8")
    env = {**os.environ, "HYPERLOOM_HOME": str(hl_home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hyperloom.cli",
            "view",
            "--no-browser",
            "--port",
            "0",
            "--host",
            "localhost",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "read-only" in line and "http://localhost:" in line, line
        port = int(line.split("http://localhost:")[1].split("/")[0])
        status, data = _get("127.0.0.1", port, "/api/experiments")
        assert status == 200
        assert sorted(e["id"] for e in data["experiments"]) == ["exp00001", "exp00002"]
        status, data = _get("127.0.0.1", port, "/api/experiments/exp00001/trials?limit=2")
        assert status == 200 and data["total"] == 4
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/experiments/exp00001/stop", headers={"X-Hyperloom-Token": "x"})
        assert conn.getresponse().status == 403
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.stderr is not None
    assert "warning" not in proc.stderr.read()  # localhost is loopback: no warning


def test_view_warns_for_a_non_loopback_host(make_experiment: Any, hl_home: Path) -> None:
    d, _ = make_experiment("exp00001", n=1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hyperloom.cli",
            "view",
            "--no-browser",
            "--port",
            "0",
            "--host",
            "0.0.0.0",
            str(d),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        assert line.split()[3].endswith("#/e/exp00001"), "one experiment: straight to its page"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "warning:" in err and "0.0.0.0" in err


@pytest.mark.skipif(_lan_address() is None, reason="this machine has no non-loopback IPv4 address")
def test_reads_from_other_machines_need_the_token(make_experiment: Any, live_server: Any) -> None:
    from dashboard_support import FakeControl

    d, _ = make_experiment("exp00001", n=2)
    srv = live_server([d], host="0.0.0.0", control=FakeControl("exp00001"), token="tok")
    lan = _lan_address()
    assert lan is not None
    port = srv.server.port
    deadline = time.monotonic() + 5
    while True:  # the socket is bound to every address: reach it through the LAN one
        try:
            status, data = _get(lan, port, "/api/experiments")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert status == 403 and "token" in data["error"]
    assert _get(lan, port, "/api/experiments", {"X-Hyperloom-Token": "tok"})[0] == 200
    assert _get(lan, port, "/api/experiments?token=tok")[0] == 200
    assert _get("127.0.0.1", port, "/api/experiments")[0] == 200  # loopback reads stay open
