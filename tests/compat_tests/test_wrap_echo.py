"""hyperloom.trials.wrap: a script's echo of its own parameters is not a metric."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from compat_helpers import read_messages, trial_env
from hyperloom.trials.wrap import FileMetrics, LineMetrics, is_echo, numeric_params

PARAMS = {"lr": 0.00612, "batch_size": 32, "momentum": 0.9, "opt": "sgd", "nesterov": True}


@pytest.mark.parametrize(
    ("text", "echo"),
    [
        ("0.006", True),  # printed with 3 decimals
        ("0.0061", True),
        ("0.00612", True),
        ("6.1e-3", True),
        ("6.12E-03", True),
        ("0.007", False),  # not the parameter as printed
        ("0.0062", False),
        ("0.00600", False),  # five decimals: 0.00612 would print as 0.00612
    ],
)
def test_echo_is_the_parameter_rounded_to_the_printed_digits(text: str, echo: bool) -> None:
    assert is_echo("lr", text, numeric_params(PARAMS)) is echo
    assert is_echo("LR", text, numeric_params(PARAMS)) is echo  # names match ignoring case


def test_only_numeric_parameters_count() -> None:
    assert numeric_params(PARAMS) == {"lr": 0.00612, "batch_size": 32.0, "momentum": 0.9}
    assert not is_echo("nesterov", "1", numeric_params(PARAMS))
    assert not is_echo("loss", "0.006", numeric_params(PARAMS))  # not a parameter
    assert not is_echo("lr", "0.006", {})


def test_line_metrics_leave_echoes_out_and_keep_what_differs() -> None:
    lm = LineMetrics("accuracy", params=PARAMS)
    (r,) = lm.parse("epoch=2 lr=0.006 batch_size=32 loss=0.31 accuracy=0.9")
    assert (r.value, r.step, r.metrics) == (0.9, 2, {"loss": 0.31})
    (r,) = lm.parse("epoch=3 accuracy=0.91 lr=0.003 momentum=0.9")  # lr decayed by a schedule
    assert r.metrics == {"lr": 0.003}
    # without the trial's parameters everything numeric is a metric, as before
    (r,) = LineMetrics("accuracy").parse("epoch=2 lr=0.006 accuracy=0.9")
    assert r.metrics == {"lr": 0.006}
    # the objective is always read, even when a parameter has its name and value
    (r,) = LineMetrics("momentum", params=PARAMS).parse("momentum=0.9")
    assert r.value == 0.9


def test_file_metrics_leave_echoes_out(tmp_path: Path) -> None:
    jl = tmp_path / "m.jsonl"
    fm = FileMetrics(jl, "acc", params=PARAMS)
    jl.write_text(
        json.dumps({"epoch": 0, "acc": 0.5, "lr": 0.00612, "batch_size": 32, "loss": 1.0})
        + "\n"
        + json.dumps({"epoch": 1, "acc": 0.6, "lr": 0.003})
        + "\n"
    )
    assert [r.metrics for r in fm.read()] == [{"loss": 1.0}, {"lr": 0.003}]
    cs = tmp_path / "m.csv"
    fc = FileMetrics(cs, "acc", params=PARAMS)
    cs.write_text("epoch,acc,lr,loss\n0,0.5,0.006,1.0\n")
    assert [r.metrics for r in fc.read()] == [{"loss": 1.0}]


def test_wrapped_script_echoing_its_parameters(trial_dir: Path, tmp_path: Path) -> None:
    """Through the real wrapper in a trial's environment (params.json as hyperloom writes it)."""
    (trial_dir / "params.json").write_text(json.dumps(PARAMS))
    (tmp_path / "script.py").write_text(
        textwrap.dedent(
            """
            import json, os, sys
            p = json.load(open(os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "params.json")))
            print(f"lr={p['lr']:.3f} batch_size={p['batch_size']}", flush=True)
            for epoch in range(2):
                print(f"epoch={epoch} lr={p['lr']:.3g} loss={1 / (epoch + 1):.2f} "
                      f"accuracy={0.5 + epoch / 10}", flush=True)
            """
        )
    )
    cmd = [sys.executable, "-m", "hyperloom.trials.wrap", "--objective", "accuracy", "--"]
    env = trial_env(trial_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    r = subprocess.run(
        [*cmd, sys.executable, "script.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "lr=0.006 batch_size=32"  # still passed through
    msgs = read_messages(trial_dir)
    assert [(m["type"], m.get("step"), m["value"]) for m in msgs] == [
        ("metric", 0, 0.5),
        ("metric", 1, 0.6),
        ("final", None, 0.6),
    ]
    assert [m["metrics"] for m in msgs] == [{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.5}]
