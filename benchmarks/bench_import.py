"""Import cost of ``hyperloom.trials`` over a bare interpreter start.

Runs ``python -c pass`` and ``python -c "import hyperloom.trials"`` alternately, N times each,
and prints the medians and their difference (target: at most 30 ms). Also shows what the import
pulls in according to ``-X importtime`` (cumulative microseconds of the top-level entries).

    .venv/bin/python benchmarks/bench_import.py [-n 40] [--module hyperloom.trials]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _run(code: str) -> tuple[float, float]:
    """Wall-clock and CPU (user + sys) seconds of one ``python -c code``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"python -c {code!r} failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _importtime(module: str) -> list[tuple[int, str]]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        if not name.startswith("  "):  # nested imports are indented further
            rows.append((int(cumulative), name.strip()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="runs of each command (default 40)")
    parser.add_argument("--module", default="hyperloom.trials")
    args = parser.parse_args()

    _run("pass")  # warm the page cache
    _run(f"import {args.module}")
    bare, loaded = [], []
    for _ in range(args.n):
        bare.append(_run("pass"))
        loaded.append(_run(f"import {args.module}"))
    print(
        f"python: {sys.executable} ({sys.version.split()[0]}), {args.n} runs each, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for label, idx in (("wall", 0), ("cpu (user+sys)", 1)):
        b = statistics.median(r[idx] for r in bare)
        m = statistics.median(r[idx] for r in loaded)
        print(
            f"{label:>15}: bare {b * 1000:6.1f} ms, with import {m * 1000:6.1f} ms, "
            f"added {max(0.0, m - b) * 1000:5.1f} ms (target <= 30 ms)"
        )
    top = sorted(_importtime(args.module), reverse=True)[:8]
    print("top-level imports by -X importtime (cumulative, one run):")
    for us, name in top:
        print(f"  {us / 1000:7.2f} ms  {name}")


if __name__ == "__main__":
    main()
