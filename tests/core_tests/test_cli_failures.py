"""Failures that must not look like success: the end-of-run summary names the most common
failure and its fix and exits 1 when no trial succeeded; timeouts are counted as timeouts; an
interrupted run says how to resume. Real ``hyperloom`` and trial processes where it matters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hyperloom.cli._diagnose import fix_for, summarize_failures
from hyperloom.cli.run import RunSummary, print_outcome, progress_line, render_progress
from hyperloom.store import TrialRecord
from hyperloom.types import TrialStatus
from rich.console import Console

HYPERLOOM = [sys.executable, "-m", "hyperloom.cli"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*HYPERLOOM, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def test_trials_that_all_fail_on_a_missing_nni_exit_1_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "uses_nni.py").write_text("import nni\nnni.report_final_result(1.0)\n")
    out = cli(
        "run", "-n", "3", "--no-dashboard",
        "--", sys.executable, "uses_nni.py", "--x~uniform(0, 1)",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert "No trial succeeded (3 trials: 3 failed)" in text
    assert "Top 0" not in text, "no empty table"
    assert "most common failure (all of 3 trials)" in text
    assert "No module named 'nni'" in text
    assert "nniCompat: shim" in text and "pip install nni" in text
    assert "/trials/T0001/stderr.log" in text
    assert "status: DONE" in text
    # `hyperloom status` says the same afterwards
    exp = text.splitlines()[0].split()[1]
    status = cli("status", exp, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    panel = " ".join(status.stdout.replace("│", " ").split())
    assert "failed 3 of 3: ModuleNotFoundError: No module named 'nni'" in panel
    assert "nniCompat: shim" in panel


def record(tid: str, status: TrialStatus, reason: str | None = None, value: Any = None) -> Any:
    return TrialRecord(
        trial_id=tid, sequence=int(tid[1:]), status=status, params={}, value=value, reason=reason
    )


def test_the_most_common_reason_wins_and_stderr_supplies_a_hidden_cause(tmp_path: Path) -> None:
    # T1 and T2: the recorded reason is stderr's last line, but the cause is further up
    for tid in ("T1", "T2"):
        d = tmp_path / "trials" / tid
        d.mkdir(parents=True)
        (d / "stderr.log").write_text(
            "Traceback (most recent call last):\n  File 'train.py', line 1\n"
            "ModuleNotFoundError: No module named 'sklearn.datasets'\n"
            "During handling, another exception:\nRuntimeError: giving up\n"
        )
    records = [
        record("T1", TrialStatus.FAILED, "exit code 1: RuntimeError: giving up"),
        record("T2", TrialStatus.FAILED, "exit code 1: RuntimeError: giving up"),
        record("T3", TrialStatus.FAILED, "exit code 3: something else"),
        record("T4", TrialStatus.SUCCEEDED, value=1.0),
    ]
    got = summarize_failures(records, tmp_path)
    assert got is not None
    assert (got.failed, got.count) == (3, 2)
    assert "No module named 'sklearn.datasets'" in got.reason
    assert got.fix is not None and "pip install scikit-learn" in got.fix
    assert got.stderr == tmp_path / "trials" / "T1" / "stderr.log"
    assert summarize_failures([record("T1", TrialStatus.SUCCEEDED, value=1.0)], tmp_path) is None


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("exit code 1: ModuleNotFoundError: No module named 'nni'", "nniCompat: shim"),
        (
            "exit code 1: ModuleNotFoundError: No module named 'torchvision'",
            "pip install torchvision",
        ),
        ("exit code 1: ModuleNotFoundError: No module named 'yaml'", "pip install pyyaml"),
        ("exit code 127: sh: 1: pyhton: not found", "trialCommand"),
        ("exit code 2: python: can't open file 'trian.py'", "trialCodeDirectory"),
        ("maxTrialDuration (2s) exceeded", "raise it"),
        ("killed by SIGKILL", "memory"),
    ],
)
def test_recognised_causes_come_with_a_fix(reason: str, expected: str) -> None:
    fix = fix_for(reason)
    assert fix is not None and expected in fix


def test_unknown_causes_get_no_made_up_fix() -> None:
    assert fix_for("exit code 1: ValueError: bad shape") is None
    assert fix_for("killed by SIGKILL (killed by hyperloom)") is None


def summary_of(records: list[Any]) -> RunSummary:
    """What ``RunSummary.from_view`` reads from a store, for records in hand (maximize)."""
    best = sorted((r for r in records if r.status is TrialStatus.SUCCEEDED), key=lambda r: -r.value)
    failed = [r for r in records if r.status in (TrialStatus.FAILED, TrialStatus.TIMEOUT)]
    return RunSummary(dict(Counter(r.status.name for r in records)), best[:10], failed)


def outcome(records: list[Any], tmp_path: Path, **kw: Any) -> tuple[int, str]:
    import hyperloom.cli.run as run_mod

    buf = Console(file=__import__("io").StringIO(), width=200, highlight=False)
    saved = run_mod.console
    run_mod.console = buf  # type: ignore[assignment]
    try:
        code = print_outcome(
            exp_id="abc", exp_dir=tmp_path, status=kw.pop("status", "DONE"),
            message=kw.pop("message", None), summary=summary_of(records),
            mode="maximize", **kw,
        )  # fmt: skip
    finally:
        run_mod.console = saved
    return code, buf.file.getvalue()  # type: ignore[attr-defined]


def test_exit_code_follows_success(tmp_path: Path) -> None:
    failed = [record(f"T{i}", TrialStatus.FAILED, "exit code 1: boom") for i in (1, 2, 3)]
    code, text = outcome(failed, tmp_path)
    assert code == 1 and "No trial succeeded (3 trials: 3 failed)" in text
    one_ok = [*failed, record("T4", TrialStatus.SUCCEEDED, value=0.5)]
    code, text = outcome(one_ok, tmp_path)
    assert code == 0 and "Top 1 of 4 trials" in text
    assert "most common failure (3 of 4 trials): exit code 1: boom" in text  # most failed
    code, text = outcome(failed[:1], tmp_path, status="STOPPED", message="SIGINT received",
                         interrupted=True)  # fmt: skip
    assert code == 130 and "hyperloom resume abc" in text and "1 trial: 1 failed" in text
    code, text = outcome(failed, tmp_path, status="FAILED", message="the tuner failed")
    assert code == 1 and "status: FAILED (the tuner failed)" in text


def progress(**counts: int) -> Any:
    return SimpleNamespace(
        counts=counts, running=0, best_value=None, best_trial=None, elapsed=3.0,
        max_duration=None, max_trials=4, started_trials=sum(counts.values()), stopping=False,
    )  # fmt: skip


def test_timeouts_are_counted_as_timeouts_not_failures() -> None:
    line = progress_line(progress(FAILED=1, TIMEOUT=2, SUCCEEDED=1))
    assert "failed 1, timeout 2" in line
    assert "timeout" not in progress_line(progress(FAILED=1))
    buf = Console(file=__import__("io").StringIO(), width=120)
    buf.print(render_progress(progress(FAILED=1, TIMEOUT=2)))
    text = buf.file.getvalue()  # type: ignore[attr-defined]
    assert "failed 1" in text and "timeout 2" in text


SLOW = """\
import time
from hyperloom import trials
for step in range(300):
    time.sleep(0.1)
    trials.report(0.5, step=step)
    if trials.should_stop():
        break
trials.report_final(0.5)
"""


def test_ctrl_c_says_how_to_resume(tmp_path: Path, hl_home: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    proc = subprocess.Popen(
        [*HYPERLOOM, "run", "--no-dashboard", "-n", "2",
         "--", sys.executable, "slow.py", "--x~uniform(0, 1)"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # the trial has reported: the manager is running and owns SIGINT
        while not list(hl_home.glob("*/trials/T0001/metrics.jsonl")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    exp = out.splitlines()[0].split()[1]
    assert "status: STOPPED" in out
    assert f"continue it with: hyperloom resume {exp}" in out
