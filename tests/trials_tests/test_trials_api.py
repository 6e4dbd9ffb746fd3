"""The trial-side API: in-process against a temporary trial dir, and real trial subprocesses."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperloom import trials
from hyperloom.channel import ChannelError, Message, SocketServer, parse_line
from hyperloom.trials import TrialError, _runtime


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("HYPERLOOM_"):
            monkeypatch.delenv(key)
    _runtime._reset()
    yield
    _runtime._reset()


@pytest.fixture
def trial_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = tmp_path / "t1"
    d.mkdir()
    (d / "params.json").write_text(json.dumps({"lr": 0.1, "layers": 3}))
    for key in list(os.environ):
        if key.startswith("HYPERLOOM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HYPERLOOM_TRIAL_DIR", str(d))
    monkeypatch.setenv("HYPERLOOM_TRIAL_ID", "t1")
    monkeypatch.setenv("HYPERLOOM_EXPERIMENT_ID", "e1")
    monkeypatch.setenv("HYPERLOOM_CHANNEL", "file")
    _runtime._reset()
    yield d
    _runtime._reset()


def _lines(d: Path) -> list[Message]:
    path = d / "metrics.jsonl"
    return [parse_line(line) for line in path.read_bytes().splitlines()] if path.exists() else []


# outside an experiment ----------------------------------------------------------------------


def test_outside_an_experiment(outside: None, capsys: pytest.CaptureFixture[str]) -> None:
    defaults = {"lr": 0.5}
    params = trials.get_params(defaults)
    assert params == {"lr": 0.5} and params is not defaults
    assert trials.get_params() == {}
    trials.report(0.25, acc=0.5)
    trials.report(np.float32(0.75))
    trials.report_final(1.0)
    assert not trials.should_stop()
    assert trials.trial_id() is None and trials.experiment_id() is None
    assert trials.trial_dir() is None
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "hyperloom: step 0: value=0.25 acc=0.5",
        "hyperloom: step 1: value=0.75",
        "hyperloom: final: value=1",
    ]
    assert err.count("not running inside an experiment") == 1  # warned once


# inside, file transport ---------------------------------------------------------------------


def test_params_and_identity(trial_dir: Path) -> None:
    assert trials.get_params({"lr": 9, "momentum": 0.9}) == {
        "lr": 0.1,
        "layers": 3,
        "momentum": 0.9,
    }
    assert trials.trial_id() == "t1" and trials.experiment_id() == "e1"
    assert trials.trial_dir() == trial_dir


def test_params_errors(trial_dir: Path) -> None:
    (trial_dir / "params.json").write_text("[1, 2]")
    with pytest.raises(TrialError, match="JSON object"):
        trials.get_params()
    (trial_dir / "params.json").write_text("{oops")
    with pytest.raises(TrialError, match="cannot read"):
        trials.get_params()
    (trial_dir / "params.json").unlink()
    with pytest.raises(TrialError, match=r"no params\.json"):
        trials.get_params()


def test_reports_are_protocol_lines(trial_dir: Path) -> None:
    trials.report(0.5)
    trials.report(np.float64(0.6), loss=np.float32(1.5), hist=np.arange(3), name="x")
    trials.report(7, step=10)
    trials.report(np.int64(8))
    trials.report_final(0.9, acc=0.91)
    msgs = _lines(trial_dir)
    assert [(m.type, m.step, m.value) for m in msgs] == [
        ("metric", 0, 0.5),
        ("metric", 1, 0.6),
        ("metric", 10, 7.0),
        ("metric", 11, 8.0),
        ("final", None, 0.9),
    ]
    assert msgs[1].metrics == {"loss": 1.5, "hist": [0, 1, 2], "name": "x"}
    assert msgs[-1].metrics == {"acc": 0.91}


@pytest.mark.parametrize("bad", ["0.5", True, None, [1.0], np.array([1.0, 2.0]), object()])
def test_non_numeric_values_raise(trial_dir: Path, bad: Any) -> None:
    with pytest.raises(TrialError, match="must be"):
        trials.report(bad)
    assert _lines(trial_dir) == []


@pytest.mark.parametrize("bad_step", [-1, 1.5, "3", True, 2**63])
def test_bad_steps_raise(trial_dir: Path, bad_step: Any) -> None:
    with pytest.raises(TrialError, match="step"):
        trials.report(1.0, step=bad_step)


def test_non_finite_values_are_not_sent(
    trial_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trials.report(math.nan)
    trials.report(np.float32("inf"))
    trials.report(1.0, loss=math.nan)
    msgs = _lines(trial_dir)
    assert len(msgs) == 1 and msgs[0].value == 1.0 and msgs[0].metrics == {"loss": None}
    err = capsys.readouterr().err
    assert "not finite; not reported" in err and "metrics.loss" in err


def test_oversize_report_is_not_sent(trial_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials.report(1.0, blob="x" * 70_000)
    assert _lines(trial_dir) == []
    assert "over the 64 KiB channel limit" in capsys.readouterr().err


def test_report_after_final_warns(trial_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials.report_final(1.0)
    trials.report(2.0)
    assert len(_lines(trial_dir)) == 2  # sent: the manager decides, and records the rejection
    assert "after report_final()" in capsys.readouterr().err


def test_unwritable_trial_dir_is_a_clear_error(trial_dir: Path) -> None:
    (trial_dir / "params.json").unlink()
    trial_dir.rmdir()
    with pytest.raises(TrialError, match="cannot write the report"):
        trials.report(1.0)


def test_should_stop_sees_the_stop_file(trial_dir: Path) -> None:
    assert not trials.should_stop()
    (trial_dir / "STOP").touch()
    _runtime.runtime()._next_check = 0.0  # skip the rate limit
    assert trials.should_stop()
    (trial_dir / "STOP").unlink()
    assert trials.should_stop()  # stays stopped


def test_unreachable_socket_falls_back_to_file(
    trial_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYPERLOOM_CHANNEL", "tcp://127.0.0.1:1")
    monkeypatch.setenv("HYPERLOOM_TOKEN", "x")
    _runtime._reset()
    trials.report(1.0)
    trials.report_final(2.0)
    assert [m.value for m in _lines(trial_dir)] == [1.0, 2.0]
    assert capsys.readouterr().err.count("reporting through metrics.jsonl instead") == 1


# socket transport, real subprocess trials -------------------------------------------------

SOCKET_TRIAL = """
import os, sys, time
from hyperloom import trials
trials.report(1.0)
go = os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "go")
while not os.path.exists(go) and not trials.should_stop():
    time.sleep(0.01)
trials.report(2.0)
trials.report_final(3.0, stopped=trials.should_stop())
"""


def _trial_env(d: Path, address: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERLOOM_")}
    env.update(
        HYPERLOOM_TRIAL_DIR=str(d),
        HYPERLOOM_TRIAL_ID="t1",
        HYPERLOOM_EXPERIMENT_ID="e1",
        HYPERLOOM_CHANNEL=address,
        HYPERLOOM_TOKEN=token,
    )
    return env


async def _run_socket_trial(
    tmp_path: Path, token: str, action: str
) -> tuple[list[Message], list[str], Path, str]:
    script = tmp_path / "trial.py"
    script.write_text(textwrap.dedent(SOCKET_TRIAL))
    d = tmp_path / "t1"
    d.mkdir()
    got: list[Message] = []
    errors: list[str] = []
    server = SocketServer()
    address = await server.start("tcp")
    server.register("t1", "right", got.append, lambda e: errors.append(e.reason))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=_trial_env(d, address, token),
        stderr=asyncio.subprocess.PIPE,
    )
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not got and not (d / "metrics.jsonl").exists():
        assert loop.time() < end
        await asyncio.sleep(0.01)
    if action == "stop":
        server.send_stop("t1")
    elif action == "break":
        server.unregister("t1")  # the manager goes away mid-trial
        await asyncio.sleep(0.2)
        (d / "go").touch()
    else:
        (d / "go").touch()
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    await server.drain("t1", 2)
    await server.close()
    return got, errors, d, err.decode()


def test_socket_stop_reaches_should_stop(tmp_path: Path) -> None:
    got, errors, d, _ = asyncio.run(_run_socket_trial(tmp_path, "right", "stop"))
    assert [m.value for m in got] == [1.0, 2.0, 3.0]
    assert got[-1].metrics == {"stopped": True}
    assert errors == [] and not (d / "STOP").exists()
    assert [m.value for m in _lines(d)] == [1.0, 2.0, 3.0]  # the journal holds every line too


def test_socket_wrong_token_falls_back_to_file(tmp_path: Path) -> None:
    got, errors, d, err = asyncio.run(_run_socket_trial(tmp_path, "wrong", "go"))
    assert got == []
    assert any("wrong token" in e for e in errors)
    assert [m.value for m in _lines(d)] == [1.0, 2.0, 3.0]
    assert "reporting through metrics.jsonl instead" in err


def test_socket_break_falls_back_to_file_without_loss(tmp_path: Path) -> None:
    got, _, d, err = asyncio.run(_run_socket_trial(tmp_path, "right", "break"))
    assert [m.value for m in got] == [1.0]
    # every line was journaled before it was sent: the file alone has all of them, and the
    # trial had nothing to warn about
    assert [m.value for m in _lines(d)] == [1.0, 2.0, 3.0]
    assert "Traceback" not in err


FORKING_TRIAL = """
import os
from hyperloom import trials
trials.report(1.0)  # connects in the parent
pid = os.fork()
if pid == 0:
    trials.report(2.0, step=7)  # the child must not share the parent's connection
    os._exit(0)
os.waitpid(pid, 0)
trials.report_final(3.0)
"""


def test_forked_child_reports_arrive_over_the_socket(tmp_path: Path) -> None:
    async def main() -> tuple[list[Message], Path]:
        script = tmp_path / "fork.py"
        script.write_text(textwrap.dedent(FORKING_TRIAL))
        d = tmp_path / "t1"
        d.mkdir()
        got: list[Message] = []
        server = SocketServer()
        address = await server.start("unix", tmp_path / "s.sock")
        server.register("t1", "right", got.append, lambda e: None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), env=_trial_env(d, address, "right")
        )
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert await server.drain("t1", 2)
        await server.close()
        return got, d

    got, d = asyncio.run(main())
    assert sorted((m.step, m.value) for m in got if m.type == "metric") == [(0, 1.0), (7, 2.0)]
    assert got[-1].type == "final" and got[-1].value == 3.0
    journal = sorted((m.step, m.value) for m in _lines(d) if m.type == "metric")
    assert journal == [(0, 1.0), (7, 2.0)]  # the child journals through its own descriptor


# import hygiene -----------------------------------------------------------------------------


def test_import_is_stdlib_only_and_lazy() -> None:
    code = (
        "import sys; before = set(sys.modules); import hyperloom.trials; "
        "new = set(sys.modules) - before; "
        "print([m for m in new if m.split('.')[0] not in sys.stdlib_module_names "
        "and m.split('.')[0] != 'hyperloom']); print(sorted(new))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    loaded = eval(out[1])
    for heavy in ("socket", "threading", "json", "hyperloom.channel", "psutil"):
        assert heavy not in loaded


def test_errors_belong_to_the_hierarchy() -> None:
    from hyperloom.errors import HyperloomError

    assert issubclass(ChannelError, HyperloomError) and issubclass(TrialError, HyperloomError)
