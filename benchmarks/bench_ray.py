"""Trial start latency and trivial-trial throughput: the Ray executor against the local one.

Drives the executors directly, the way the manager does (``start``, events through ``emit`` on
the loop), with a trivial trial (``get_params()`` + ``report_final()``):

* start latency: trials one after another; per trial, the time from ``start()`` to its first
  message (the trial is up and reporting) and to its ``TrialExited`` (slot free again);
* throughput: ``--trials`` trivial trials with ``--concurrency`` running at once; trials/s;
* relay latency: one trial reporting every 5 ms; per report, the time from the trial's ``t``
  stamp to the manager's ``emit`` (file channel tailing locally, or the runner's long poll).

Each figure is the median over ``--repeat`` runs (latency: over all trials of all runs). Without
``--address`` the script starts a local two-node Ray cluster (head + one worker raylet, as in the
tests) and ends it afterwards; ``--address host:port`` uses a running one.

    .venv/bin/python benchmarks/bench_ray.py [--address HOST:PORT] [--latency-trials 8]
        [--trials 16] [--concurrency 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hyperloom.executor import LaunchSpec, LocalExecutor, TrialExited, TrialMessage

TRIVIAL = """
from hyperloom import trials
trials.report_final(trials.get_params()["x"])
"""

REPORTER = """
import time
from hyperloom import trials
for i in range(200):
    trials.report(i * 0.001)
    time.sleep(0.005)
trials.report_final(1.0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_cluster() -> Iterator[str]:
    """A head (2 CPUs) and a worker raylet (4 CPUs) on 127.0.0.1; ended on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="hlrb-", dir="/tmp"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERLOOM_")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    ray_bin = str(Path(sys.executable).parent / "ray")
    common = ["start", "--block", "--disable-usage-stats"]
    head_args = [
        "--head",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        f"--temp-dir={tmp}/h",
        f"--ray-client-server-port={_free_port()}",  # not 10001: another cluster may run
    ]
    procs = [subprocess.Popen([ray_bin, *common, *head_args], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            time.sleep(0.5)
        worker_args = [f"--address=127.0.0.1:{port}", "--num-cpus=4", f"--temp-dir={tmp}/w"]
        for _ in range(2):  # a worker raylet started while the head is busy may die at start
            worker = subprocess.Popen([ray_bin, *common, *worker_args], env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            procs.append(worker)
            if _alive_nodes(f"127.0.0.1:{port}", 2, 90) >= 2:
                break
            print("the worker raylet did not join; starting it again", file=sys.stderr)
        else:
            raise SystemExit("could not start a two-node local Ray cluster")
        yield f"127.0.0.1:{port}"
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _alive_nodes(address: str, want: int, timeout: float) -> int:
    """How many nodes are alive once ``want`` are (or ``timeout`` passed); 0 when unreachable."""
    code = (
        "import ray, time\n"
        f"end = time.time() + {timeout}\n"
        "while True:\n"
        "    try:\n"
        f"        ray.init(address={address!r}, log_to_driver=False, logging_level='ERROR')\n"
        "        break\n"
        "    except Exception:\n"
        "        if time.time() > end: raise\n"
        "        time.sleep(1)\n"
        f"while len([n for n in ray.nodes() if n['Alive']]) < {want} and time.time() < end:\n"
        "    time.sleep(0.5)\n"
        "print(len([n for n in ray.nodes() if n['Alive']]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 60
    )
    if out.returncode != 0 or not out.stdout.split():
        print(out.stderr[-2000:], file=sys.stderr)
        return 0
    return int(out.stdout.split()[-1])


class Bench:
    """One executor, its events, and trial specs in a scratch experiment directory."""

    def __init__(
        self, make: Callable[[Path, Callable[[Any], None]], Any], code: Path, script: str
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hlrb-exp-"))
        self.code = code
        self.script = script
        self.events: dict[str, asyncio.Queue[Any]] = {}
        self.executor = make(self.dir, self._on_event)
        self.n = 0

    def _on_event(self, ev: Any) -> None:
        self.events[ev.trial_id].put_nowait((time.perf_counter(), ev))

    def spec(self) -> LaunchSpec:
        self.n += 1
        tid = f"t{self.n:05d}"
        trial_dir = self.dir / "trials" / tid
        trial_dir.mkdir(parents=True)
        (trial_dir / "params.json").write_text(json.dumps({"x": self.n}))
        self.events[tid] = asyncio.Queue()
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HYPERLOOM_TRIAL_ID": tid,
            "HYPERLOOM_EXPERIMENT_ID": self.dir.name,
            "HYPERLOOM_TRIAL_DIR": str(trial_dir),
        }
        return LaunchSpec(
            tid,
            self.dir.name,
            self.n,
            f"python {self.script}",
            self.code,
            trial_dir,
            env,
            {"x": self.n},
        )

    async def run_one(self) -> tuple[float, float, list[float]]:
        """(seconds to first message, seconds to exit, relay latencies of its reports)."""
        spec = self.spec()
        t0 = time.perf_counter()
        await self.executor.start(spec)
        first = None
        relay = []
        while True:
            at, ev = await self.events[spec.trial_id].get()
            if isinstance(ev, TrialMessage):
                first = first if first is not None else at - t0
                relay.append(time.time() - ev.message.t)
            if isinstance(ev, TrialExited):
                assert ev.exit_code == 0, ev
                return (first if first is not None else float("nan")), at - t0, relay


async def measure(name: str, make: Callable[..., Any], args: argparse.Namespace) -> dict[str, Any]:
    code = Path(tempfile.mkdtemp(prefix="hlrb-code-"))
    (code / "trivial.py").write_text(TRIVIAL)
    (code / "reporter.py").write_text(REPORTER)
    firsts: list[float] = []
    exits: list[float] = []
    rates: list[float] = []
    relay: list[float] = []
    for _ in range(args.repeat):
        bench = Bench(make, code, "trivial.py")
        await bench.executor.open()
        try:
            await bench.run_one()  # warm-up: connection, code upload, first worker
            for _ in range(args.latency_trials):
                f, e, _r = await bench.run_one()
                firsts.append(f)
                exits.append(e)
            sem = asyncio.Semaphore(args.concurrency)

            async def one(b: Bench, sem: asyncio.Semaphore) -> None:
                async with sem:
                    await b.run_one()

            t0 = time.perf_counter()
            await asyncio.gather(*(one(bench, sem) for _ in range(args.trials)))
            rates.append(args.trials / (time.perf_counter() - t0))
            bench.script = "reporter.py"
            relay += (await bench.run_one())[2]
        finally:
            await bench.executor.close(grace=1.0)
    return {
        "executor": name,
        "start_to_first_message_s": statistics.median(firsts),
        "start_to_exit_s": statistics.median(exits),
        "throughput_trials_per_s": statistics.median(rates),
        "relay_latency_ms": 1000 * statistics.median(relay),
        "relay_latency_p95_ms": 1000 * statistics.quantiles(relay, n=20)[18],
    }


IDLE = "import time; time.sleep(60)\n"


async def poll_cost(
    address: str, wait: float, n: int = 4, seconds: float = 10.0
) -> dict[str, float]:
    """Manager-process CPU per runner poll: ``n`` idle trials polled every ``wait`` seconds."""
    from hyperloom.plugins.ray import RayExecutor

    code = Path(tempfile.mkdtemp(prefix="hlrb-code-"))
    (code / "idle.py").write_text(IDLE)
    opts = {"address": address, "pollWait": wait, "shipCode": False}
    bench = Bench(
        lambda d, emit: RayExecutor(experiment_dir=d, emit=emit, options=opts), code, "idle.py"
    )
    ex = bench.executor
    await ex.open()
    try:
        for _ in range(n):
            await ex.start(bench.spec())
        while not all(t.info for t in ex._trials.values()):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        p0, c0, w0 = time.process_time(), ex.polls, time.perf_counter()
        await asyncio.sleep(seconds)
        p1, c1, w1 = time.process_time(), ex.polls, time.perf_counter()
    finally:
        await ex.close(grace=0.5)
    return {
        "pollWait_s": wait,
        "polls_per_s": (c1 - c0) / (w1 - w0),
        "manager_cpu_s_per_s": (p1 - p0) / (w1 - w0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    parser.add_argument("--latency-trials", type=int, default=8)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poll-cost", action="store_true", help="only: manager CPU per idle poll")
    args = parser.parse_args()
    from hyperloom.plugins.ray import RayExecutor

    def local(d: Path, emit: Callable[[Any], None]) -> Any:
        return LocalExecutor(experiment_dir=d, emit=emit)

    def ray_exec(address: str, ship: bool) -> Callable[..., Any]:
        opts = {"address": address, "resourcesPerTrial": {"cpu": 1}, "shipCode": ship}
        return lambda d, emit: RayExecutor(experiment_dir=d, emit=emit, options=opts)

    with contextlib.ExitStack() as stack:
        address = args.address or stack.enter_context(local_cluster())
        if args.poll_cost:
            a, b = (asyncio.run(poll_cost(address, w)) for w in (0.5, 0.05))
            slope = (b["manager_cpu_s_per_s"] - a["manager_cpu_s_per_s"]) / (
                b["polls_per_s"] - a["polls_per_s"]
            )
            print(json.dumps([a, b]))
            print(f"manager CPU per poll (slope between the two poll rates): {1e6 * slope:.0f} us")
            return
        rows = [asyncio.run(measure("local", local, args))]
        rows.append(asyncio.run(measure("ray (code shipped)", ray_exec(address, True), args)))
        rows.append(asyncio.run(measure("ray (shipCode: false)", ray_exec(address, False), args)))
    print(
        f"{'executor':<24}{'first msg s':>12}{'exit s':>10}{'trials/s':>10}{'relay ms':>10}{'p95 ms':>9}"
    )
    for r in rows:
        print(
            f"{r['executor']:<24}{r['start_to_first_message_s']:>12.3f}{r['start_to_exit_s']:>10.3f}"
            f"{r['throughput_trials_per_s']:>10.2f}{r['relay_latency_ms']:>10.1f}{r['relay_latency_p95_ms']:>9.1f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
