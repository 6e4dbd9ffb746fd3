"""`optimize`: a Python function as the trials of an experiment (the Optuna-style entry point).

::

    import hyperloom

    def objective(params):
        return (params["x"] - 2) ** 2

    result = hyperloom.optimize(
        objective, {"x": {"_type": "uniform", "_value": [-10, 10]}},
        n_trials=50, mode="minimize",
    )
    print(result.best_params, result.best_value, result.id)

The experiment is a normal one: a directory under ``$HYPERLOOM_HOME`` with its SQLite store, so
``hyperloom trials ID``, ``status``, ``view`` and ``resume`` work on it. Trials run in threads of
this process (``isolation="inprocess"``, the default: fast) or each in its own subprocess
(``isolation="subprocess"``: a crash or a leak cannot take the caller down, and CPU-bound pure
Python runs in parallel), the function then being imported by name.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hyperloom._optimize_common import Trial, TrialKilled, function_ref
from hyperloom.errors import UsageError
from hyperloom.history import ExperimentView

if TYPE_CHECKING:
    from hyperloom.experiment import Experiment
    from hyperloom.space import SearchSpace
    from hyperloom.store import TrialRecord

__all__ = ["OptimizeResult", "Trial", "TrialKilled", "optimize"]

INPROC_PLATFORM = "inprocess"  # the executor's entry point (hyperloom.executors)
_INPROC_NAMES = (INPROC_PLATFORM, "hyperloom._executor_inproc:InProcessExecutor")
RUNNER = "hyperloom._optimize_runner"
_RUNNER_ENV = "HYPERLOOM_OPTIMIZE_RUNNER"  # set by the runner while it imports the function
_ISOLATIONS = ("inprocess", "subprocess")


class OptimizeResult(ExperimentView):
    """What `optimize` returns: the experiment's read-only view (everything
    `hyperloom.open_experiment` gives: ``id``, ``dir``, ``status``, ``trials()``, ``best(n)``,
    ``pareto_front()``, ``counts()``...) with Optuna's shortcuts on top."""

    @property
    def best_trial(self) -> TrialRecord | None:
        """The best finished trial (the first of the Pareto front with several objectives), or
        None when no trial succeeded."""
        best = self.best(1)
        return best[0] if best else None

    def _need_best(self) -> TrialRecord:
        best = self.best_trial
        if best is None:
            counts = {k: n for k, n in self.counts().items() if n}
            reasons = Counter(t.reason for t in self.trials("FAILED") if t.reason)
            why = f"; most common failure: {reasons.most_common(1)[0][0]}" if reasons else ""
            raise UsageError(
                f"experiment {self.id}: no trial succeeded ({counts or 'no trials'}){why}. "
                f"See `hyperloom trials {self.id}` and each trial's stderr.log"
            )
        return best

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters (UsageError, naming the most common failure, if none)."""
        return dict(self._need_best().params)

    @property
    def best_value(self) -> float:
        """The best trial's value (its first objective's)."""
        value = self._need_best().value
        assert value is not None  # a ranked trial has one
        return float(value)


def optimize(
    fn: Callable[..., Any],
    space: Mapping[str, Any] | SearchSpace | None = None,
    *,
    n_trials: int | None = None,
    timeout: float | str | None = None,
    tuner: str | type = "tpe",
    tuner_args: Mapping[str, Any] | None = None,
    assessor: str | type | None = None,
    assessor_args: Mapping[str, Any] | None = None,
    concurrency: int = 1,
    mode: str | None = None,
    objectives: Sequence[Any] | None = None,
    isolation: str | None = None,
    seed: int | None = None,
    name: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    dashboard: bool = False,
    config: Mapping[str, Any] | None = None,
    quiet: bool = False,
) -> OptimizeResult:
    """Runs ``fn`` as the trials of a new experiment (or continues one with ``resume``).

    Args:
        fn: ``fn(params) -> value`` or ``fn(params, trial) -> value``. ``value`` is a number, a
            dict (named objectives and extra metrics), a tuple (one value per objective), or
            None (the last ``trial.report`` counts). ``trial`` is a :class:`Trial`:
            ``trial.report(value, step)`` for intermediate values, ``trial.should_stop()`` to
            honour an assessor or a stop. An exception makes that trial FAILED (traceback in its
            ``stderr.log``); the experiment goes on. An ``async def`` function runs as a task
            on the manager's event loop (in process).
        space: The search space: NNI-format dict (``{"lr": {"_type": "loguniform", "_value":
            [1e-4, 1e-1]}}``) or a :class:`~hyperloom.space.SearchSpace`. Not needed to resume.
        n_trials: The number of trials (with ``resume``: how many more). None: no limit.
        timeout: The experiment's time budget, seconds or ``"10m"`` (with ``resume``: more).
        tuner: A tuner name (``tpe``, ``random``, ``gp``, ``auto``, ...), ``"module:Class"``, or
            a tuner class.
        tuner_args: The tuner's ``classArgs``.
        assessor: An assessor (``median_stop``, ``asha``, ...) or scheduler arguments as for
            ``tuner``; it stops trials whose reports look weak (``trial.should_stop()``).
        assessor_args: The assessor's ``classArgs``.
        concurrency: Trials running at once (threads in process; processes in a subprocess).
        mode: ``"minimize"`` or ``"maximize"``; required unless ``objectives`` say it
            (hyperloom configs default to maximize, Optuna to minimize, so it is asked).
        objectives: Several objectives: ``[("accuracy", "maximize"), ("latency", "minimize")]``
            (or ``{"name", "mode"}`` dicts); ``fn`` returns a dict by name or a tuple in order.
        isolation: ``"inprocess"`` (default) or ``"subprocess"`` (``fn`` must be importable:
            defined at the top level of a module or script, not a lambda or closure).
        seed: Seed of the tuner.
        name: The experiment's name (default: the function's name).
        resume: Continue this experiment (an id or directory) instead of starting one. An
            in-process experiment needs ``fn`` again (a function cannot be stored); ``space``,
            ``tuner`` and the rest come from the experiment.
        directory: Where the experiment directory goes (default ``$HYPERLOOM_HOME``).
        dashboard: Serve the live dashboard while it runs (``hyperloom view ID`` works anyway).
        config: More config keys, as in a config file (``maxTrialDuration``,
            ``stopGracePeriod``, ``maxLaunchFailures``, ...); they win over the arguments.
        quiet: Print nothing (by default the manager's notices and a resume hint go to stderr).

    Returns:
        The experiment's :class:`OptimizeResult` (status DONE, STOPPED after Ctrl-C, FAILED).
        Ctrl-C stops cleanly (running trials are asked to stop; a second Ctrl-C stops waiting
        for them) and returns; the experiment can be resumed.

    Raises:
        UsageError, ConfigError: For bad arguments, before anything starts.
    """
    if os.environ.get(_RUNNER_ENV):
        raise UsageError(
            "hyperloom.optimize() was called while a trial subprocess imported the trial "
            'function\'s script: put the optimize(...) call under `if __name__ == "__main__":` '
            "(isolation='subprocess' imports the script, as multiprocessing does)"
        )
    if not callable(fn):
        raise UsageError(f"optimize(fn, ...): fn must be a function, got {type(fn).__name__}")
    say = _sayer(quiet)
    if resume is not None:
        exp = _resumed(fn, resume, n_trials, timeout, isolation, say)
    else:
        exp = _new(
            fn, space, n_trials=n_trials, timeout=timeout, tuner=tuner, tuner_args=tuner_args,
            assessor=assessor, assessor_args=assessor_args, concurrency=concurrency, mode=mode,
            objectives=objectives, isolation=isolation or "inprocess", seed=seed, name=name,
            directory=directory, dashboard=dashboard, config=config,
        )  # fmt: skip
    key = exp.config.training_service.options.get("key")
    try:
        _run(exp, dashboard=dashboard, say=say)
    finally:
        if key and exp.config.training_service.platform in _INPROC_NAMES:
            from hyperloom._executor_inproc import unregister_function

            unregister_function(str(key))  # the registry must not keep closures alive
    if exp.status == "STOPPED":
        platform = exp.config.training_service.platform
        cli = exp.config.training_service.options.get("function") or platform not in _INPROC_NAMES
        how = f"hyperloom.optimize({getattr(fn, '__name__', 'fn')}, resume={exp.id!r})"
        say(f"experiment {exp.id} stopped; continue it with {how}"
            + (f" or `hyperloom resume {exp.id}`" if cli else ""))  # fmt: skip
    return OptimizeResult(exp.dir)


# ----------------------------------------------------------------------------------------------
# building the experiment


def _new(
    fn: Callable[..., Any],
    space: Mapping[str, Any] | SearchSpace | None,
    *,
    n_trials: int | None,
    timeout: float | str | None,
    tuner: str | type,
    tuner_args: Mapping[str, Any] | None,
    assessor: str | type | None,
    assessor_args: Mapping[str, Any] | None,
    concurrency: int,
    mode: str | None,
    objectives: Sequence[Any] | None,
    isolation: str,
    seed: int | None,
    name: str | None,
    directory: str | os.PathLike[str] | None,
    dashboard: bool,
    config: Mapping[str, Any] | None,
) -> Experiment:
    from hyperloom.experiment import Experiment
    from hyperloom.space import SearchSpace

    if space is None:
        raise UsageError("optimize(fn, space, ...): give the search space (an NNI-format dict)")
    raw_space = space.to_nni() if isinstance(space, SearchSpace) else dict(space)
    objs = _objectives(objectives, mode)
    if isolation not in _ISOLATIONS:
        raise UsageError(f"isolation={isolation!r}: use 'inprocess' or 'subprocess'")
    targs = dict(tuner_args or {})
    if not objs:
        targs["mode"] = _mode(mode)
    raw: dict[str, Any] = {
        "experimentName": name or getattr(fn, "__name__", "optimize"),
        "trialCodeDirectory": os.getcwd(),
        "trialConcurrency": concurrency,
        "searchSpace": raw_space,
        "tuner": {"name": _plugin_name(tuner, "tuner"), "classArgs": targs},
        "dashboard": bool(dashboard),
    }
    if n_trials is not None:
        raw["maxTrialNumber"] = n_trials
    if timeout is not None:
        raw["maxExperimentDuration"] = timeout
    if objs:
        raw["objectives"] = objs
    if seed is not None:
        raw["seed"] = seed
    if assessor is not None:
        raw["assessor"] = {
            "name": _plugin_name(assessor, "assessor"),
            "classArgs": dict(assessor_args or {}),
        }
    if directory is not None:
        raw["experimentWorkingDirectory"] = str(Path(directory).expanduser().resolve())
    names = [o["name"] for o in objs]
    got = function_ref(fn)
    if isolation == "subprocess":
        if isinstance(got, str):
            raise UsageError(
                f"isolation='subprocess' starts each trial in a new Python process, which "
                f"imports the function by name, and {got}. Define it at the top level of a "
                f"module (or of your script, with the optimize(...) call under "
                f"`if __name__ == \"__main__\":`), or use isolation='inprocess'"
            )
        raw["trialCommand"] = _runner_command(got[0], got[1], names)
    else:
        from hyperloom._executor_inproc import register_function

        ref = got[0] if isinstance(got, tuple) and got[1] is None else None
        raw["trialCommand"] = f"(in process) {ref or getattr(fn, '__qualname__', 'fn')}"
        raw["trainingService"] = {
            "platform": INPROC_PLATFORM,
            "key": register_function(fn),
            "function": ref,  # importable: `hyperloom resume ID` can run it again
            "path": _import_roots(ref, None) if ref else [],
            "objectives": names,
        }
    raw.update(config or {})
    return Experiment.from_config(raw)


def _resumed(
    fn: Callable[..., Any],
    resume: str | os.PathLike[str],
    n_trials: int | None,
    timeout: float | str | None,
    isolation: str | None,
    say: Callable[[str], None],
) -> Experiment:
    from hyperloom.config import parse_duration
    from hyperloom.experiment import Experiment
    from hyperloom.paths import find_experiment_dir

    exp_dir = find_experiment_dir(resume)
    with ExperimentView(exp_dir) as view:
        exp_id, ts = view.id, dict(view.config.get("trainingService") or {})
        elapsed = view.elapsed() if timeout is not None else 0.0
    inproc = ts.get("platform") in _INPROC_NAMES
    if isolation is not None and isolation != ("inprocess" if inproc else "subprocess"):
        say(f"note: experiment {exp_id} runs {'in process' if inproc else 'in subprocesses'}; "
            f"isolation={isolation!r} is ignored on resume")  # fmt: skip
    if inproc:
        from hyperloom._executor_inproc import register_function

        if not ts.get("key"):
            raise UsageError(f"experiment {exp_id} has no in-process function key to resume")
        register_function(fn, str(ts["key"]))  # the stored key names this fn in this process
    total = None
    if timeout is not None:
        try:
            total = elapsed + parse_duration(timeout)
        except (TypeError, ValueError):
            raise UsageError(f"timeout={timeout!r}: give seconds or '30m', '2h'") from None
    return Experiment.resume(exp_dir, more_trials=n_trials, max_duration=total)


def _runner_command(ref: str, main_file: Path | None, objectives: list[str]) -> str:
    argv = [sys.executable, "-m", RUNNER]
    for p in _import_roots(ref, main_file):
        argv += ["--path", p]
    if main_file is not None:
        argv += ["--main-file", str(main_file)]
    for n in objectives:
        argv += ["--objective", n]
    return shlex.join([*argv, ref])


def _import_roots(ref: str, main_file: Path | None) -> list[str]:
    """The sys.path entry the function's module is imported from (a subprocess needs it)."""
    if main_file is not None:
        return [str(main_file.parent)]
    mod = ref.partition(":")[0]
    module = sys.modules.get(mod)
    f = getattr(module, "__file__", None)
    if not f:
        return []
    root = Path(f).resolve().parent
    levels = mod.count(".") + (1 if Path(f).name == "__init__.py" else 0)
    for _ in range(levels):
        root = root.parent
    return [str(root)]


def _plugin_name(obj: str | type, what: str) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, type):
        got = function_ref(obj)
        if isinstance(got, str) or got[1] is not None:
            raise UsageError(
                f"{what}={obj.__name__}: a {what} class must be importable by name (defined at "
                f"the top level of a module) so that resume can rebuild it; or pass its "
                f"entry-point name"
            )
        return got[0]
    raise UsageError(
        f"{what}={obj!r}: pass a {what} name, 'module:Class' or the class, with its arguments "
        f"in {what}_args (an instance cannot be rebuilt on resume). To drive a {what} "
        f"yourself, use its suggest()/observe() directly (ask/tell)"
    )


def _mode(mode: str | None) -> str:
    from hyperloom.types import check_mode

    if mode is None:
        raise UsageError(
            "optimize(...): say mode='minimize' or mode='maximize' (hyperloom configs default "
            "to maximize and Optuna to minimize, so optimize asks)"
        )
    return check_mode(mode)


def _objectives(objectives: Sequence[Any] | None, mode: str | None) -> list[dict[str, str]]:
    if objectives is None:
        return []
    if isinstance(objectives, str | bytes) or not objectives:
        raise UsageError(
            f"objectives={objectives!r}: give a list such as [('accuracy', 'maximize'), "
            f"('latency', 'minimize')]"
        )
    out: list[dict[str, str]] = []
    for o in objectives:
        if isinstance(o, str):
            out.append({"name": o, "mode": _mode(mode)})
        elif isinstance(o, Mapping):
            out.append({str(k): str(v) for k, v in o.items()})
        elif isinstance(o, tuple | list) and len(o) == 2:
            out.append({"name": str(o[0]), "mode": str(o[1])})
        elif hasattr(o, "name") and hasattr(o, "mode"):
            out.append({"name": str(o.name), "mode": str(o.mode)})
        else:
            raise UsageError(f"objectives: {o!r} is not a name, (name, mode) or {{name, mode}}")
    if mode is not None and out and _mode(mode) != out[0].get("mode", "maximize"):
        raise UsageError(
            f"mode={mode!r} disagrees with the first objective {out[0]}; drop mode, the "
            f"objectives say it"
        )
    return out


# ----------------------------------------------------------------------------------------------
# running


def _sayer(quiet: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not quiet:
            print(f"hyperloom: {text}", file=sys.stderr, flush=True)

    return say


def _run(exp: Experiment, *, dashboard: bool, say: Callable[[str], None]) -> None:
    """Runs the experiment to its end. On the main thread without a running event loop the
    manager's own signal handlers make Ctrl-C a clean stop; elsewhere (a notebook, a thread) the
    experiment runs in a helper thread and a KeyboardInterrupt here is passed on to it."""
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop and threading.current_thread() is threading.main_thread():
        exp.run(dashboard=dashboard, on_event=say, on_start=_show_dashboard(say))
        return
    loops: list[asyncio.AbstractEventLoop] = []
    errors: list[BaseException] = []
    interrupts = 0

    def on_start(e: Experiment) -> None:
        loops.append(asyncio.get_running_loop())
        _show_dashboard(say)(e)
        if interrupts and e.manager is not None:  # interrupted before the loop was known
            e.manager.request_stop("KeyboardInterrupt")

    def target() -> None:
        try:
            exp.run(dashboard=dashboard, on_event=say, on_start=on_start)
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=target, name=f"hyperloom-{exp.id}", daemon=True)
    worker.start()
    while worker.is_alive():
        try:
            worker.join(0.1)
        except KeyboardInterrupt:
            interrupts += 1
            if loops and exp.manager is not None:
                manager = exp.manager
                if interrupts == 1:
                    loops[0].call_soon_threadsafe(manager.request_stop, "KeyboardInterrupt")
                else:
                    loops[0].call_soon_threadsafe(manager.escalate)
    if errors:
        raise errors[0]


def _show_dashboard(say: Callable[[str], None]) -> Callable[[Experiment], None]:
    def on_start(e: Experiment) -> None:
        if e.dashboard_url:
            say(f"dashboard: {e.dashboard_url}")

    return on_start


class _CallableModule(ModuleType):
    """``hyperloom.optimize`` is both this module and the function (the module calls it), so
    ``hyperloom.optimize(...)`` works whichever was imported first."""

    def __call__(self, *args: Any, **kwargs: Any) -> OptimizeResult:
        return optimize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
