"""hyperloom.trials.wrap: metrics of plain scripts, from stdout or a file, with real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from compat_helpers import read_messages, trial_env
from hyperloom.trials.wrap import FileMetrics, LineMetrics


def test_default_pairs() -> None:
    lm = LineMetrics("accuracy")
    (r,) = lm.parse("epoch=3 loss=0.31 accuracy=.982 lr=1e-3")
    assert (r.value, r.step, r.final) == (0.982, 3, False)
    assert r.metrics == {"loss": 0.31, "lr": 0.001}
    (r,) = lm.parse("Epoch: 4, accuracy: 0.5")
    assert (r.value, r.step) == (0.5, 4)
    assert lm.parse("accuracy=nan") == [] and lm.parse("no metrics here") == []
    assert lm.parse("val_accuracy=0.9") == []
    (r,) = lm.parse("Final accuracy=0.97")
    assert r.final and r.value == 0.97
    (r,) = lm.parse("final_accuracy = 0.96")
    assert r.final and r.value == 0.96


def test_custom_regexes() -> None:
    lm = LineMetrics(
        regex=r"it (?P<step>\d+): top1 (?P<value>[\d.]+)%", final_regex=r"BEST (?P<value>[\d.]+)"
    )
    (r,) = lm.parse("it 20: top1 71.5%")
    assert (r.value, r.step, r.final) == (71.5, 20, False)
    (r,) = lm.parse("BEST 73.25")
    assert r.final and r.value == 73.25
    named = LineMetrics("acc", regex=r"(?P<name>\w+)=(?P<value>[\d.]+)")
    assert [x.value for x in named.parse("loss=0.3 acc=0.8 acc=0.9")] == [0.8, 0.9]
    with pytest.raises(ValueError, match="value"):
        LineMetrics(regex=r"acc=([\d.]+)")


def test_jsonl_and_csv_files_are_read_as_they_grow(tmp_path: Path) -> None:
    jl = tmp_path / "m.jsonl"
    fm = FileMetrics(jl, "acc")
    assert fm.read() == []
    jl.write_text('{"epoch": 0, "acc": "0.5", "loss": 1.0}\n{"epoch": 1, "ac')
    assert [(r.value, r.step, r.metrics) for r in fm.read()] == [(0.5, 0, {"loss": 1.0})]
    with open(jl, "a") as f:
        f.write('c": 0.6}\nnot json\n{"acc": 0.7, "final": true}\n')
    got = fm.read()
    assert [(r.value, r.step, r.final) for r in got] == [(0.6, 1, False), (0.7, None, True)]
    cs = tmp_path / "m.csv"
    cs.write_text("step,acc,final\n0,0.1,\n1,0.2,\n")
    fc = FileMetrics(cs, "acc", step_keys=("step",))
    assert fc.stale  # written before the trial started: only new rows count
    assert fc.read() == []
    with open(cs, "a") as f:
        f.write("2,0.3,\n3,0.4,true\n")
    assert [(r.value, r.step, r.final) for r in fc.read()] == [(0.3, 2, False), (0.4, 3, True)]


def _wrap(
    args: list[str], script: str, trial_dir: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    (cwd / "script.py").write_text(textwrap.dedent(script))
    cmd = [sys.executable, "-m", "hyperloom.trials.wrap", *args, "--", sys.executable, "script.py"]
    env = trial_env(trial_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_stdout_is_passed_through_and_last_value_is_final(trial_dir: Path, tmp_path: Path) -> None:
    r = _wrap(
        ["--objective", "accuracy"],
        """
        for epoch in range(3):
            print(f"epoch={epoch} loss={1 / (epoch + 1):.3f} accuracy={0.5 + epoch / 10}", flush=True)
        print("done")
        """,
        trial_dir,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "epoch=0 loss=1.000 accuracy=0.5",
        "epoch=1 loss=0.500 accuracy=0.6",
        "epoch=2 loss=0.333 accuracy=0.7",
        "done",
    ]
    msgs = read_messages(trial_dir)
    assert [(m["type"], m.get("step"), m["value"]) for m in msgs] == [
        ("metric", 0, 0.5),
        ("metric", 1, 0.6),
        ("metric", 2, 0.7),
        ("final", None, 0.7),
    ]
    assert msgs[0]["metrics"] == {"loss": 1.0}


def test_marked_final_and_exit_codes_pass_through(trial_dir: Path, tmp_path: Path) -> None:
    r = _wrap(
        ["--objective", "acc"],
        """
        import sys
        print("acc=0.1"); print("acc=0.2"); print("final acc=0.15")
        sys.exit(5)
        """,
        trial_dir,
        tmp_path,
    )
    assert r.returncode == 5
    msgs = read_messages(trial_dir)
    assert [(m["type"], m["value"]) for m in msgs] == [
        ("metric", 0.1),
        ("metric", 0.2),
        ("final", 0.15),
    ]


def test_no_objective_fails_with_the_output_tail(trial_dir: Path, tmp_path: Path) -> None:
    r = _wrap(
        ["--objective", "accuracy"],
        "print('loss=0.3'); print('training finished')",
        trial_dir,
        tmp_path,
    )
    assert r.returncode == 3
    last = r.stderr.strip().splitlines()[-1]
    assert "no value of 'accuracy' found in the output" in last
    assert "loss=0.3 | training finished" in last and len(last) < 300
    assert read_messages(trial_dir) == []


def test_metrics_file(trial_dir: Path, tmp_path: Path) -> None:
    out = trial_dir / "metrics.csv"
    r = _wrap(
        ["--objective", "val_acc", "--file", str(out)],
        f"""
        import csv, time
        with open({str(out)!r}, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", "val_acc", "loss"])
            for e in range(4):
                w.writerow([e, 0.2 * e, 1 - 0.2 * e]); f.flush(); time.sleep(0.02)
        print("no metrics on stdout")
        """,
        trial_dir,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    msgs = read_messages(trial_dir)
    assert [m["value"] for m in msgs if m["type"] == "metric"] == [
        0.0,
        0.2,
        0.4,
        0.6000000000000001,
    ]
    assert [m["step"] for m in msgs if m["type"] == "metric"] == [0, 1, 2, 3]
    assert msgs[-1]["type"] == "final" and msgs[-1]["value"] == pytest.approx(0.6)


def test_usage_errors() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hyperloom.trials.wrap", "--objective", "a"],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "after '--'" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "hyperloom.trials.wrap", "--", "true"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--objective" in r.stderr


def test_sigterm_reaches_the_child_and_the_wrapper_dies_of_it(
    trial_dir: Path, tmp_path: Path
) -> None:
    import signal
    import time

    (tmp_path / "script.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('acc=0.4', flush=True), sys.exit(0)))\n"
        "print('acc=0.3', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = trial_env(trial_dir)
    cmd = [
        sys.executable,
        "-m",
        "hyperloom.trials.wrap",
        "--objective",
        "acc",
        "--",
        sys.executable,
        "script.py",
    ]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "acc=0.3"
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)  # only the wrapper: it passes the signal on
    p.wait(timeout=30)
    assert p.returncode == 0  # the child exited 0 from its handler, after a last report
    msgs = read_messages(trial_dir)
    assert [(m["type"], m["value"]) for m in msgs] == [
        ("metric", 0.3),
        ("metric", 0.4),
        ("final", 0.4),
    ]
