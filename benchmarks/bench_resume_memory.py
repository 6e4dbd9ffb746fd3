"""Manager memory on resume, and ``trials --json`` time, for a large experiment (issue 2).

Builds an experiment the way a user would have one: a tiny real experiment of 1 trial
(``Experiment.from_config(dict).run()``, which writes ``config.yaml``, the store, the trial
directory and the home's ``.index``), then bulk-imports ``--trials`` ended trials x ``--steps``
intermediate metrics into its store (``Store.import_records``). Its ``maxTrialNumber`` (1) is then
already reached, so ``hyperloom resume <id>`` replays the whole history into the tuner and ends.

Measured, each in a fresh subprocess, with ``HYPERLOOM_HOME`` pointing at the benchmark's home:

* ``hyperloom resume <id> -q --no-dashboard``: peak RSS of the manager process, read from
  ``/proc/<pid>/status`` (``VmHWM``, this process's own high-water mark) every 10 ms until it
  exits, and the ``ru_maxrss`` that ``wait4`` gives for it; plus its wall time;
* ``hyperloom trials <id> --json`` (stdout to a file): wall and CPU time.

Targets: resume RSS <= 150 MB; ``trials --json`` <= 2 s.

    .venv/bin/python benchmarks/bench_resume_memory.py                  # 10,000 x 100
    .venv/bin/python benchmarks/bench_resume_memory.py --trials 1000 --repeats 1   # quick
    .venv/bin/python benchmarks/bench_resume_memory.py --keep /tmp/resume-bench   # keep it
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import _cli, _records, time_cli
from bench_throughput import TRIVIAL, trial_config
from hyperloom.store import Store, TrialRecord


def build(root: Path, n: int, steps: int, tuner: str) -> tuple[str, Path]:
    """A real 1-trial experiment plus ``n`` imported trials; returns (id, directory)."""
    from hyperloom.experiment import Experiment

    script = root / "code" / "trivial.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(TRIVIAL))
    cfg = trial_config(root, script, trials=1, concurrency=1, channel="file", tuner={"name": tuner})
    exp = Experiment.from_config(cfg, experiment_id="resumebench")
    records = exp.run(dashboard=False)
    assert len(records) == 1 and records[0].status.name == "SUCCEEDED", records
    store = Store.open(exp.dir)
    try:
        store.import_records(_matching(n, steps))
        # as a crashed or stopped run leaves it: `resume` replays the history (a DONE experiment
        # given no more budget would only print a hint)
        store.set_experiment_status("STOPPED", "benchmark")
    finally:
        store.close()
    return exp.id, exp.dir


def _matching(n: int, steps: int) -> Iterator[TrialRecord]:
    """bench_store's records, with params of this experiment's space and sequences after 1."""
    rng = random.Random(1)
    for i, r in enumerate(_records(n, steps)):
        yield dataclasses.replace(
            r, trial_id=f"imp{i:06x}", sequence=i + 2, params={"x": rng.random()}
        )


def resume_peak(exp_id: str) -> dict[str, float]:
    """Runs ``hyperloom resume`` and samples its peak RSS (MB) until it exits."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [*_cli(), "resume", exp_id, "-q", "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    hwm = 0.0
    status_path = f"/proc/{p.pid}/status"
    while True:
        try:
            with open(status_path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]) / 1024)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode != 0:
        raise SystemExit(f"hyperloom resume exited {p.returncode}: {err[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"vmhwm_mb": hwm, "maxrss_mb": usage.ru_maxrss / 1024, "wall_s": wall, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3, help="runs of resume and of trials --json")
    ap.add_argument("--tuner", default="random", help="the experiment's tuner (replayed on resume)")
    ap.add_argument("--keep", type=Path, default=None, help="build in (or reuse) this directory")
    args = ap.parse_args()
    # A user's Python caches bytecode. Where the environment forbids it (some CI machines set
    # PYTHONDONTWRITEBYTECODE) every start would compile each module again: measure as users run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    with tempfile.TemporaryDirectory(prefix="hl-resume-") as tmp:
        root = args.keep or Path(tmp)
        os.environ["HYPERLOOM_HOME"] = str(root / "home")
        marker = root / "built.json"
        if marker.exists():
            built = json.loads(marker.read_text())
            exp_id, exp_dir = built["id"], Path(built["dir"])
            print(f"reusing {exp_dir}")
        else:
            t0 = time.perf_counter()
            exp_id, exp_dir = build(root, args.trials, args.steps, args.tuner)
            marker.write_text(json.dumps({"id": exp_id, "dir": str(exp_dir)}))
            print(f"built {args.trials + 1} trials x {args.steps} metrics in "
                  f"{time.perf_counter() - t0:.1f} s at {exp_dir}")  # fmt: skip
        size = (exp_dir / "experiment.db").stat().st_size / 1e6
        print(
            f"store {size:.0f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        resumes = []
        for i in range(args.repeats + 1):  # the first, untimed, warms the caches
            # each repeat resumes a stopped experiment (the first one leaves it DONE)
            store = Store.open(exp_dir)
            try:
                store.set_experiment_status("STOPPED", "benchmark")
            finally:
                store.close()
            r = resume_peak(exp_id)
            if i == 0:
                continue
            resumes.append(r)
            print(f"  resume: peak RSS (VmHWM) {r['vmhwm_mb']:.1f} MB, ru_maxrss "
                  f"{r['maxrss_mb']:.1f} MB, wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s",
                  flush=True)  # fmt: skip
        out = root / "trials.json"
        walls, cpus = time_cli(["trials", exp_id, "--json"], args.repeats, out)
        data = json.loads(out.read_text())
        assert len(data) == args.trials + 1, len(data)
        assert len(data[-1]["intermediate"]) == args.steps, data[-1]
        print(f"  trials --json: wall {', '.join(f'{w:.2f}' for w in walls)} s; "
              f"CPU {', '.join(f'{c:.2f}' for c in cpus)} s")  # fmt: skip
    med = statistics.median
    print(f"medians: resume peak RSS {med(r['vmhwm_mb'] for r in resumes):.1f} MB (target <= 150), "
          f"resume wall {med(r['wall_s'] for r in resumes):.2f} s, CPU "
          f"{med(r['cpu_s'] for r in resumes):.2f} s; trials --json wall "
          f"{med(walls):.2f} s, CPU {med(cpus):.2f} s (target <= 2 s)")  # fmt: skip


if __name__ == "__main__":
    main()
