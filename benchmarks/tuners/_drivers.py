"""Drives hyperloom tuners and Optuna's TPE the same way, for the tuner benchmarks."""

from __future__ import annotations

import math
from typing import Any

from hyperloom.space import SearchSpace
from hyperloom.types import TrialResult, TrialStatus

OURS = ("tpe", "evolution", "anneal", "rl", "random")


def optuna_suggest(trial: Any, spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Asks an Optuna trial for a point of an NNI space (define-by-run; nested choices recurse)."""
    out: dict[str, Any] = {}
    for name, body in spec.items():
        if name == "_name":
            continue
        t, v = body["_type"], body["_value"]
        key = prefix + name
        if t == "choice":
            if any(isinstance(o, dict) for o in v):
                names = [o["_name"] for o in v]
                chosen = trial.suggest_categorical(key, names)
                sub = optuna_suggest(trial, v[names.index(chosen)], f"{key}/{chosen}/")
                out[name] = {"_name": chosen, **sub}
            else:
                out[name] = trial.suggest_categorical(key, v)
        elif t == "uniform":
            out[name] = trial.suggest_float(key, v[0], v[1])
        elif t == "loguniform":
            out[name] = trial.suggest_float(key, v[0], v[1], log=True)
        elif t == "quniform":
            out[name] = trial.suggest_float(key, v[0], v[1], step=v[2])
        elif t == "qloguniform":
            x = trial.suggest_float(key, v[0], v[1], log=True)
            out[name] = float(min(max(round(x / v[2]) * v[2], v[0]), v[1]))
        elif t == "randint":
            out[name] = trial.suggest_int(key, v[0], v[1] - 1)
        else:
            raise ValueError(f"no Optuna mapping for {t}")
    return out


class OptunaTPE:
    """Optuna's ``TPESampler(multivariate=True)`` behind suggest/observe (minimising)."""

    def __init__(self, spec: dict[str, Any], seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        sampler = optuna.samplers.TPESampler(multivariate=True, seed=seed)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.trials: dict[str, Any] = {}

    def suggest(self, trial_id: str) -> dict[str, Any]:
        t = self.study.ask()
        self.trials[trial_id] = t
        return optuna_suggest(t, self.spec)

    def observe(self, result: TrialResult) -> None:
        t = self.trials.pop(result.trial_id)
        self.study.tell(t, result.value)


def parse_variant(name: str) -> tuple[str, dict[str, Any]]:
    """``"tpe[n_candidates=24;bandwidth_rule=scott]"`` -> ``("tpe", {...})`` (values as JSON,
    else strings): a tuner with classArgs, cached under its own method name."""
    import json

    if not name.endswith("]") or "[" not in name:
        return name, {}
    base, _, rest = name[:-1].partition("[")
    kwargs: dict[str, Any] = {}
    for part in filter(None, rest.split(";")):
        key, _, raw = part.partition("=")
        try:
            kwargs[key] = json.loads(raw)
        except json.JSONDecodeError:
            kwargs[key] = raw
    return base, kwargs


def make_tuner(name: str, spec: dict[str, Any], seed: int) -> Any:
    if name == "optuna":
        return OptunaTPE(spec, seed)
    from hyperloom.registry import load_tuner

    base, kwargs = parse_variant(name)
    return load_tuner(base, SearchSpace.from_nni(spec), mode="minimize", seed=seed, **kwargs)


def run_once(
    name: str, spec: dict[str, Any], objective: Any, seed: int, budget: int
) -> list[float]:
    """Best-so-far objective after each trial."""
    tuner = make_tuner(name, spec, seed)
    best = math.inf
    curve = []
    for i in range(budget):
        tid = f"t{i}"
        p = tuner.suggest(tid)
        if p is None:
            curve.append(best)
            continue
        v = objective(p)
        best = min(best, v)
        curve.append(best)
        tuner.observe(TrialResult(tid, p, TrialStatus.SUCCEEDED, v, (), i))
    return curve
