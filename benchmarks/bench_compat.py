"""How long an unmodified NNI trial spends importing nni: the real package vs hyperloom's shim.

Runs ``python -c "import nni; nni.get_next_parameter()"`` N times inside a fake trial directory,
once with the real nni (an interpreter that has it: --nni-python, default .venv-nni/bin/python)
and once with the light shim, and prints the median wall time of each, next to a bare
``python -c pass``. Also times the plain-script wrapper against running the same script directly.

    .venv/bin/python benchmarks/bench_compat.py -n 11
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _env(trial_dir: Path, shim: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNI_", "HYPERLOOM_"))}
    paths = [str(REPO / "trials" / "_nni_bridge")] + (
        [str(REPO / "trials" / "_nni_shim")] if shim else []
    )
    env.update(
        HYPERLOOM_TRIAL_ID="b1",
        HYPERLOOM_EXPERIMENT_ID="bench",
        HYPERLOOM_TRIAL_DIR=str(trial_dir),
        NNI_PLATFORM="local",
        REUSE_MODE="true",
        NNI_EXP_ID="bench",
        NNI_TRIAL_JOB_ID="b1",
        NNI_TRIAL_SEQ_ID="0",
        NNI_SYS_DIR=str(trial_dir),
        NNI_OUTPUT_DIR=str(trial_dir),
        NNI_TRIAL_COMMAND_CHANNEL="import://_hyperloom_nni_bridge.HyperloomChannel",
        HYPERLOOM_TRIALS_SRC=str(REPO / "trials"),
        HYPERLOOM_CORE_SRC=str(REPO / "core"),
        PYTHONPATH=os.pathsep.join(paths),
    )
    if shim:
        env["HYPERLOOM_NNI_SHIM"] = "force"
    return env


def _median(cmd: list[str], env: dict[str, str], n: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys of the child and its children)."""
    walls, cpus = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=11)
    p.add_argument("--nni-python", default=str(REPO / ".venv-nni" / "bin" / "python"))
    args = p.parse_args()
    code = "import nni; nni.get_next_parameter(); nni.report_final_result(0.5)"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "params.json").write_text(json.dumps({"x": 1}))
        results = {
            "bare python -c pass": _median([sys.executable, "-c", "pass"], dict(os.environ), args.n)
        }
        results["shim: import nni + 1 report"] = _median(
            [sys.executable, "-c", code], _env(d, True), args.n
        )
        if Path(args.nni_python).exists():
            results["real nni 3.0: import nni + 1 report"] = _median(
                [args.nni_python, "-c", code], _env(d, False), args.n
            )
        script = d / "s.py"
        script.write_text("for e in range(3): print(f'epoch={e} acc={e / 10}')\n")
        direct = [sys.executable, str(script)]
        wrapped = [
            sys.executable,
            "-m",
            "hyperloom.trials.wrap",
            "--objective",
            "acc",
            "--",
            *direct,
        ]
        env = {**os.environ, "HYPERLOOM_TRIAL_DIR": str(d), "HYPERLOOM_TRIAL_ID": "b1"}
        results["plain script, direct"] = _median(direct, env, args.n)
        results["plain script, under hyperloom.trials.wrap"] = _median(wrapped, env, args.n)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; n={args.n}")
    for k, (wall, cpu) in results.items():
        print(f"{k:45s} wall median {wall * 1000:8.1f} ms   cpu median {cpu * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
