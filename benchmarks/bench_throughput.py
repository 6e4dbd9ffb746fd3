"""Trivial-trial throughput: hyperloom's trials/s against a bare spawn loop (issue 2).

200 trials of a script that reads its parameters (``hyperloom.trials.get_params``) and reports one
final value (``report_final``), at concurrency 2, the trial command using the interpreter's real
path (``sys.executable``). Side by side, in rounds whose order rotates so that the shared
machine's load hits every contender alike:

* ``bare``: a loop that spawns the same script, 2 at a time (a thread pool of 2 around
  ``subprocess.run``), each trial with its own directory, ``params.json`` and ``HYPERLOOM_*``
  environment, so the script does exactly what it does under hyperloom (file channel);
* ``file`` / ``tcp``: ``Experiment.from_config(dict).run(dashboard=False)`` in this process, with
  config ``channel: file`` or ``channel: tcp``; the time is the whole ``run()`` call (store
  creation, tuner, the manager's loop, shutdown);
* ``xargs``: the bare loop as a shell pipeline, ``xargs -P2`` running ``sh -c`` per trial that
  writes ``params.json`` and runs the script with the same environment (no Python thread pool);
* once at the end, ``hyperloom run CONFIG -q --no-dashboard`` as a subprocess (file channel):
  the same, plus the CLI's start-up, typer/rich and the summary table.

An untimed 2-trial experiment first loads hyperloom's modules, so that no timed run pays for the
imports. The reported figure is the median trials/s over the rounds and its ratio to the bare median
(target: >= 0.5). ``--profile`` additionally runs one file-channel experiment under cProfile and
prints where the manager's time went.

    .venv/bin/python benchmarks/bench_throughput.py                      # 200 trials, 3 rounds
    .venv/bin/python benchmarks/bench_throughput.py --trials 50 --rounds 1   # quick look
    .venv/bin/python benchmarks/bench_throughput.py --rounds 0 --profile     # profile only
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

TRIVIAL = """
from hyperloom import trials
p = trials.get_params()
trials.report_final(p["x"])
"""


def trial_config(
    root: Path, script: Path, *, trials: int, concurrency: int, channel: str, **extra: Any
) -> dict[str, Any]:
    """The experiment config dict the benchmarks share (random tuner, one uniform parameter)."""
    cfg: dict[str, Any] = {
        "experimentName": f"bench-{channel}",
        "trialCommand": f"{sys.executable} {script.name}",
        "trialCodeDirectory": str(script.parent),
        "trialConcurrency": concurrency,
        "maxTrialNumber": trials,
        "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}},
        "tuner": {"name": "random", "classArgs": {"seed": 0}},
        "experimentWorkingDirectory": str(root / "experiments"),
        "channel": channel,
        "dashboard": False,
    }
    cfg.update(extra)
    return cfg


def run_hyperloom(root: Path, script: Path, n: int, concurrency: int, channel: str) -> float:
    """Trials/s of one in-process experiment (``Experiment.from_config(dict).run()``)."""
    from hyperloom.experiment import Experiment
    from hyperloom.types import TrialStatus

    cfg = trial_config(root, script, trials=n, concurrency=concurrency, channel=channel)
    t0 = time.perf_counter()
    records = Experiment.from_config(cfg).run(dashboard=False)
    elapsed = time.perf_counter() - t0
    ok = sum(r.status == TrialStatus.SUCCEEDED for r in records)
    if ok != n:
        bad = [
            (r.trial_id, r.status.name, r.reason)
            for r in records
            if r.status != TrialStatus.SUCCEEDED
        ]
        raise SystemExit(f"{channel}: only {ok}/{n} trials succeeded: {bad[:3]}")
    return n / elapsed


def run_cli(root: Path, script: Path, n: int, concurrency: int, channel: str) -> float:
    """Trials/s of ``hyperloom run config.yaml -q --no-dashboard`` (a subprocess)."""
    import yaml

    cfg = trial_config(root, script, trials=n, concurrency=concurrency, channel=channel)
    path = root / f"cli-{channel}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    exe = Path(sys.executable).with_name("hyperloom")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hyperloom.cli"]
    t0 = time.perf_counter()
    subprocess.run(
        [*cmd, "run", str(path), "-q", "--no-dashboard"], check=True, stdout=subprocess.DEVNULL
    )
    return n / (time.perf_counter() - t0)


def run_bare(root: Path, script: Path, n: int, concurrency: int, tag: str) -> float:
    """Trials/s of a bare loop spawning the same script with the same parallelism."""
    exp_dir = root / "bare" / tag
    jobs = []
    for i in range(n):
        trial_dir = exp_dir / "trials" / f"t{i}"
        trial_dir.mkdir(parents=True)
        env = {
            **os.environ,
            "HYPERLOOM_TRIAL_ID": f"t{i}",
            "HYPERLOOM_EXPERIMENT_ID": "bare",
            "HYPERLOOM_TRIAL_DIR": str(trial_dir),
            "HYPERLOOM_CHANNEL": "file",
        }
        jobs.append((trial_dir, env, {"x": i / n}))

    def one(job: tuple[Path, dict[str, str], dict[str, float]]) -> None:
        trial_dir, env, params = job
        (trial_dir / "params.json").write_text(json.dumps(params))
        with (
            (trial_dir / "stdout.log").open("wb") as out,
            (trial_dir / "stderr.log").open("wb") as err,
        ):
            subprocess.run(
                [sys.executable, script.name], cwd=script.parent, env=env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, check=True, start_new_session=True,
            )  # fmt: skip
        if b'"final"' not in (trial_dir / "metrics.jsonl").read_bytes():
            raise SystemExit(f"bare trial {trial_dir} reported no final value")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, jobs))
    return n / (time.perf_counter() - t0)


XARGS_JOB = (
    'd="$1/trials/t$2"; mkdir -p "$d"; printf \'{"x": %s}\' "$3" > "$d/params.json"; '
    'HYPERLOOM_TRIAL_ID="t$2" HYPERLOOM_EXPERIMENT_ID=xargs HYPERLOOM_TRIAL_DIR="$d" '
    'HYPERLOOM_CHANNEL=file "$4" "$5" < /dev/null > "$d/stdout.log" 2> "$d/stderr.log"'
)


def run_xargs(root: Path, script: Path, n: int, concurrency: int, tag: str) -> float:
    """Trials/s of ``xargs -P<concurrency>`` spawning the same script (a shell per trial)."""
    exp_dir = root / "xargs" / tag
    exp_dir.mkdir(parents=True)
    lines = "".join(f"{i} {i / n!r}\n" for i in range(n))
    # xargs appends each line's two words after the fixed arguments: $2 = i, $3 = x
    cmd = ["xargs", f"-P{concurrency}", "-L1", "sh", "-c",
           XARGS_JOB.replace('"$4" "$5"', f'"{sys.executable}" "{script.name}"')
           + ' && grep -q \'"final"\' "$d/metrics.jsonl"',
           "job", str(exp_dir)]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, input=lines, text=True, check=True, cwd=script.parent)
    elapsed = time.perf_counter() - t0
    done = sum(1 for _ in (exp_dir / "trials").iterdir())
    if done != n:
        raise SystemExit(f"xargs: {done}/{n} trials ran")
    return n / elapsed


def profile_manager(root: Path, script: Path, n: int, concurrency: int, top: int) -> str:
    """One file-channel experiment under cProfile; the top functions by own and cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    rate = run_hyperloom(root, script, n, concurrency, "file")
    prof.disable()
    out = io.StringIO()
    out.write(f"profiled run: {rate:.2f} trials/s (slowed by the profiler)\n")
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of bare/file/tcp, order rotating")
    ap.add_argument("--channels", default="file,tcp", help="hyperloom transports to compare")
    ap.add_argument("--no-cli", action="store_true", help="skip the `hyperloom run` measurement")
    ap.add_argument("--profile", action="store_true", help="also profile one run with cProfile")
    ap.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    args = ap.parse_args()
    n, c = args.trials, args.concurrency
    channels = [ch.strip() for ch in args.channels.split(",") if ch.strip()]
    print(f"python {sys.version.split()[0]} at {sys.executable}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}; {n} trials at concurrency {c}")  # fmt: skip
    contenders = ["bare", "xargs", *channels]
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    with tempfile.TemporaryDirectory(prefix="hl-throughput-") as tmp:
        root = Path(tmp)
        os.environ["HYPERLOOM_HOME"] = str(root / "home")  # keep the .index out of the user's home
        script = root / "code" / "trivial.py"
        script.parent.mkdir()
        script.write_text(textwrap.dedent(TRIVIAL))
        if args.rounds and channels:  # untimed: the first run in this process pays the imports
            run_hyperloom(root, script, 2, c, channels[0])
        for r in range(args.rounds):
            order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
            for who in order:
                if who == "bare":
                    rate = run_bare(root, script, n, c, f"r{r}")
                elif who == "xargs":
                    rate = run_xargs(root, script, n, c, f"r{r}")
                else:
                    rate = run_hyperloom(root, script, n, c, who)
                rates[who].append(rate)
                print(f"  round {r + 1} {who:<5} {rate:6.2f} trials/s  (load {os.getloadavg()[0]:.1f})",
                      flush=True)  # fmt: skip
        cli_rate = None if args.no_cli else run_cli(root, script, n, c, "file")
        prof = profile_manager(root, script, n, c, args.top) if args.profile else None
    if args.rounds:
        bare = statistics.median(rates["bare"])
        print(f"medians over {args.rounds} rounds:")
        for who in contenders:
            med = statistics.median(rates[who])
            runs = ", ".join(f"{x:.2f}" for x in rates[who])
            xa = statistics.median(rates["xargs"])
            print(f"  {who:<5} {med:6.2f} trials/s  ({med / bare:.2f} of bare, "
                  f"{med / xa:.2f} of xargs -P{c})  [{runs}]")  # fmt: skip
        if cli_rate is not None:
            print(
                f"  hyperloom run (CLI, file, once) {cli_rate:6.2f} trials/s ({cli_rate / bare:.2f} of bare)"
            )
    elif cli_rate is not None:
        print(f"hyperloom run (CLI, file, once): {cli_rate:.2f} trials/s")
    if prof:
        print(prof)


if __name__ == "__main__":
    main()
