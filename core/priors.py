"""Search spaces written on the command line, Orion-style (``--lr~'loguniform(1e-5, 1)'``).

``hyperloom run --tuner tpe -n 50 -- python train.py --lr~'loguniform(1e-5, 1)' --layers~'randint(1, 8)'``
runs an experiment without a config file. Every argument of the trial command that starts with
``-`` and contains ``~`` followed by an expression is a *prior*; it becomes ``--lr {lr}`` in the
trial command and ``lr`` in the search space. An argument whose ``~`` is followed by nothing or
by ``/`` stays as it is (``--data~/datasets`` is a path). ``name~expr`` without dashes (Hydra
style) becomes ``name={name}``.

Expressions are parsed with :mod:`ast` and only literal arguments are accepted: nothing the user
writes is ever evaluated.

Priors (NNI types in brackets):

* ``uniform(low, high)`` [uniform]; ``uniform(low, high, discrete=True)`` [randint, high included]
* ``loguniform(low, high)`` [loguniform]
* ``normal(mu, sigma)`` / ``gaussian(mu, sigma)`` [normal]; ``lognormal(mu, sigma)`` [lognormal]
* ``randint(low, high)`` [randint, high excluded, as in NNI and numpy]
* ``choices([a, b, c])`` or ``choices(a, b, c)`` [choice]
* ``q`` keyword on uniform/loguniform/normal/lognormal: ``uniform(0, 1, q=0.1)`` [quniform, ...]

Orion's ``default_value`` and ``precision`` keywords are accepted and ignored with a warning.
Weighted ``choices({a: 0.2, b: 0.8})``, ``fidelity(...)`` and ``shape=`` are refused with a
message that says what to use instead.
"""

from __future__ import annotations

import ast
import difflib
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperloom.errors import UsageError

__all__ = ["Prior", "config_from_argv", "parse_argv", "parse_prior"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_HYDRA = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)~(.+)$", re.DOTALL)
#: Orion's command-line templates and ours.
_ORION_TEMPLATES = {
    "{trial.id}": "{trial_id}",
    "{trial.working_dir}": "{trial_dir}",
    "{exp.name}": "{experiment_id}",
    "{exp.working_dir}": "{trial_dir}/..",
}
_IGNORED_KEYWORDS = ("default_value", "precision")
#: Every prior name :func:`parse_prior` knows (for did-you-mean suggestions).
_KNOWN_PRIORS = (
    "uniform",
    "loguniform",
    "normal",
    "gaussian",
    "lognormal",
    "randint",
    "choices",
    "choice",
    "fidelity",
)


@dataclass(frozen=True)
class Prior:
    """One prior found on the command line.

    Attributes:
        name: The parameter name (the flag without its dashes).
        flag: The flag as written (``--lr``), or ``""`` for the Hydra form ``name~expr``.
        spec: The NNI search-space entry (``{"_type": ..., "_value": [...]}``).
        text: The expression as written.
    """

    name: str
    flag: str
    spec: dict[str, Any]
    text: str


def _literal(node: ast.expr, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise UsageError(
            f"prior {text!r}: only literal arguments (numbers, strings, lists) are allowed, "
            f"got {ast.unparse(node)!r}"
        ) from None


def _number(v: Any, what: str, text: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise UsageError(f"prior {text!r}: {what} must be a number, got {v!r}")
    return v


def _two_numbers(args: list[Any], text: str, names: tuple[str, str]) -> tuple[float, float]:
    if len(args) != 2:
        raise UsageError(
            f"prior {text!r}: expected 2 arguments ({', '.join(names)}), got {len(args)}"
        )
    return _number(args[0], names[0], text), _number(args[1], names[1], text)


def parse_prior(text: str, *, warnings: list[str] | None = None) -> dict[str, Any]:
    """Parses one prior expression into an NNI search-space entry.

    Args:
        text: The expression, e.g. ``"loguniform(1e-5, 1)"``.
        warnings: A list that receives one line per ignored keyword.

    Returns:
        The search-space entry, e.g. ``{"_type": "loguniform", "_value": [1e-05, 1]}``.

    Raises:
        UsageError: The expression is not a known prior with literal arguments.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise UsageError(
            f"prior {text!r} is not a valid expression; write e.g. 'uniform(0, 1)' or "
            f'\'choices(["a", "b"])\' (quote it for the shell)'
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise UsageError(f"prior {text!r} must be a call such as 'uniform(0, 1)'")
    fn = call.func.id
    if any(isinstance(a, ast.Starred) for a in call.args):
        raise UsageError(f"prior {text!r}: *args are not allowed")
    args = [_literal(a, text) for a in call.args]
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise UsageError(f"prior {text!r}: **kwargs are not allowed")
        kwargs[kw.arg] = _literal(kw.value, text)
    for key in _IGNORED_KEYWORDS:
        if key in kwargs:
            kwargs.pop(key)
            msg = f"prior {text!r}: keyword {key!r} is ignored"
            log.warning(msg)
            if warnings is not None:
                warnings.append(msg)
    if "shape" in kwargs:
        raise UsageError(f"prior {text!r}: shape= is not supported; write one prior per value")
    discrete = bool(kwargs.pop("discrete", False))
    q = kwargs.pop("q", None)
    if q is not None:
        q = _number(q, "q", text)
    if kwargs:
        raise UsageError(f"prior {text!r}: unknown keyword(s) {', '.join(sorted(kwargs))}")

    def typed(base: str, values: list[float]) -> dict[str, Any]:
        if q is not None:
            return {"_type": "q" + base, "_value": [*values, q]}
        return {"_type": base, "_value": values}

    if fn == "uniform":
        low, high = _two_numbers(args, text, ("low", "high"))
        if discrete:
            if low != int(low) or high != int(high):
                raise UsageError(f"prior {text!r}: discrete bounds must be integers")
            return {"_type": "randint", "_value": [int(low), int(high) + 1]}
        return typed("uniform", [low, high])
    if fn == "loguniform":
        low, high = _two_numbers(args, text, ("low", "high"))
        if discrete:
            raise UsageError(
                f"prior {text!r}: discrete loguniform is not supported; use randint(...) or "
                f"choices([...]) for integers"
            )
        return typed("loguniform", [low, high])
    if fn in ("normal", "gaussian", "norm", "lognormal"):
        mu, sigma = _two_numbers(args, text, ("mu", "sigma"))
        return typed("lognormal" if fn == "lognormal" else "normal", [mu, sigma])
    if fn == "randint":
        low, high = _two_numbers(args, text, ("low", "high"))
        if low != int(low) or high != int(high):
            raise UsageError(f"prior {text!r}: randint bounds must be integers")
        return {"_type": "randint", "_value": [int(low), int(high)]}
    if fn in ("choices", "choice"):
        if len(args) == 1 and isinstance(args[0], dict):
            raise UsageError(
                f"prior {text!r}: weighted choices are not supported; list the values, "
                f'e.g. choices(["a", "b"])'
            )
        values = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else args
        if not values:
            raise UsageError(f"prior {text!r}: choices needs at least one value")
        return {"_type": "choice", "_value": values}
    if fn == "fidelity":
        raise UsageError(
            f"prior {text!r}: fidelity() is not supported; report intermediate results every "
            f"epoch and use an early-stopping assessor such as asha"
        )
    if fn.startswith("q") and fn[1:] in _KNOWN_PRIORS:  # NNI's quniform, qloguniform, ...
        hint = f"write {fn[1:]}(..., q=STEP) for NNI's {fn}; "
    else:
        close = difflib.get_close_matches(fn, _KNOWN_PRIORS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(
        f"prior {text!r}: unknown prior {fn!r}; {hint}use uniform, loguniform, normal, "
        f"lognormal, randint or choices"
    )


def _split_prior(arg: str) -> tuple[str, str, str] | None:
    """Returns (flag, name, expression) when ``arg`` is a prior, else None."""
    if arg.startswith("-") and "~" in arg:
        flag, _, expr = arg.partition("~")
        if not expr or expr.startswith("/"):
            return None
        name = flag.lstrip("-")
        if not name or not _NAME.match(name):
            raise UsageError(f"argument {arg!r}: {name!r} is not a usable parameter name")
        return flag, name, expr
    m = _HYDRA.match(arg)
    if m and "(" in m.group(2) and not m.group(2).startswith("/"):
        return "", m.group(1), m.group(2)
    return None


def parse_argv(
    argv: list[str], *, warnings: list[str] | None = None
) -> tuple[str, dict[str, Any], list[Prior]]:
    """Finds the priors in a trial command.

    Args:
        argv: The trial command, one argument per item (as after ``--``).
        warnings: A list that receives one line per ignored keyword.

    Returns:
        ``(command_template, search_space, priors)``: the shell command with ``{name}``
        placeholders in place of the priors (every other argument shell-quoted), the NNI search
        space, and the priors in order.

    Raises:
        UsageError: A prior is malformed, or a name is given twice.
    """
    if not argv:
        raise UsageError(
            "no trial command given; write it after '--', e.g. -- python train.py --lr~'uniform(0, 1)'"
        )
    parts: list[str] = []
    space: dict[str, Any] = {}
    priors: list[Prior] = []
    for arg in argv:
        found = _split_prior(arg)
        if found is None:
            quoted = shlex.quote(arg)
            for orion, ours in _ORION_TEMPLATES.items():
                quoted = quoted.replace(orion, ours)
            parts.append(quoted)
            continue
        flag, name, expr = found
        if name in space:
            raise UsageError(f"parameter {name!r} has two priors on the command line")
        spec = parse_prior(expr, warnings=warnings)
        space[name] = spec
        priors.append(Prior(name=name, flag=flag, spec=spec, text=expr))
        if flag:
            parts.extend([flag, "{" + name + "}"])
        else:
            parts.append(name + "={" + name + "}")
    return " ".join(parts), space, priors


def config_from_argv(
    argv: list[str],
    *,
    tuner: str = "tpe",
    max_trials: int | None = None,
    concurrency: int = 1,
    mode: str | None = None,
    assessor: str | None = None,
    name: str | None = None,
    code_directory: str | Path | None = None,
    max_duration: str | float | None = None,
    seed: int | None = None,
    metric_capture: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Builds a raw hyperloom config from a trial command that carries its priors.

    Args:
        argv: The trial command, e.g. ``["python", "train.py", "--lr~loguniform(1e-5, 1)"]``.
        tuner: The tuner's name.
        max_trials: ``maxTrialNumber`` (None: unlimited).
        concurrency: ``trialConcurrency``.
        mode: "maximize" or "minimize" (None: the tuner's default).
        assessor: An assessor's name, or None.
        name: ``experimentName`` (default: the script's name).
        code_directory: ``trialCodeDirectory`` (default: the current directory).
        max_duration: ``maxExperimentDuration``.
        seed: The experiment seed.
        metric_capture: A ``metricCapture`` section for scripts that only print their metrics.

    Returns:
        A raw config mapping, as :meth:`hyperloom.config.Config.from_dict` takes it.

    Raises:
        UsageError: No prior was found, or one is malformed.
    """
    warnings: list[str] = []
    command, space, priors = parse_argv(argv, warnings=warnings)
    if not priors:
        raise UsageError(
            "no search space: the trial command has no prior such as --lr~'loguniform(1e-5, 1)'; "
            "write priors on the command line or give a config file"
        )
    tuner_cfg: dict[str, Any] = {"name": tuner}
    if mode is not None:
        tuner_cfg["classArgs"] = {"mode": mode}
    script = next((Path(a).stem for a in argv if a.endswith(".py")), Path(argv[0]).name)
    raw: dict[str, Any] = {
        "experimentName": name or script,
        "trialCommand": command,
        "trialCodeDirectory": str(Path(code_directory) if code_directory else Path.cwd()),
        "trialConcurrency": concurrency,
        "searchSpace": space,
        "tuner": tuner_cfg,
    }
    if max_trials is not None:
        raw["maxTrialNumber"] = max_trials
    if max_duration is not None:
        raw["maxExperimentDuration"] = max_duration
    if seed is not None:
        raw["seed"] = seed
    if assessor:
        raw["assessor"] = {"name": assessor, **({"classArgs": {"mode": mode}} if mode else {})}
    if metric_capture:
        raw["metricCapture"] = dict(metric_capture)
    return raw
