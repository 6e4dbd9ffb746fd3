"""Hardening class 6: a command no program can receive (a NUL byte) is a launch failure with a
reason, not an exception out of the executor; through the CLI such an experiment stops FAILED
with exit 1 once maxLaunchFailures trials in a row failed that way."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def test_a_nul_byte_in_the_command_is_a_launch_failure(tmp_path: Path) -> None:
    events: list[Any] = []

    async def main() -> dict[str, Any]:
        ex = LocalExecutor(experiment_dir=tmp_path, emit=events.append)
        d = tmp_path / "trials" / "T1"
        d.mkdir(parents=True)
        handle = await ex.start(LaunchSpec("T1", "e", 1, "echo a\x00b", d, d, {}, {}))
        await asyncio.sleep(0.1)
        await ex.close(grace=1)
        return handle

    handle = asyncio.run(main())
    assert handle["pid"] is None
    (exited,) = [e for e in events if isinstance(e, TrialExited)]
    assert exited.exit_code == 126 and exited.reason and "NUL byte" in exited.reason
    assert "NUL byte" in (tmp_path / "trials" / "T1" / "stderr.log").read_text()


def test_cli_run_with_a_nul_byte_stops_failed_exit_1(tmp_path: Path, hl_home: Path) -> None:
    cfg = {
        "experimentName": "nul",
        "trialCommand": "echo a\x00b",
        "trialCodeDirectory": str(tmp_path),
        "trialConcurrency": 2,
        "maxTrialNumber": 50,
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": {"name": "random"},
        "dashboard": False,
    }
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [*HYPERLOOM, "run", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stdout + out.stderr
    exp_id = out.stdout.split()[1]
    st = subprocess.run(
        [*HYPERLOOM, "status", exp_id, "--json"], capture_output=True, text=True, timeout=60
    )
    status = json.loads(st.stdout)
    assert status["status"] == "FAILED", status
    assert sum(status["counts"].values()) < 50  # it stopped; it did not burn the budget
