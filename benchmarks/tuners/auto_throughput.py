"""Is ``auto`` safe as the default tuner for very fast trials? Quickstart-like throughput.

200 trivial trials (a script that reads its parameters and reports one value) over the
quickstart's search space (2 loguniform, 1 randint, 2 choices), at concurrency 2, run through
``Experiment.from_config(dict).run()`` in this process, side by side with ``random``, ``auto``
and ``tpe``, in rounds whose order rotates (the shared machine's load hits each alike). Reported:
median trials/s per tuner, its ratio to random's, and the tuner's own time (CPU seconds spent in
``suggest``/``observe``, measured by wrapping the tuner's methods).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/tuners/auto_throughput.py            # 200 x 3
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/tuners/auto_throughput.py --trials 50 --rounds 1
    ... --tuners random,auto+duration      # auto seeing trial durations (its quick-trial rule)

Writes ``auto_throughput.json`` next to this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

TRIVIAL = """
from hyperloom import trials
p = trials.get_params()
trials.report_final(p["lr"] * p["epochs"] + (p["features"] == "poly2"))
"""

SPACE = {
    "lr": {"_type": "loguniform", "_value": [0.001, 3.0]},
    "epochs": {"_type": "randint", "_value": [3, 15]},
    "batch_size": {"_type": "choice", "_value": [16, 32, 64]},
    "l2": {"_type": "loguniform", "_value": [0.00001, 0.1]},
    "features": {"_type": "choice", "_value": ["linear", "poly2", "poly3"]},
}


#: auto's last choice and reason per tuner name
CHOICE: dict[str, str] = {}


def _timed_tuner(name: str) -> tuple[str, dict[str, float]]:
    """A module:Class path of a subclass of ``name``'s class that sums its suggest/observe time.

    ``NAME+duration``: the results it observes also carry ``duration`` (wall seconds from its
    suggestion to the result), standing in for the ``TrialResult.duration`` that auto's
    quick-trial rule reads and the kernel does not provide yet."""
    import dataclasses
    import types

    from hyperloom.registry import load
    from hyperloom.types import TrialResult

    base_name, _, extra = name.partition("+")
    base = load("tuner", base_name, None)
    spent = {"suggest": 0.0, "observe": 0.0, "n": 0.0}

    @dataclasses.dataclass(frozen=True)
    class WithDuration(TrialResult):
        duration: float | None = None

    started: dict[str, float] = {}

    class Timed(base):  # type: ignore[misc, valid-type]
        def suggest(self, trial_id: str) -> Any:
            t0 = time.process_time()
            started[trial_id] = time.monotonic()
            try:
                return super().suggest(trial_id)
            finally:
                spent["suggest"] += time.process_time() - t0
                spent["n"] += 1
                if hasattr(self, "choice"):
                    CHOICE[name] = f"{self.choice}: {self.reason}"

        def observe(self, result: Any) -> None:
            t0 = time.process_time()
            if extra == "duration" and result.trial_id in started:
                secs = time.monotonic() - started.pop(result.trial_id)
                if "duration" in {f.name for f in dataclasses.fields(TrialResult)}:
                    if getattr(result, "duration", None) is None:  # the kernel's own, if set
                        result = dataclasses.replace(result, duration=secs)
                else:
                    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
                    result = WithDuration(**fields, duration=secs)
            try:
                super().observe(result)
            finally:
                spent["observe"] += time.process_time() - t0

    mod = types.ModuleType(f"_timed_{base_name}_{extra}")
    mod.Timed = Timed  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    return f"{mod.__name__}:Timed", spent


def run_one(root: Path, script: Path, tuner: str, n: int, concurrency: int) -> dict[str, Any]:
    from hyperloom.experiment import Experiment
    from hyperloom.types import TrialStatus

    path, spent = _timed_tuner(tuner)
    cfg: dict[str, Any] = {
        "experimentName": f"auto-throughput-{tuner.replace('+', '-')}",
        "trialCommand": f"{sys.executable} {script.name}",
        "trialCodeDirectory": str(script.parent),
        "trialConcurrency": concurrency,
        "maxTrialNumber": n,
        "searchSpace": SPACE,
        "tuner": {"name": path, "classArgs": {"seed": 0, "mode": "maximize"}},
        "maxExperimentDuration": "1h",
        "experimentWorkingDirectory": str(root / "experiments"),
        "dashboard": False,
    }
    t0 = time.perf_counter()
    records = Experiment.from_config(cfg).run(dashboard=False)
    wall = time.perf_counter() - t0
    ok = sum(r.status == TrialStatus.SUCCEEDED for r in records)
    return {
        "tuner": tuner,
        "trials": n,
        "succeeded": ok,
        "wall_s": wall,
        "trials_per_s": n / wall,
        "suggest_cpu_s": spent["suggest"],
        "observe_cpu_s": spent["observe"],
        "suggest_ms_mean": 1000 * spent["suggest"] / max(spent["n"], 1),
        "choice": CHOICE.get(tuner),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--tuners", default="random,auto,tpe")
    args = ap.parse_args()
    tuners = args.tuners.split(",")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        script = root / "trial.py"
        script.write_text(TRIVIAL)
        run_one(root, script, "random", 2, args.concurrency)  # warm-up: imports
        for r in range(args.rounds):
            order = tuners[r % len(tuners) :] + tuners[: r % len(tuners)]
            for t in order:
                rec = run_one(root, script, t, args.trials, args.concurrency)
                rec["round"] = r
                runs.append(rec)
                print(
                    f"round {r} {t:>7}: {rec['trials_per_s']:.2f} trials/s, "
                    f"{rec['succeeded']}/{rec['trials']} ok, suggest {rec['suggest_cpu_s']:.2f} s "
                    f"CPU ({rec['suggest_ms_mean']:.1f} ms each)"
                    + (f"; auto: {rec['choice']}" if rec["choice"] else ""),
                    flush=True,
                )
    summary: dict[str, Any] = {}
    base = statistics.median(x["trials_per_s"] for x in runs if x["tuner"] == tuners[0])
    print(
        f"\nmedian over {args.rounds} rounds, {args.trials} trials, concurrency {args.concurrency}"
    )
    for t in tuners:
        mine = [x for x in runs if x["tuner"] == t]
        tps = statistics.median(x["trials_per_s"] for x in mine)
        sug = statistics.median(x["suggest_cpu_s"] for x in mine)
        summary[t] = {
            "trials_per_s": tps,
            "ratio_to_" + tuners[0]: tps / base,
            "suggest_cpu_s": sug,
        }
        print(
            f"{t:>8}: {tps:.2f} trials/s ({tps / base:.2f}x {tuners[0]}), suggest CPU {sug:.2f} s"
        )
    out = {"args": vars(args), "runs": runs, "summary": summary}
    path = HERE / "auto_throughput.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old[",".join(tuners)] = out  # one entry per tuner set
    path.write_text(json.dumps(old, indent=1))


if __name__ == "__main__":
    main()
