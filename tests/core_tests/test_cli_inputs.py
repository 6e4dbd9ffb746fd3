"""Bad input to the CLI: one clear line naming the file, key or value, exit 2, no traceback; and
help text without markup leaks. In process through ``hyperloom.cli.main`` (no trial runs), and
``hyperloom view`` as a real server process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hyperloom.cli import app, main
from hyperloom.paths import DB_NAME


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps at the terminal width; keep lines whole


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    return " ".join(err.split())  # unwrap rich's panel lines


def test_an_experiment_dir_or_id_is_not_taken_for_a_trial_command(
    capsys: pytest.CaptureFixture[str], hl_home: Path, tmp_path: Path
) -> None:
    exp = hl_home / "abcd1234"
    exp.mkdir()
    (exp / DB_NAME).write_bytes(b"")
    code, _, err = call(capsys, "run", str(exp))
    msg = one_line_error(code, err)
    assert "is an experiment" in msg and f"hyperloom resume {exp}" in msg
    assert "hyperloom view" in msg
    code, _, err = call(capsys, "run", "abcd1234")
    assert "hyperloom resume abcd1234" in one_line_error(code, err)
    code, _, err = call(capsys, "run", str(tmp_path))
    assert "is a directory, not a config file" in one_line_error(code, err)


def test_a_forgotten_double_dash_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "run", "-n", "3", "python", "train.py", "--lr~uniform(0, 1)")
    msg = one_line_error(code, err)
    assert "'--lr~uniform(0, 1)' is not an option of hyperloom run" in msg
    assert "hyperloom run [options] -- python train.py" in msg
    # a typo of one of run's own options keeps click's suggestion
    code, _, err = call(capsys, "run", "--qiet", "cfg.yml")
    msg = one_line_error(code, err)
    assert "--quiet" in msg and "is not an option of hyperloom run" not in msg


def test_a_mistyped_prior_gets_a_did_you_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = call(capsys, "run", "--", "python", "t.py", "--lr~logunifrom(1e-5, 1)")
    msg = one_line_error(code, err)
    assert "unknown prior 'logunifrom'; did you mean 'loguniform'?" in msg
    code, _, err = call(capsys, "run", "--", "python", "t.py", "--lr~quniform(0, 1, 0.1)")
    assert "write uniform(..., q=STEP)" in one_line_error(code, err)


def test_no_config_errors_name_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    prior = ["--", "python", "t.py", "--x~uniform(0, 1)"]
    for flags, expected in (
        (["-n", "0"], "-n/--max-trials: maxTrialNumber must be a positive integer, got 0"),
        (["-c", "0"], "-c/--concurrency: trialConcurrency must be a positive integer, got 0"),
        (["--mode", "up"], "--mode: mode must be 'maximize' or 'minimize', got 'up'"),
        (["--max-duration", "5x"], "--max-duration: maxExperimentDuration must be a duration"),
    ):
        code, _, err = call(capsys, "run", *flags, *prior)
        assert expected in one_line_error(code, err), err
    code, _, err = call(capsys, "run", "--", "python", "t.py", "--x~uniform(1, 0)")
    msg = one_line_error(code, err)
    assert "the priors on the command line: parameter 'x' (uniform): low must be < high" in msg


def test_no_config_flags_with_a_config_are_said_to_be_ignored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "cfg.yml"
    cfg.write_text(
        "trialCommand: python t.py\nsearchSpace: {x: {_type: uniform, _value: [1, 0]}}\n"
    )
    code, _, err = call(capsys, "run", str(cfg), "-n", "5", "--tuner", "random")
    assert code == 2
    text = " ".join(err.split())
    assert (
        f"-n/--max-trials is for runs without a config and is ignored here; set maxTrialNumber in {cfg}"
        in text
    )
    assert "--tuner is for runs without a config" in text
    assert "-c/--concurrency" not in text
    code, _, err = call(capsys, "run", str(cfg))  # no flag given: no word of them
    assert code == 2 and "is for runs without a config" not in err


def test_space_check_reports_every_error_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    space = {
        "lr": {"_type": "logunifrom", "_value": [1e-5, 1]},
        "drop": {"_type": "uniform", "_value": [0.9, 0.1]},
        "net": {
            "_type": "choice",
            "_value": [{"_name": "a", "w": {"_type": "normal", "_value": [0, -1]}}],
        },
        "fine": {"_type": "uniform", "_value": [0, 1]},
    }
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    code, _, err = call(capsys, "space", "check", str(path))
    assert code == 2 and "Traceback" not in err
    assert "3 errors" in err
    assert "parameter 'lr': unknown _type 'logunifrom'; did you mean 'loguniform'?" in err
    assert "parameter 'drop' (uniform): low must be < high" in err
    assert "parameter 'net/0/w' (normal): sigma must be > 0" in err
    # in a config: `run` says the first in one line and how many more; `space check` lists all
    cfg = tmp_path / "cfg.yml"
    cfg.write_text(
        "trialCommand: python t.py\ntuner: {name: tpe}\nsearchSpace: " + json.dumps(space) + "\n"
    )
    code, out, err = call(capsys, "run", str(cfg))
    msg = one_line_error(code, err)
    assert err.count("error:") == 1
    assert f"{cfg}: searchSpace: parameter 'lr': unknown _type 'logunifrom'" in msg
    assert "(and 2 more errors: `hyperloom space check` lists them all)" in msg
    assert "experiment " not in out, "no experiment id for an experiment that is never created"
    code, _, err = call(capsys, "space", "check", str(cfg))
    assert code == 2 and "3 errors" in err
    assert f"{cfg}: searchSpace: parameter 'net/0/w' (normal): sigma must be > 0" in err


def test_singular_counts_read_as_singular(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"only": {"_type": "choice", "_value": [1]}}))
    code, out, _ = call(capsys, "space", "check", str(path), "--samples", "1")
    assert code == 0
    assert "1 parameter" in out and "1 point" in out and "1 sample (seed 0)" in out
    assert "1 parameters" not in out and "1 points" not in out and "1 samples" not in out


def _commands(group: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, cmd in getattr(group, "commands", {}).items():
        yield from _commands(cmd, (*prefix, name))


def test_help_has_no_markup_leaks_and_no_bool_placeholders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = list(_commands(typer.main.get_command(app)))
    assert ("resume",) in paths and ("space", "check") in paths and len(paths) > 12
    for path in paths:
        code, out, err = call(capsys, *path, "--help")
        assert code == 0, (path, err)
        assert "Usage:" in out, path
        assert "``" not in out, (path, out)
        assert "<bool>" not in out, (path, out)
    code, out, _ = call(capsys, "resume", "--help")
    assert "--more" in out and "--max-duration" in out and "Exit status" in out


@contextlib.contextmanager
def _hold_port(port: int) -> Iterator[None]:
    """Holds ``port`` on 127.0.0.1 (or leaves it to whoever holds it already)."""
    s = socket.socket()
    try:
        with contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            s.listen()
        yield
    finally:
        s.close()


def test_view_takes_a_free_port_when_8080_is_busy_and_says_which(hl_home: Path) -> None:
    with _hold_port(8080):
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyperloom.cli", "view", "--no-browser"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
    assert "http://127.0.0.1:" in line, line + err
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    assert port != 8080
    assert f"port 8080 is in use; serving on port {port} instead" in " ".join(err.split())


def test_help_paragraphs_are_reflowed_but_examples_keep_their_lines() -> None:
    from hyperloom.cli._common import reflow

    doc = """First line.

    A paragraph wrapped
    at the docstring's width.

    Examples:
      hyperloom run a.yml
      hyperloom run b.yml
    """
    assert reflow(doc) == (
        "First line.\n\nA paragraph wrapped at the docstring's width.\n\n"
        "Examples:\n  hyperloom run a.yml\n  hyperloom run b.yml"
    )
    assert (
        reflow("Run it with\n--lr~'uniform(0, 1)' set.") == "Run it with --lr~'uniform(0, 1)' set."
    )
    assert reflow(None) is None
