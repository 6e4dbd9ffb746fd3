"""Replays the recorded learning curves through early-stopping rules, side by side.

Each order is a random permutation of the configurations of one learning-curve dataset in
``benchmarks/data`` (by default all four: ``mnist1d_curves.npz``, 240 torch MLPs and CNNs on
MNIST-1D x 50 epochs, ``digits_mlp_curves.npz``, 220 scikit-learn MLPs on the 8x8 digits x
40 epochs, ``fashion_sgd_curves.npz``, 160 scikit-learn SGD linear models on a Fashion-MNIST
subset x 30 epochs, and ``fashion_mlp_curves.json``, torch MLPs on Fashion-MNIST x 30 epochs;
one table each). Trials run 4 at a time; at every tick each running trial advances one epoch and reports it; the rule decides after
each report; a stopped or finished trial frees its slot for the next one. For every rule and order
the script measures:

* ``epochs``: the fraction of all epochs (n_configs x n_epochs) that were trained;
* ``best``: whether the best final run survived (regret 0: a run with the best final value
  completed);
* ``top5``: how many of the 5 runs with the best final values completed (ties broken by the
  mean of the last 5 epochs);
* ``regret``: best final value overall minus the best final value among completed runs.

Rules: hyperloom's ``median_stop``, ``curve_fitting`` and ``asha`` (their defaults unless given),
NNI 3.0's own ``Medianstop`` (``nni:Medianstop``, run in ``$HYPERLOOM_NNI_PYTHON`` or
``.venv-nni``; left out of the default table when neither exists), Optuna's ``MedianPruner``,
``SuccessiveHalvingPruner`` and ``HyperbandPruner`` (defaults; driven through an in-memory study
with ask/tell, ``trial.report`` and ``trial.should_prune``), and no stopping.

Usage::

    .venv/bin/python benchmarks/assessors/replay.py --orders 10 --workers 2
    .venv/bin/python benchmarks/assessors/replay.py --data benchmarks/data/mnist1d_curves.npz \
        --rule 'median_stop:{"start_step": 2}' --rule 'median_stop:{"start_step": 6}'
    .venv/bin/python benchmarks/assessors/replay.py --metric logloss   # minimize the val loss

Optuna is a benchmark-only dependency (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DATASETS = [
    d
    for d in (
        DATA_DIR / "mnist1d_curves.npz",
        DATA_DIR / "digits_mlp_curves.npz",
        DATA_DIR / "fashion_sgd_curves.npz",
        DATA_DIR / "fashion_mlp_curves.json",
    )
    if d.exists()
]
CONCURRENCY = 4


class Rule:
    """One early-stopping rule behind a small common interface."""

    def start(self, tid: int) -> None: ...

    def report(self, tid: int, history: list[float]) -> bool:
        """Returns True to stop the trial."""
        raise NotImplementedError

    def end(self, tid: int, history: list[float], stopped: bool) -> None: ...


class NoStop(Rule):
    def report(self, tid: int, history: list[float]) -> bool:
        return False


class Hyperloom(Rule):
    def __init__(self, name: str, mode: str, **kwargs: Any) -> None:
        from hyperloom.registry import load_assessor

        self.assessor = load_assessor(name, mode=mode, **kwargs)

    def report(self, tid: int, history: list[float]) -> bool:
        from hyperloom.types import Verdict

        return self.assessor.assess(str(tid), history) is Verdict.STOP

    def end(self, tid: int, history: list[float], stopped: bool) -> None:
        from hyperloom.types import TrialResult, TrialStatus

        status = TrialStatus.EARLY_STOPPED if stopped else TrialStatus.SUCCEEDED
        self.assessor.observe(TrialResult(str(tid), {}, status, history[-1], tuple(history)))


class Optuna(Rule):
    def __init__(self, pruner: str, mode: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        p = {
            "MedianPruner": optuna.pruners.MedianPruner(),
            "SuccessiveHalvingPruner": optuna.pruners.SuccessiveHalvingPruner(),
            "HyperbandPruner": optuna.pruners.HyperbandPruner(),
        }[pruner]
        self.study = optuna.create_study(direction=mode, pruner=p)
        self.trials: dict[int, Any] = {}

    def start(self, tid: int) -> None:
        self.trials[tid] = self.study.ask()

    def report(self, tid: int, history: list[float]) -> bool:
        trial = self.trials[tid]
        trial.report(history[-1], step=len(history))
        return bool(trial.should_prune())

    def end(self, tid: int, history: list[float], stopped: bool) -> None:
        import optuna

        trial = self.trials.pop(tid)
        if stopped:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, history[-1])


class Nni(Rule):
    """NNI 3.0's own ``Medianstop`` assessor (its defaults: ``start_step`` 0), driven as NNI's
    dispatcher does: ``assess_trial`` after each report, ``trial_end(success)`` at the end. Runs
    only in an interpreter that has nni (``run_one`` hands it to ``$HYPERLOOM_NNI_PYTHON`` or
    ``.venv-nni``)."""

    def __init__(self, name: str, mode: str, **kwargs: Any) -> None:
        from nni.algorithms.hpo.medianstop_assessor import MedianstopAssessor

        if name != "Medianstop":
            raise ValueError(f"only nni:Medianstop is wired, got nni:{name}")
        self.assessor = MedianstopAssessor(optimize_mode=mode, **kwargs)

    def report(self, tid: int, history: list[float]) -> bool:
        from nni.assessor import AssessResult

        return self.assessor.assess_trial(str(tid), list(history)) is AssessResult.Bad

    def end(self, tid: int, history: list[float], stopped: bool) -> None:
        self.assessor.trial_end(str(tid), not stopped)


def nni_python() -> str | None:
    """The interpreter with nni: ``$HYPERLOOM_NNI_PYTHON`` or ``<repo>/.venv-nni/bin/python``."""
    import os

    cand = os.environ.get("HYPERLOOM_NNI_PYTHON") or str(
        Path(__file__).resolve().parents[2] / ".venv-nni" / "bin" / "python"
    )
    return cand if Path(cand).exists() else None


def make_rule(spec: str, mode: str) -> Rule:
    """``spec`` is ``none``, ``optuna:<Pruner>``, ``nni:Medianstop[:json classArgs]`` or
    ``<assessor>[:json classArgs]``."""
    if spec == "none":
        return NoStop()
    if spec.startswith("nni:"):
        name, _, args = spec[4:].partition(":")
        return Nni(name, mode, **(json.loads(args) if args else {}))
    if spec.startswith("optuna:"):
        return Optuna(spec.split(":", 1)[1], mode)
    name, _, args = spec.partition(":")
    return Hyperloom(name, mode, **(json.loads(args) if args else {}))


def replay(
    curves: np.ndarray, order: np.ndarray, rule: Rule, used: dict[int, int] | None = None
) -> tuple[int, set[int], list[float]]:
    """Plays ``curves`` in ``order``; returns epochs used, completed trials and assess times.

    ``used``, when given, receives each trial's epochs.
    """
    queue = list(order)
    running: dict[int, list[float]] = {}
    completed: set[int] = set()
    epochs = 0
    times: list[float] = []
    n_epochs = curves.shape[1]
    while queue or running:
        while queue and len(running) < CONCURRENCY:
            tid = int(queue.pop(0))
            rule.start(tid)
            running[tid] = []
        for tid in list(running):
            history = running[tid]
            history.append(float(curves[tid, len(history)]))
            epochs += 1
            t0 = time.perf_counter()
            stop = rule.report(tid, list(history))
            times.append(time.perf_counter() - t0)
            if stop or len(history) == n_epochs:
                rule.end(tid, history, stopped=stop and len(history) < n_epochs)
                if not stop or len(history) == n_epochs:
                    completed.add(tid)
                if used is not None:
                    used[tid] = len(history)
                del running[tid]
    return epochs, completed, times


def score(curves: np.ndarray, completed: set[int], epochs: int, mode: str) -> dict[str, float]:
    final = curves[:, -1] if mode == "maximize" else -curves[:, -1]
    best = float(final.max())
    best_done = max(float(final[i]) for i in completed) if completed else float("-inf")
    # ties on the final value (accuracy on 540 images moves in steps of 1/540) are broken by the
    # mean of the last 5 epochs, a steadier measure of the same quality
    steady = curves[:, -5:].mean(axis=1) * (1 if mode == "maximize" else -1)
    top5 = [int(i) for i in np.lexsort((-steady, -final))[:5]]
    return {
        "epochs": epochs / curves.size,
        "best": float(best_done >= best),
        "top5": float(sum(i in completed for i in top5)),
        "regret": best - best_done,
    }


def load_curves(path: str | Path, metric: str = "accuracy") -> np.ndarray:
    """A dataset's (configurations x epochs) curves of ``metric``: an ``.npz`` with one array
    per metric, or a ``.json`` object with one list of lists per metric (``record_*.py``)."""
    path = Path(path)
    if path.suffix == ".json":
        return np.asarray(json.loads(path.read_text())[metric], dtype=float)
    with np.load(path) as z:
        return np.asarray(z[metric], dtype=float)


def run_one(job: tuple[str, str, int, str, str]) -> dict[str, Any]:
    spec, label, seed, metric, data = job
    if spec.startswith("nni:"):
        try:
            import nni  # noqa: F401
        except ImportError:
            return _run_in_nni(job)
    curves = load_curves(data, metric)
    mode = "maximize" if metric == "accuracy" else "minimize"
    order = np.random.default_rng(seed).permutation(len(curves))
    t0 = time.perf_counter()
    epochs, completed, times = replay(curves, order, make_rule(spec, mode))
    out = score(curves, completed, epochs, mode)
    out.update(
        rule=label,
        seed=seed,
        wall_s=time.perf_counter() - t0,
        median_assess_ms=1e3 * statistics.median(times),
    )
    return out


def _run_in_nni(job: tuple[str, str, int, str, str]) -> dict[str, Any]:
    """Runs one NNI order in the nni interpreter (this file, ``--job``)."""
    import subprocess

    python = nni_python()
    if python is None:
        raise SystemExit(
            "nni rules need an interpreter with nni 3.0: set HYPERLOOM_NNI_PYTHON or make .venv-nni"
        )
    out = subprocess.run(
        [python, __file__, "--job", json.dumps(job)], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise RuntimeError(f"{python} failed on {job}: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def default_rules(metric: str) -> list[tuple[str, str]]:
    """The rules of the side-by-side table: each assessor at its defaults; median_stop also with
    NNI's rule and defaults (Vizier's median of completed trials' running averages, judged from
    the first report as soon as one trial completed), and NNI 3.0's own Medianstop when an
    interpreter with nni is found; curve_fitting also without its guard (issue 4's bar, the 5th
    best completed, from step 4); Optuna's pruners at their defaults."""
    del metric  # every rule below works in both modes
    rules = [
        ("none", "no stopping"),
        ("median_stop", "hyperloom median_stop (defaults)"),
        ('median_stop:{"envelope_trials": 10}', "hyperloom median_stop (envelope 10)"),
        (
            'median_stop:{"start_step": 1, "n_startup_trials": 1, "reference": "completed", '
            '"percentile": 50, "percentile_growth": 0}',
            "hyperloom median_stop (NNI's rule)",
        ),
    ]
    if nni_python() is not None:
        rules.append(("nni:Medianstop", "NNI 3.0 Medianstop (defaults)"))
    rules += [
        ("curve_fitting", "hyperloom curve_fitting (defaults)"),
        ('curve_fitting:{"guard_envelope_trials": 10}', "hyperloom curve_fitting (envelope 10)"),
        ('curve_fitting:{"guard_start_step": null}', "hyperloom curve_fitting (no guard)"),
        ("asha", "hyperloom asha (defaults)"),
        ("optuna:MedianPruner", "optuna MedianPruner"),
        ("optuna:SuccessiveHalvingPruner", "optuna SuccessiveHalvingPruner"),
        ("optuna:HyperbandPruner", "optuna HyperbandPruner"),
    ]
    return rules


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--metric", choices=["accuracy", "logloss"], default="accuracy")
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="a learning-curve dataset (repeatable; default: every dataset in benchmarks/data)",
    )
    parser.add_argument(
        "--rule",
        action="append",
        help="only these rules (repeatable): none, optuna:<Pruner>, <assessor>[:json classArgs]",
    )
    parser.add_argument("--json", type=Path, help="also write every order's figures here")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # one order, as JSON (nni interpreter)
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(run_one(tuple(json.loads(args.job)))))
        return
    rules = [(r, r) for r in args.rule] if args.rule else default_rules(args.metric)
    seeds = range(args.first_seed, args.first_seed + args.orders)
    datasets = args.data or DATASETS
    jobs = [
        (spec, label, s, args.metric, str(d))
        for d in datasets
        for spec, label in rules
        for s in seeds
    ]
    run: Callable[..., Any] = map
    pool = None
    if args.workers > 1:
        pool = ProcessPoolExecutor(max_workers=args.workers)
        run = pool.map
    t0 = time.perf_counter()
    rows = list(run(run_one, jobs))
    if pool is not None:
        pool.shutdown()
    for job, row in zip(jobs, rows, strict=True):
        row["data"] = Path(job[4]).name
    print(f"replayed in {time.perf_counter() - t0:.0f} s")
    for d in datasets:
        print_table(d, [r for r in rows if r["data"] == d.name], rules, args)
    print("\nepochs used: median over orders (max); regret: mean (max)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def print_table(
    data: Path, rows: list[dict[str, Any]], rules: list[tuple[str, str]], args: Any
) -> None:
    """One dataset's side-by-side table."""
    shape = load_curves(data, args.metric).shape
    print(
        f"\n{data.name}: {shape[0]} configs x {shape[1]} epochs, metric {args.metric}, "
        f"{args.orders} orders, {CONCURRENCY} at a time\n"
    )
    head = (
        f"{'rule':45s} {'epochs used':>15s} {'best kept':>10s} {'top-5 kept':>11s} {'regret':>17s}"
    )
    print(head + "\n" + "-" * len(head))
    for _, label in rules:
        mine = [r for r in rows if r["rule"] == label]
        ep = statistics.median(r["epochs"] for r in mine)
        ep_max = max(r["epochs"] for r in mine)
        best = sum(r["best"] for r in mine)
        top5 = statistics.mean(r["top5"] for r in mine)
        reg = statistics.mean(r["regret"] for r in mine)
        reg_max = max(r["regret"] for r in mine)
        print(
            f"{label:45s} {ep:6.1%} ({ep_max:5.1%}) {best:>6.0f}/{len(mine):<3d} {top5:>11.2f} "
            f"{reg:7.4f} ({reg_max:.4f})"
        )


if __name__ == "__main__":
    main()
