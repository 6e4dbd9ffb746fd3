"""Report latency through the real manager, for each channel transport (issue 2).

From a trial's ``report()`` until the value is committed to SQLite (visible to a read-only
reader) *and* the assessor has seen it. A real experiment (``Experiment.from_config(dict)``,
concurrency 2, dashboard off) runs trials that each report ``--reports`` values every
``--interval`` seconds; the trial notes ``time.time()`` right before each ``report()``. The
assessor is a tiny ``module:Class`` loaded from a ``codeDirectory``: at the start of each
``assess()`` it notes ``time.time()``, then checks with its own read-only SQLite connection
(``mode=ro``) that the step is already in the ``metrics`` table. The manager commits the metric
before it calls ``assess()``, so the assessor's timestamp is when both conditions hold; the
check makes sure of it (a step not yet visible is counted and reported).

Rounds alternate the transports (config ``channel: file | tcp | unix``), so the shared machine's
load affects each alike. Results: p50/p99/max of all samples per transport, and the per-round
p50s.

    .venv/bin/python benchmarks/bench_report_latency.py                     # 3 rounds x 2 x 200
    .venv/bin/python benchmarks/bench_report_latency.py --rounds 1 --reports 50   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import _pct
from bench_throughput import trial_config

REPORTER = """
import json, os, time
from hyperloom import trials
p = trials.get_params()
times = []
for i in range(p["reports"]):
    times.append(time.time())
    trials.report(i * 0.001)
    time.sleep(p["interval"])
trials.report_final(1.0)
with open(os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "report_times.json"), "w") as f:
    json.dump(times, f)
"""

ASSESSOR = '''
"""A benchmark assessor: notes when each report reaches it and whether SQLite already has it."""
import json, sqlite3, time
from hyperloom.assessors import Assessor, Verdict


class Recorder(Assessor):
    def __init__(self, db, out, mode="maximize"):
        super().__init__(mode=mode)
        self.db, self.out, self.seen = db, out, []
        self._conn = None

    def assess(self, trial_id, history):
        t = time.time()
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, check_same_thread=False)
        step = len(history) - 1
        row = self._conn.execute(
            "SELECT value FROM metrics WHERE trial_id = ? AND step = ?", (trial_id, step)
        ).fetchone()
        self.seen.append((trial_id, step, t, row is not None))
        return Verdict.CONTINUE

    def observe(self, result):
        with open(self.out, "w") as f:
            json.dump(self.seen, f)
'''


def run_once(
    root: Path, tag: str, channel: str, reports: int, interval: float
) -> tuple[list[float], int]:
    """One experiment of 2 concurrent reporting trials; (latencies, reports not yet visible)."""
    from hyperloom.experiment import Experiment

    code = root / "code"
    exp_id = f"lat-{tag}"
    exp_dir = root / "experiments" / exp_id
    out = root / f"{exp_id}.seen.json"
    cfg = trial_config(
        root, code / "reporter.py", trials=2, concurrency=2, channel=channel,
        searchSpace={  # x makes the space infinite, so the random tuner never runs out
            "x": {"_type": "uniform", "_value": [0, 1]},
            "reports": {"_type": "choice", "_value": [reports]},
            "interval": {"_type": "choice", "_value": [interval]},
        },
        assessor={
            "className": "lat_assessor.Recorder",
            "codeDirectory": str(code),
            "classArgs": {"db": str(exp_dir / "experiment.db"), "out": str(out)},
        },
    )  # fmt: skip
    records = Experiment.from_config(cfg, experiment_id=exp_id).run(dashboard=False)
    assert all(r.status.name == "SUCCEEDED" for r in records), [
        (r.status, r.reason) for r in records
    ]
    sent = {}
    for r in records:
        times = json.loads((exp_dir / "trials" / r.trial_id / "report_times.json").read_text())
        sent.update({(r.trial_id, i): t for i, t in enumerate(times)})
    seen = json.loads(out.read_text())
    latencies = [t - sent[(tid, step)] for tid, step, t, _ in seen]
    invisible = sum(not visible for *_, visible in seen)
    assert len(seen) == len(sent) == 2 * reports, (len(seen), len(sent))
    return latencies, invisible


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reports", type=int, default=200, help="reports per trial")
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between reports")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--channels", default="file,tcp,unix")
    args = ap.parse_args()
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}; 2 trials x {args.reports} reports every "
          f"{args.interval * 1000:g} ms per experiment")  # fmt: skip
    lat: dict[str, list[float]] = {c: [] for c in channels}
    p50s: dict[str, list[float]] = {c: [] for c in channels}
    invisible: dict[str, int] = dict.fromkeys(channels, 0)
    with tempfile.TemporaryDirectory(prefix="hl-replat-") as tmp:
        root = Path(tmp)
        os.environ["HYPERLOOM_HOME"] = str(root / "home")
        (root / "code").mkdir()
        (root / "code" / "reporter.py").write_text(textwrap.dedent(REPORTER))
        (root / "code" / "lat_assessor.py").write_text(textwrap.dedent(ASSESSOR))
        for r in range(args.rounds):
            order = channels[r % len(channels) :] + channels[: r % len(channels)]
            for ch in order:
                xs, bad = run_once(root, f"{ch}-{r}", ch, args.reports, args.interval)
                lat[ch] += xs
                p50s[ch].append(statistics.median(xs))
                invisible[ch] += bad
                print(f"  round {r + 1} {ch:<4} p50 {statistics.median(xs) * 1000:7.2f} ms  "
                      f"p99 {_pct(xs, 0.99) * 1000:7.2f} ms  (load {os.getloadavg()[0]:.1f})",
                      flush=True)  # fmt: skip
    print("report() -> committed in SQLite + assess() called, all rounds pooled:")
    for ch in channels:
        xs = lat[ch]
        rounds = ", ".join(f"{x * 1000:.2f}" for x in p50s[ch])
        print(f"  {ch:<4} n={len(xs):5d}  p50 {_pct(xs, 0.5) * 1000:7.2f} ms  "
              f"p99 {_pct(xs, 0.99) * 1000:7.2f} ms  max {max(xs) * 1000:7.2f} ms  "
              f"[round p50s: {rounds}]  not yet visible to a reader: {invisible[ch]}")  # fmt: skip


if __name__ == "__main__":
    main()
