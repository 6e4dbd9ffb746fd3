"""What `hyperloom.optimize` shares between its in-process and subprocess trials.

The `Trial` handle a function gets as its optional second argument, the rule that turns what
the function returned into the final report, and the importable reference of a function. Kept
free of the manager so that the trial runner (``hyperloom._optimize_runner``) imports little.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hyperloom.errors import UsageError

__all__ = [
    "CHECKPOINT_KEY",
    "Trial",
    "TrialKilled",
    "clean_metrics",
    "final_report",
    "function_ref",
    "load_ref",
    "takes_trial",
]

#: The reserved metric that marks a report as a committed checkpoint (`hyperloom.trials`).
CHECKPOINT_KEY = "hyperloom:checkpoint"
_MAX_DEPTH = 32


class TrialKilled(BaseException):
    """Raised by `Trial.report` in a trial the manager has already ended (killed after a stop it
    did not honour, or timed out): it unwinds the abandoned function. A `BaseException`, so that
    an ``except Exception`` in the function does not swallow it."""


def number(value: Any, what: str) -> float:
    """``value`` as a float: ints, floats, numpy/torch scalars (``.item()``); ValueError else."""
    if not isinstance(value, int | float):
        item = getattr(value, "item", None)
        if callable(item):
            try:
                value = item()
            except (TypeError, ValueError) as e:
                raise ValueError(f"{what} must be a single number ({e})") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {type(value).__name__} {value!r:.60}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{what} {value!r:.60} is too large for a float") from None


def clean_metrics(obj: Any, path: str = "metrics", depth: int = 0) -> Any:
    """A JSON-ready copy of extra metrics: numpy values converted, NaN/inf replaced by None."""
    if obj is None or isinstance(obj, str | bool | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if depth > _MAX_DEPTH:
        raise ValueError(f"{path} is nested too deeply")
    if isinstance(obj, Mapping):
        return {str(k): clean_metrics(v, f"{path}.{k}", depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_metrics(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist):
        return clean_metrics(tolist(), path, depth + 1)
    try:
        return clean_metrics(float(obj), path, depth + 1)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{path} must be a number, string, list or dict, got {type(obj).__name__}"
        ) from None


def final_report(result: Any, objectives: Sequence[str]) -> tuple[float, dict[str, Any]] | None:
    """The final report for what the function returned: ``(value, metrics)``, or None.

    * a number (or numpy/torch scalar): the value of the (first) objective;
    * a mapping: named values; the value is the first objective's entry (the first entry when
      the objective has no name in it), and every entry is kept as a metric, that one first, so
      that the other objectives and any extra metrics reach the store (as ``report_final({...})``
      does);
    * a tuple or list of numbers, one per objective (Optuna's multi-objective return);
    * None: no final report (the last intermediate report counts, as for a script).

    Raises:
        ValueError: For anything else, and for a non-finite value; the message says what came.
    """
    if result is None:
        return None
    names = list(objectives) or ["default"]
    if isinstance(result, Mapping):
        if not result:
            raise ValueError("the function returned an empty dict; give at least one objective")
        named = {str(k): v for k, v in result.items()}
        key = names[0] if names[0] in named else next(iter(named))
        for name in [key, *(n for n in names[1:] if n in named)]:
            named[name] = number(named[name], f"the returned value {name!r}")
        value = named[key]
        metrics = clean_metrics({key: value, **{k: v for k, v in named.items() if k != key}})
    elif isinstance(result, tuple | list) and not isinstance(result, str):
        if len(result) != len(names):
            raise ValueError(
                f"the function returned {len(result)} values for {len(names)} objective(s) "
                f"({', '.join(names)}); return one per objective, or a dict by name"
            )
        vals = [number(v, f"returned value {i}") for i, v in enumerate(result)]
        value = vals[0]
        metrics = dict(zip(names, vals, strict=True)) if len(names) > 1 else {}
    else:
        value = number(result, "the returned value")
        metrics = {}
    if not math.isfinite(value):
        raise ValueError(f"the function returned {value} (not finite)")
    return value, metrics


class Trial:
    """The handle a function gets when it takes a second argument: ``fn(params, trial)``.

    Works the same in process and in a subprocess. Call `report` for intermediate values (so
    that assessors and schedulers can judge the trial and the dashboard draws its curve), and
    check `should_stop` between steps: once it is True, return (the value so far, or None to let
    the last report count).

    Attributes:
        trial_id: The trial's id (``T0001``, ...).
        number: The trial's sequence number (1, 2, ...).
        experiment_id: The experiment's id.
        params: The parameters (the same dict the function got).
        trial_dir: The trial's directory.
        start_step: The first step this run reports: a restored checkpoint's step + 1, else 0.
    """

    def __init__(
        self,
        *,
        trial_id: str,
        number: int,
        experiment_id: str,
        params: dict[str, Any],
        trial_dir: Path,
        send: Callable[[float, int, dict[str, Any]], None],
        stopped: Callable[[], bool],
        start_step: int = 0,
        checkpoint_dir: Path | None = None,
        restore_dir: Path | None = None,
    ) -> None:
        self.trial_id = trial_id
        self.number = number
        self.experiment_id = experiment_id
        self.params = params
        self.trial_dir = trial_dir
        self.start_step = start_step
        self._send = send
        self._stopped = stopped
        self._next_step = start_step
        self._checkpoint_dir = checkpoint_dir or trial_dir / "checkpoint"
        self._restore_dir = restore_dir
        self._warned = False

    def __repr__(self) -> str:
        return f"Trial({self.trial_id!r}, params={self.params!r})"

    def report(
        self, value: Any, step: int | None = None, *, checkpoint: bool = False, **metrics: Any
    ) -> None:
        """Reports an intermediate value.

        Args:
            value: A number (numpy/torch scalars too). NaN or inf is not sent (a notice goes to
                stderr once).
            step: The step (epoch); default one more than the previous one (from `start_step`).
            checkpoint: True when everything needed to continue from this step is saved in
                `checkpoint_dir` (schedulers that pause or warm-start trials need it).
            **metrics: Extra named values.

        Raises:
            ValueError: For a value that is not a number, or a bad step.
            TrialKilled: The manager has already ended this trial.
        """
        v = number(value, "report() value")
        if step is None:
            step = self._next_step
        elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"report() step must be an int >= 0, got {step!r:.40}")
        self._next_step = step + 1
        extra = clean_metrics(metrics)
        if checkpoint:
            extra[CHECKPOINT_KEY] = True
        if not math.isfinite(v):
            if not self._warned:
                self._warned = True
                print(f"hyperloom: {self.trial_id}: report() value {v} is not finite; not "
                      f"reported", file=sys.stderr)  # fmt: skip
            return
        self._send(v, step, extra)

    def should_stop(self) -> bool:
        """True once the manager asked this trial to stop (an assessor, a timeout, Ctrl-C)."""
        return self._stopped()

    should_prune = should_stop  # the Optuna name

    def checkpoint_dir(self) -> Path:
        """Where this trial saves what it needs to continue (created on first call)."""
        self._checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return self._checkpoint_dir

    def restore_dir(self) -> Path | None:
        """What to load at start (a resumed or warm-started trial), or None for a fresh one."""
        d = self._restore_dir
        return d if d is not None and d.is_dir() else None


def takes_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is called as ``fn(params, trial)`` (two positional parameters, or
    ``*args``) rather than ``fn(params)``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    positional = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    if positional == 0:
        raise UsageError(
            f"the trial function {getattr(fn, '__qualname__', fn)!r} takes no argument: it is "
            f"called as fn(params) or fn(params, trial)"
        )
    return positional >= 2


def function_ref(fn: Callable[..., Any]) -> tuple[str, Path | None] | str:
    """``(module:qualname, the file of a __main__ script or None)`` for a function that a fresh
    process can import, or a sentence saying why it cannot (a lambda, a closure, ...)."""
    qual = getattr(fn, "__qualname__", None)
    mod = getattr(fn, "__module__", None)
    name = getattr(fn, "__name__", repr(fn))
    if not isinstance(qual, str) or not isinstance(mod, str):
        return f"{name!r} has no module and qualified name (a callable object?)"
    if "<lambda>" in qual:
        return "it is a lambda"
    if "<locals>" in qual:
        return f"{qual!r} is defined inside a function (a closure)"
    module = sys.modules.get(mod)
    if module is None:
        return f"its module {mod!r} is not imported"
    obj: Any = module
    for part in qual.split("."):
        obj = getattr(obj, part, None)
    if obj is not fn:
        return f"{mod}:{qual} does not name it (was it replaced or decorated?)"
    main_file: Path | None = None
    if mod == "__main__":
        f = getattr(module, "__file__", None)
        if not f:
            return "it is defined in an interactive session (no script file to import it from)"
        main_file = Path(f).resolve()
    return f"{mod}:{qual}", main_file


def load_ref(ref: str, main_file: Path | None = None) -> Callable[..., Any]:
    """Imports ``module:qualname``; a ``__main__`` function is loaded from ``main_file`` under
    the module name ``__hyperloom_main__`` (so its ``if __name__ == "__main__":`` block does not
    run, as with multiprocessing's spawn)."""
    import importlib
    import importlib.util

    mod, _, qual = ref.partition(":")
    if not mod or not qual:
        raise UsageError(f"{ref!r} is not a function reference of the form module:function")
    if mod == "__main__":
        if main_file is None:
            raise UsageError(f"{ref!r}: a __main__ function needs its script file")
        spec = importlib.util.spec_from_file_location("__hyperloom_main__", main_file)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot load the script {str(main_file)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["__hyperloom_main__"] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(mod)
    obj: Any = module
    for part in qual.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{ref!r}: module {mod!r} has no attribute {qual!r}") from None
    if not callable(obj):
        raise UsageError(f"{ref!r} is not callable")
    return obj  # type: ignore[no-any-return]
