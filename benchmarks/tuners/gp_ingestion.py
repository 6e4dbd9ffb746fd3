"""Thread discipline (issue 17): a long ``gp`` fit must not delay metric ingestion.

A real experiment (``Experiment.from_config(dict)``, local executor, concurrency 2, dashboard
off) runs trials that report every 10 ms (40 to 120 reports, so trials end at different times);
the tuner is ``gp`` (timed by a thin subclass that notes when each ``suggest()`` starts and
ends), with a large acquisition design so that each suggestion takes hundreds of ms. Whenever a
trial ends, the next suggestion runs while the other trial keeps reporting.

Ingestion latency is measured from outside the manager: a poller thread reads the experiment's
SQLite file (read-only) every 2 ms and notes when each ``(trial, step)`` first appears; the trial
notes ``time.time()`` right before each ``report()``. The latency is ``first seen - sent``, split
into reports sent while a suggestion was running and the others. The same run with the random
tuner gives the baseline.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/tuners/gp_ingestion.py
    .venv/bin/python benchmarks/tuners/gp_ingestion.py --trials 8 --candidates 8192   # quick

Results: printed, and written to ``gp_ingestion.json`` next to this script. The polling adds up
to 2 ms; on a loaded machine the scheduler adds its own delays to both runs alike.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

REPORTER = """
import json, os, time
from hyperloom import trials
p = trials.get_params()
n = 40 + int(80 * p["x"])
times = []
for i in range(n):
    times.append(time.time())
    trials.report(float(i) * 0.001 + p["x"])
    time.sleep(0.01)
trials.report_final(p["x"])
with open(os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "report_times.json"), "w") as f:
    json.dump(times, f)
"""

TIMED = '''
"""gp, noting when each suggest() runs."""
import json, time
from hyperloom.tuners.gp import GPTuner


class Timed(GPTuner):
    def __init__(self, space, *, out, **kw):
        super().__init__(space, **kw)
        self.out, self.spans = out, []

    def suggest(self, trial_id):
        t0 = time.time()
        try:
            return super().suggest(trial_id)
        finally:
            self.spans.append((t0, time.time()))
            with open(self.out, "w") as f:
                json.dump(self.spans, f)
'''


def _poll(db: Path, stop: threading.Event, seen: dict[tuple[str, int], float]) -> None:
    conn = None
    while not stop.is_set():
        if conn is None:
            if not db.exists():
                time.sleep(0.002)
                continue
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            except sqlite3.Error:
                time.sleep(0.002)
                continue
        try:
            rows = conn.execute("SELECT trial_id, step FROM metrics").fetchall()
        except sqlite3.Error:
            rows = []
        now = time.time()
        for tid, step in rows:
            seen.setdefault((str(tid), int(step)), now)
        time.sleep(0.002)
    if conn is not None:
        conn.close()


def run_once(root: Path, tag: str, tuner: dict[str, Any], trials: int) -> dict[str, Any]:
    """One experiment; latencies (s) of reports sent during a suggestion and of the others."""
    from hyperloom.experiment import Experiment

    code = root / "code"
    exp_id = f"ing-{tag}"
    exp_dir = root / "experiments" / exp_id
    cfg = {
        "experimentName": exp_id,
        "trialCommand": f"{sys.executable} reporter.py",
        "trialCodeDirectory": str(code),
        "trialConcurrency": 2,
        "maxTrialNumber": trials,
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": tuner,
        "experimentWorkingDirectory": str(root / "experiments"),
        "dashboard": False,
    }
    seen: dict[tuple[str, int], float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(exp_dir / "experiment.db", stop, seen))
    poller.start()
    try:
        records = Experiment.from_config(cfg, experiment_id=exp_id).run(dashboard=False)
    finally:
        time.sleep(0.05)
        stop.set()
        poller.join()
    spans_file = root / "spans.json"
    spans = json.loads(spans_file.read_text()) if spans_file.exists() else []
    if spans_file.exists():
        spans_file.unlink()
    during, other = [], []
    for r in records:
        tfile = exp_dir / "trials" / r.trial_id / "report_times.json"
        for step, sent in enumerate(json.loads(tfile.read_text())):
            if (r.trial_id, step) not in seen:
                continue
            lat = seen[(r.trial_id, step)] - sent
            (during if any(a <= sent <= b for a, b in spans) else other).append(lat)
    durations = [b - a for a, b in spans]
    return {"during": during, "other": other, "suggest_s": durations}


def _stats(xs: list[float]) -> str:
    if not xs:
        return "-"
    q = statistics.quantiles(xs, n=100) if len(xs) > 1 else [xs[0]] * 99
    return f"n={len(xs)} p50={1e3 * q[49]:.1f} p99={1e3 * q[98]:.1f} max={1e3 * max(xs):.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--candidates", type=int, default=32768, help="gp n_candidates (fit length)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "reporter.py").write_text(REPORTER)
        (code / "gp_timed.py").write_text(TIMED)
        out: dict[str, Any] = {}
        gp = {
            "className": "gp_timed.Timed",
            "codeDirectory": str(code),
            "classArgs": {
                "out": str(root / "spans.json"),
                "seed": 0,
                "n_startup": 2,
                "n_candidates": args.candidates,
            },
        }
        for tag, tuner in (("random", {"name": "random", "classArgs": {"seed": 0}}), ("gp", gp)):
            res = run_once(root, tag, tuner, args.trials)
            out[tag] = {
                "during_suggest": _stats(res["during"]),
                "other": _stats(res["other"]),
                "max_ms": 1e3 * max(res["during"] + res["other"]),
                "suggest_ms": [round(1e3 * d, 1) for d in res["suggest_s"]],
            }
            print(f"{tag}: reports sent while a suggestion ran: {out[tag]['during_suggest']}")
            print(f"{tag}: other reports:                      {out[tag]['other']}")
            if res["suggest_s"]:
                sd = sorted(res["suggest_s"])
                print(
                    f"{tag}: suggest() median {1e3 * sd[len(sd) // 2]:.0f} ms, max {1e3 * sd[-1]:.0f}"
                )
    (HERE / "gp_ingestion.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
