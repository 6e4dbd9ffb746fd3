"""A real two-node Ray cluster on 127.0.0.1, shared by the tests of a module.

The head (1 CPU) and a worker node (3 CPUs and a ``hl_worker`` resource) are separate ``ray start
--block`` processes, each the leader of its own process group, so the teardown ends exactly what
was started here (never ``ray stop``, which would end every Ray process of the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

RAY_BIN = Path(sys.executable).parent / "ray"


@dataclass(frozen=True)
class Cluster:
    address: str
    head_node: str
    worker_node: str
    temp_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYPERLOOM_", "RAY_ADDRESS"))}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(RAY_BIN), "start", "--block", "--disable-usage-stats", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], temp_dir: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # workers Ray started in other sessions, recognised by this cluster's own temp dir
    for p in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(temp_dir) in " ".join(p.info["cmdline"] or []):
                p.kill()


def _nodes(address: str, want: int, timeout: float) -> list[dict[str, object]]:
    code = (
        "import json, ray, time, sys\n"
        f"ray.init(address={address!r}, log_to_driver=False, logging_level='ERROR')\n"
        f"end = time.time() + {timeout}\n"
        "while True:\n"
        "    nodes = [n for n in ray.nodes() if n['Alive']]\n"
        f"    if len(nodes) >= {want} or time.time() > end: break\n"
        "    time.sleep(0.5)\n"
        "print(json.dumps([{'id': n['NodeID'], 'res': n['Resources']} for n in nodes]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout + 60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    pytest.importorskip(
        "ray", reason="the ray executor tests need ray (pip install 'hyperloom[ray]')"
    )
    temp_dir = Path(f"/tmp/hlray-{os.getpid()}")  # short: Ray's socket paths must stay < 108 bytes
    base = temp_dir / "logs"
    base.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = _start(
        [
            "--head",
            f"--port={port}",
            "--num-cpus=1",
            "--include-dashboard=false",
            f"--temp-dir={temp_dir}/h",
            f"--ray-client-server-port={_free_port()}",  # not 10001: another cluster may run
        ],
        base / "head.log",
    )
    procs = [head]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            assert head.poll() is None, (base / "head.log").read_text()[-3000:]
            time.sleep(0.5)
        worker = _start(
            [
                f"--address={address}",
                "--num-cpus=3",
                '--resources={"hl_worker": 100}',
                f"--temp-dir={temp_dir}/w",
            ],
            base / "worker.log",
        )
        procs.append(worker)
        nodes = _nodes(address, 2, 120)
        assert len(nodes) == 2, (nodes, (base / "worker.log").read_text()[-3000:])
        head_node = next(str(n["id"]) for n in nodes if "hl_worker" not in n["res"])  # type: ignore[operator]
        worker_node = next(str(n["id"]) for n in nodes if "hl_worker" in n["res"])  # type: ignore[operator]
        yield Cluster(address, head_node, worker_node, temp_dir)
    finally:
        for proc in reversed(procs):
            _stop(proc, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
