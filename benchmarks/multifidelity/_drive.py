"""An event-driven replay of a multi-fidelity search on a :class:`~_problems.Problem`.

``workers`` trials run at once on a virtual clock; each epoch of a trial takes the seconds the
dataset recorded for it. After every epoch the method hears the value and answers continue,
stop or pause; a freed worker asks the method for its next job (a new configuration or the
resumption of a paused trial, which continues from its next epoch). The run ends when
``budget`` epochs were spent. Trials still paused or running then count as stopped.

Methods are small adapters (:class:`Scheduler` for hyperloom's schedulers, :class:`TunerAssessor`
for a tuner plus an assessor, :class:`OptunaMethod` for Optuna's samplers and pruners,
:class:`DEHBMethod` for DEHB), so every method sees exactly the same curves, clock and budget.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _problems import Problem

CONTINUE, STOP, PAUSE = "continue", "stop", "pause"


class Method:
    """What the replay needs from a search method."""

    def ask(self, tid: str) -> tuple[str, Any] | None:
        """("new", params) or ("resume", trial_id), or None for nothing now."""
        raise NotImplementedError

    def report(self, tid: str, step: int, history: list[float], steps: list[int]) -> str:
        raise NotImplementedError

    def end(self, tid: str, stopped: bool, history: list[float], steps: list[int]) -> None:
        raise NotImplementedError


def _result(tid: str, params: dict[str, Any], stopped: bool, h: list[float], s: list[int]) -> Any:
    from hyperloom.types import Report, TrialResult, TrialStatus

    status = TrialStatus.EARLY_STOPPED if stopped else TrialStatus.SUCCEEDED
    reports = tuple(Report(st, v) for st, v in zip(s, h, strict=True))
    return TrialResult(tid, params, status, h[-1] if h else None, tuple(h), reports=reports)


class Scheduler(Method):
    """A hyperloom scheduler (tuner and assessor in one object)."""

    def __init__(self, scheduler: Any) -> None:
        self.s = scheduler
        self.params: dict[str, dict[str, Any]] = {}
        self.assess_s: list[float] = []
        self.model_picks = 0

    def ask(self, tid: str) -> tuple[str, Any] | None:
        from hyperloom.types import Suggestion

        got = self.s.suggest(tid)
        if got is None:
            return None
        if isinstance(got, Suggestion):
            if got.resume is not None:
                return ("resume", got.resume)
            got = got.params
        self.params[tid] = got
        if getattr(self.s, "last_level", None) is not None:
            self.model_picks += 1  # a model-based scheduler's model chose this configuration
        return ("new", got)

    def report(self, tid: str, step: int, history: list[float], steps: list[int]) -> str:
        from hyperloom.types import Verdict

        t0 = time.perf_counter()
        d = self.s.assess(tid, list(history), list(steps))
        self.assess_s.append(time.perf_counter() - t0)
        v = getattr(d, "verdict", d)
        return STOP if v is Verdict.STOP else PAUSE if v is Verdict.PAUSE else CONTINUE

    def end(self, tid: str, stopped: bool, history: list[float], steps: list[int]) -> None:
        self.s.observe(_result(tid, self.params[tid], stopped, history, steps))


class TunerAssessor(Method):
    """A hyperloom tuner with an assessor (e.g. random search + asha)."""

    def __init__(self, tuner: Any, assessor: Any) -> None:
        self.t, self.a = tuner, assessor
        self.params: dict[str, dict[str, Any]] = {}
        self.assess_s: list[float] = []

    def ask(self, tid: str) -> tuple[str, Any] | None:
        got = self.t.suggest(tid)
        if got is None:
            return None
        self.params[tid] = got
        return ("new", got)

    def report(self, tid: str, step: int, history: list[float], steps: list[int]) -> str:
        from hyperloom.types import Verdict

        t0 = time.perf_counter()
        d = self.a.assess(tid, list(history))
        self.assess_s.append(time.perf_counter() - t0)
        return STOP if getattr(d, "verdict", d) is Verdict.STOP else CONTINUE

    def end(self, tid: str, stopped: bool, history: list[float], steps: list[int]) -> None:
        r = _result(tid, self.params[tid], stopped, history, steps)
        self.t.observe(r)
        self.a.observe(r)


class OptunaMethod(Method):
    """An Optuna sampler with a pruner, through ask/tell (reports use the epoch as the step)."""

    def __init__(self, problem: Problem, sampler: Any, pruner: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        self.problem = problem
        self.trials: dict[str, Any] = {}

    def ask(self, tid: str) -> tuple[str, Any] | None:
        trial = self.study.ask()
        self.trials[tid] = trial
        return ("new", self.problem.optuna_params(trial))

    def report(self, tid: str, step: int, history: list[float], steps: list[int]) -> str:
        trial = self.trials[tid]
        trial.report(history[-1], step + 1)
        return STOP if trial.should_prune() else CONTINUE

    def end(self, tid: str, stopped: bool, history: list[float], steps: list[int]) -> None:
        import optuna

        trial = self.trials.pop(tid)
        if stopped:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, history[-1])


DEHB_PATH = Path(__file__).resolve().parent / ".venv-dehb"


class DEHBMethod(Method):
    """DEHB 0.1.2 (Awad et al., IJCAI 2021) through its ask/tell interface.

    DEHB is installed for the benchmark only, into ``.venv-dehb`` next to this file
    (``pip install --target benchmarks/multifidelity/.venv-dehb dehb==0.1.2``); that folder is
    put at the *end* of ``sys.path`` so the venv's numpy/scipy stay in charge. DEHB asks for
    (configuration, fidelity) jobs; a fidelity ``f`` trains the configuration to ``ceil(f)``
    epochs. When DEHB asks again for a configuration it ran at a lower fidelity (a promotion),
    that trial is resumed from where it paused (as if checkpointed), so DEHB pays only the extra
    epochs, like the schedulers' promotions; asked four jobs at a time (4 workers), DEHB starts
    new brackets while others wait, its "immediate" asynchronous mode.
    """

    def __init__(self, problem: Problem, seed: int, out_dir: str) -> None:
        import sys as _sys

        if str(DEHB_PATH) not in _sys.path:
            _sys.path.append(str(DEHB_PATH))
        import ConfigSpace as CS
        from dehb import DEHB

        space: dict[str, Any] = {}
        for d in problem.dims:
            if d.kind == "float":
                space[d.name] = (float(d.low), float(d.high))
            elif d.kind == "int":
                space[d.name] = (int(d.low), int(d.high))
            else:
                space[d.name] = list(d.choices)
        cs = CS.ConfigurationSpace(space=space, seed=seed)
        self.n = problem.n_epochs
        self.dehb = DEHB(
            cs=cs,
            min_fidelity=1,
            max_fidelity=self.n,
            eta=3,
            n_workers=1,
            seed=seed,
            output_path=out_dir,
            log_level="ERROR",
            save_freq="end",
        )
        self.jobs: dict[str, tuple[dict[str, Any], int]] = {}  # running trial -> (job, target)
        self.by_key: dict[tuple[Any, ...], str] = {}  # configuration -> its trial
        self.done: dict[str, int] = {}  # trial -> epochs trained so far
        self.paused: set[str] = set()

    def ask(self, tid: str) -> tuple[str, Any] | None:
        job = self.dehb.ask()
        params = dict(job["config"])
        key = tuple(sorted(params.items()))
        target = min(self.n, max(1, math.ceil(float(job["fidelity"]) - 1e-9)))
        old = self.by_key.get(key)
        if old is not None and old in self.paused and self.done[old] < target:
            self.paused.discard(old)
            self.jobs[old] = (job, target)
            return ("resume", old)
        self.by_key[key] = tid
        self.done[tid] = 0
        self.jobs[tid] = (job, target)
        return ("new", params)

    def _tell(self, tid: str, history: list[float]) -> None:
        job, _ = self.jobs.pop(tid)
        prev = self.done[tid]
        self.done[tid] = len(history)
        self.dehb.tell(job, {"fitness": -history[-1], "cost": float(len(history) - prev)})

    def report(self, tid: str, step: int, history: list[float], steps: list[int]) -> str:
        if len(history) < self.jobs[tid][1]:
            return CONTINUE
        self._tell(tid, history)
        self.paused.add(tid)
        return PAUSE

    def end(self, tid: str, stopped: bool, history: list[float], steps: list[int]) -> None:
        if tid in self.jobs and history and not stopped:
            self._tell(tid, history)
        self.paused.discard(tid)


@dataclass
class _Run:
    row: int
    history: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)


@dataclass
class Trace:
    """What one replay produced: for each trial that trained all epochs, when it finished
    (epochs spent so far, virtual seconds) and the best final value so far."""

    epochs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    n_trials: int = 0
    n_resumed: int = 0
    wall_s: float = 0.0


def replay(
    problem: Problem,
    method: Method,
    budget: int,
    workers: int = 4,
    id_format: str = "T{:05d}",
    horizon: float | None = None,
) -> Trace:
    """Runs ``method`` on ``problem`` until ``budget`` epochs are spent (or, with ``horizon``,
    until the virtual clock passes it). ``id_format`` names the trials (the manager's is
    ``T{:04d}``; a scheduler's random draws depend on the ids)."""
    t0 = time.perf_counter()
    now = 0.0
    heap: list[tuple[float, int, str]] = []
    runs: dict[str, _Run] = {}
    paused: set[str] = set()
    running = 0
    spent = 0
    seq = 0
    best = -math.inf
    trace = Trace()
    n = problem.n_epochs

    def schedule(tid: str) -> None:
        nonlocal seq
        r = runs[tid]
        seq += 1
        heapq.heappush(heap, (now + float(problem.seconds[r.row, len(r.history)]), seq, tid))

    idle = False
    while spent < budget:
        while running < workers and not idle:
            tid = id_format.format(trace.n_trials + 1)
            got = method.ask(tid)
            if got is None:
                idle = True
                break
            kind, what = got
            if kind == "resume":
                tid = str(what)
                paused.discard(tid)
                trace.n_resumed += 1
            else:
                trace.n_trials += 1
                runs[tid] = _Run(problem.lookup(what))
            running += 1
            schedule(tid)
        if not heap:
            break
        if horizon is not None and heap[0][0] >= horizon:  # the manager: elapsed < duration
            break
        now, _, tid = heapq.heappop(heap)
        r = runs[tid]
        step = len(r.history)
        r.history.append(float(problem.curves[r.row, step]))
        r.steps.append(step)
        spent += 1
        idle = False
        if step + 1 == n:
            method.end(tid, False, r.history, r.steps)
            best = max(best, r.history[-1])
            trace.epochs.append(spent)
            trace.seconds.append(now)
            trace.best.append(best)
            running -= 1
            continue
        verdict = method.report(tid, step, r.history, r.steps)
        if verdict == CONTINUE:
            schedule(tid)
        else:
            running -= 1
            if verdict == PAUSE:
                paused.add(tid)
            else:
                method.end(tid, True, r.history, r.steps)
    for _, _, tid in heap:
        method.end(tid, True, runs[tid].history, runs[tid].steps)
    for tid in sorted(paused):
        method.end(tid, True, runs[tid].history, runs[tid].steps)
    trace.wall_s = time.perf_counter() - t0
    return trace


def regret_at(
    problem: Problem, trace: Trace, budgets: list[float], by: str = "epochs"
) -> list[float]:
    """The regret (dataset best minus best final found) once each budget was spent (NaN
    while no trial had finished)."""
    xs = trace.epochs if by == "epochs" else trace.seconds
    out = []
    for b in budgets:
        found = [v for x, v in zip(xs, trace.best, strict=True) if x <= b]
        out.append(problem.best - found[-1] if found else math.nan)
    return out
