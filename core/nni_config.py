"""Translation of NNI v2 experiment configs into hyperloom configs.

:func:`translate` is called by :meth:`hyperloom.config.Config.load` on every raw config before
validation. It maps NNI's built-in algorithm names and their ``classArgs`` to hyperloom's, follows
NNI's per-tuner default ``optimize_mode`` where a config leaves it out, drops the keys hyperloom
has no use for, and says what it did in one warning line per change. A hyperloom-native config
(lower-case entry-point names, ``mode`` instead of ``optimize_mode``, no NNI-only keys) comes back
unchanged.

NNI algorithms with no native equivalent (SMAC, GP, Metis, PBT, BOHB's model, custom ``className``
classes written against ``nni.tuner.Tuner``) run through the adapters of
:mod:`hyperloom.plugins.nni`, which need the ``nni`` extra.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperloom.errors import ConfigError

__all__ = ["NNI_ASSESSORS", "NNI_TUNERS", "is_nni_config", "translate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Algo:
    """How one NNI built-in maps to hyperloom."""

    target: str  # hyperloom entry-point name; "nni" = run NNI's own class through the adapter
    default_mode: str | None  # NNI's default optimize_mode (None: the algorithm has none)
    rename: dict[str, str] = field(default_factory=dict)  # NNI classArg -> hyperloom classArg
    note: str = ""
    # hyperloom classArgs set when the NNI config leaves them out, so that the algorithm behaves
    # as NNI's does (where hyperloom's own defaults differ)
    nni_defaults: dict[str, Any] = field(default_factory=dict)


_COMMON = {"optimize_mode": "mode"}

#: NNI built-in tuners (and advisors), by lower-cased name.
NNI_TUNERS: dict[str, _Algo] = {
    "tpe": _Algo(
        "tpe",
        "minimize",
        {
            **_COMMON,
            "n_startup_jobs": "n_startup",
            "n_ei_candidates": "n_candidates",
            "linear_forgetting": "max_good",
            "constant_liar_type": "constant_liar",
        },
    ),
    "random": _Algo("random", None, _COMMON),
    "randomsearch": _Algo("random", None, _COMMON),
    "gridsearch": _Algo("grid", None),
    "evolution": _Algo("evolution", "maximize", {**_COMMON, "population_size": "population_size"}),
    "anneal": _Algo("anneal", "minimize", _COMMON),
    "ppotuner": _Algo("rl", "maximize", _COMMON),
    "ppo": _Algo("rl", "maximize", _COMMON),
    "hyperband": _Algo(
        "random",
        "maximize",
        _COMMON,
        note="Hyperband -> random tuner + asha assessor (asynchronous successive halving on "
        "intermediate results); every trial gets TRIAL_BUDGET=R and asha stops weak ones early",
    ),
    "bohb": _Algo(
        "tpe",
        "maximize",
        _COMMON,
        note="BOHB -> tpe tuner + asha assessor; every trial gets TRIAL_BUDGET=max_budget and asha "
        "stops weak ones early",
    ),
}
for _name in (
    "smac",
    "metis",
    "metistuner",
    "gp",
    "gptuner",
    "pbt",
    "pbttuner",
    "dngo",
    "dngotuner",
    "batch",
    "batchtuner",
    "regularizedevolutiontuner",
    "networkmorphism",
    "tpe_legacy",
):
    NNI_TUNERS[_name] = _Algo("nni", "maximize", {})

#: NNI built-in assessors, by lower-cased name.
NNI_ASSESSORS: dict[str, _Algo] = {
    # NNI's Medianstop: the median of completed trials' running averages, judged from the first
    # report (start_step 0) as soon as one trial has completed; hyperloom's median_stop defaults
    # to a step-dependent percentile over every ended trial after 5 of them
    "medianstop": _Algo(
        "median_stop",
        "maximize",
        {**_COMMON, "start_step": "start_step"},
        nni_defaults={
            "start_step": 1,
            "n_startup_trials": 1,
            "reference": "completed",
            "percentile": 50.0,
            "percentile_growth": 0.0,
        },
    ),
    "curvefitting": _Algo(
        "curve_fitting",
        "maximize",
        {
            **_COMMON,
            "epoch_num": "epoch_num",
            "start_step": "start_step",
            "threshold": "threshold",
            "gap": "gap",
        },
    ),
}

_NNI_CASED = {
    "TPE", "Random", "GridSearch", "Evolution", "Anneal", "PPOTuner", "Hyperband", "BOHB", "SMAC",
    "Metis", "MetisTuner", "GP", "GPTuner", "PBT", "PBTTuner", "DNGO", "DNGOTuner", "Batch", "BatchTuner",
    "RegularizedEvolutionTuner", "NetworkMorphism", "TPE_legacy", "Medianstop", "Curvefitting",
}  # fmt: skip
#: Keys NNI accepts that hyperloom has no use for; each is dropped with one warning line.
_IGNORED_TOP = {
    "useAnnotation": "annotations are not supported (NNI 3.0 refuses them too)",
    "nniManagerIp": "hyperloom needs no manager address",
    "logLevel": "hyperloom keeps its own manager.log",
    "debug": "hyperloom keeps its own manager.log",
    "experimentType": "only HPO experiments are run from NNI configs",
    "tunerGpuIndices": "the tuner runs in the manager process",
    "sharedStorage": "only local storage is supported",
}
_IGNORED_TS = {
    "reuseMode": "every trial is a fresh process",
    "nniManagerIp": "hyperloom needs no manager address",
}
_NNI_KEYS = {
    "experimentName", "searchSpaceFile", "searchSpace", "trialCommand", "trialCodeDirectory",
    "trialConcurrency", "trialGpuNumber", "maxExperimentDuration", "maxTrialNumber", "maxTrialDuration",
    "experimentWorkingDirectory", "tuner", "assessor", "advisor", "trainingService",
    *_IGNORED_TOP,
}  # fmt: skip


def _norm(key: str) -> str:
    return key.replace("_", "").lower()


def _known_keys() -> set[str]:
    try:
        from hyperloom import config as cfg

        return {*cfg._TOP, *cfg._SPECIAL, *cfg.EXTRA_KEYS, *_NNI_KEYS}
    except ImportError:  # pragma: no cover
        return set(_NNI_KEYS)


def _algo_name(section: Any) -> str | None:
    if isinstance(section, str):
        return section
    if isinstance(section, Mapping):
        name = section.get("name")
        return name if isinstance(name, str) else None
    return None


def is_nni_config(raw: Mapping[str, Any]) -> bool:
    """Whether a raw config is written for NNI rather than hyperloom: NNI's spelling of an
    algorithm name, an ``optimize_mode`` class argument, or a key only NNI has."""
    if any(k in raw for k in (*_IGNORED_TOP, "advisor")):
        return True
    for key in ("tuner", "assessor", "advisor"):
        sec = raw.get(key)
        name = _algo_name(sec)
        if name in _NNI_CASED:
            return True
        if (
            name
            and name.lower() in {**NNI_TUNERS, **NNI_ASSESSORS}
            and name.lower() not in _native_names()
        ):
            return True
        args = sec.get("classArgs") if isinstance(sec, Mapping) else None
        if isinstance(args, Mapping) and "optimize_mode" in args:
            return True
    ts = raw.get("trainingService")
    return isinstance(ts, Mapping) and any(k in ts for k in _IGNORED_TS)


def _native_names() -> set[str]:
    """hyperloom's own tuner and assessor names, read from its entry points (the one list of
    built-ins); the NNI adapter ("nni") is not one of them."""
    from hyperloom import registry

    return {
        info.name
        for kind in ("tuner", "assessor")
        for info in registry.discover(kind)
        if info.distribution == "hyperloom" and info.name != "nni"
    }


def _import_class(class_name: str, code_dir: Path | None) -> Any:
    """Imports ``module.Class`` or ``module:Class`` with ``code_dir`` first on ``sys.path`` (for
    the import only). Raises whatever the import raises."""
    if ":" in class_name:
        module_name, _, attr = class_name.partition(":")
    else:
        module_name, _, attr = class_name.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"{class_name!r} is not of the form 'module.Class'")
    added = False
    if code_dir is not None:
        d = str(code_dir)
        if d not in sys.path:
            sys.path.insert(0, d)
            added = True
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(code_dir))


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _class_is_nni(class_name: str, code_dir: Path | None) -> bool:
    """Whether a ``className`` names a class written against NNI, decided by what the class is.

    The class is imported (with ``code_dir`` on ``sys.path``) and its base classes are walked:
    it is an NNI class when one of them comes from the ``nni`` package (``nni.tuner.Tuner``,
    ``nni.assessor.Assessor``, an NNI built-in such as ``nni.algorithms.hpo.tpe_tuner.TpeTuner``,
    or the same names from a stand-in package called ``nni``) and none from ``hyperloom``
    (hyperloom's own base classes, and the NNI adapters, are native). Classes are compared by
    module and name, not identity, so it does not matter which copy of nni defined them.

    When the import fails because ``nni`` itself is missing (``No module named 'nni'`` or
    ``'nni.tuner'``), the class needs nni, so it is an NNI class too: the NNI adapter then says
    how to install nni. Any other import failure answers False, and loading the class later
    reports that error with its cause.
    """
    try:
        obj = _import_class(class_name, code_dir)
    except ModuleNotFoundError as e:
        return bool(e.name) and _in_package(str(e.name), "nni")
    except (Exception, SystemExit) as e:
        log.debug("className %s: import failed (%s: %s)", class_name, type(e).__name__, e)
        return False
    if not inspect.isclass(obj):
        return False
    modules = [str(getattr(base, "__module__", "") or "") for base in inspect.getmro(obj)]
    if any(_in_package(m, "hyperloom") for m in modules):
        return False
    return any(_in_package(m, "nni") for m in modules)


def _takes(class_name: str, code_dir: Path | None, arg: str) -> bool:
    """Whether the class named by ``className`` accepts the keyword ``arg``."""
    try:
        params = inspect.signature(_import_class(class_name, code_dir)).parameters
    except Exception:
        return False
    return arg in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _code_path(base: Path, code_dir: Any) -> Path | Literal[False] | None:
    """A section's ``codeDirectory`` made absolute; None when it has none, False when it is
    not a usable path (the config's validation reports that)."""
    if not code_dir:
        return None
    try:
        return (base / Path(str(code_dir)).expanduser()).resolve()
    except (ValueError, RuntimeError, OSError):
        return False


def _nni_classes(raw: Mapping[str, Any], source: Path | None) -> bool:
    """Whether a tuner/assessor/advisor section names (by ``className``) a class written against
    NNI; see :func:`_class_is_nni`."""
    base = source.resolve().parent if source else Path.cwd()
    for key in ("tuner", "assessor", "advisor"):
        sec = raw.get(key)
        if not isinstance(sec, Mapping) or not isinstance(sec.get("className"), str):
            continue
        code_path = _code_path(base, sec.get("codeDirectory"))
        if code_path is not False and _class_is_nni(str(sec["className"]), code_path):
            return True
    return False


def _accepted_args(kind: str, name: str) -> set[str] | None:
    """The keyword arguments a hyperloom tuner/assessor accepts, or None when unknown."""
    try:
        from hyperloom import registry

        cls = registry.load(kind, name)
        params = inspect.signature(cls).parameters
    except Exception:
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


class _Translator:
    def __init__(self, raw: dict[str, Any], source: Path | None) -> None:
        self.raw = raw
        self.where = str(source) if source else "config"
        self.base = source.resolve().parent if source else Path.cwd()
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.debug("%s: %s", self.where, msg)

    def run(self) -> dict[str, Any]:
        raw = self.raw
        self._normalize_keys(raw)
        for key, why in _IGNORED_TOP.items():
            if key in raw:
                value = raw.pop(key)
                if key == "experimentType" and str(value).lower() == "nas":
                    raise ConfigError(
                        f"{self.where}: experimentType 'nas' (NNI Retiarii) is not supported"
                    )
                self.warn(f"ignored NNI key {key}: {why}")
        ts = raw.get("trainingService")
        for sec in ts if isinstance(ts, list) else [ts]:
            if isinstance(sec, dict):
                for key, why in _IGNORED_TS.items():
                    if key in sec:
                        sec.pop(key)
                        self.warn(f"ignored NNI key trainingService.{key}: {why}")
        if "advisor" in raw:
            adv = raw.pop("advisor")
            if raw.get("tuner"):
                raise ConfigError(f"{self.where}: give either tuner or advisor, not both")
            raw["tuner"] = adv
            self.warn("advisor is deprecated in NNI; read as tuner")
        tuner_mode = None
        if raw.get("tuner") is not None:
            tuner_mode = self._algorithm("tuner", NNI_TUNERS)
        if raw.get("assessor") is not None:
            self._algorithm("assessor", NNI_ASSESSORS, tuner_mode=tuner_mode)
        raw.setdefault("nniCompat", True)
        return raw

    def run_classes(self) -> dict[str, Any]:
        """Only the ``className`` sections that name NNI classes: a hyperloom-native config
        otherwise (keys, names and ``nniCompat`` are left as they are)."""
        for key in ("tuner", "assessor"):
            sec = self.raw.get(key)
            if isinstance(sec, Mapping) and sec.get("className"):
                self._algorithm(key, NNI_TUNERS if key == "tuner" else NNI_ASSESSORS)
        return self.raw

    def _normalize_keys(self, raw: dict[str, Any]) -> None:
        """NNI matches keys ignoring case and underscores (``trial_concurrency``)."""
        canon = {_norm(k): k for k in _known_keys()}
        for key in list(raw):
            if isinstance(key, str) and key not in canon.values() and _norm(key) in canon:
                raw[canon[_norm(key)]] = raw.pop(key)

    def _algorithm(
        self, key: str, table: dict[str, _Algo], *, tuner_mode: str | None = None
    ) -> str | None:
        sec = self.raw[key]
        if isinstance(sec, str):
            sec = {"name": sec}
        if not isinstance(sec, Mapping):
            return None
        sec = dict(sec)
        args = dict(sec.get("classArgs") or {})
        kind = "tuner" if key == "tuner" else "assessor"
        if sec.get("className"):
            code_path = _code_path(self.base, sec.get("codeDirectory"))
            if code_path is not False and _class_is_nni(str(sec["className"]), code_path):
                mode = args.get("optimize_mode")
                if "mode" in args and not _takes(str(sec["className"]), code_path, "mode"):
                    # hyperloom's spelling, for the adapter: NNI's class takes optimize_mode
                    mode = mode or args["mode"]
                    args.pop("mode")
                new_args: dict[str, Any] = {
                    "class_name": str(sec["className"]).replace(":", "."),
                    "class_args": args,
                }
                if mode:
                    new_args["mode"] = mode
                new_sec: dict[str, Any] = {"name": "nni", "classArgs": new_args}
                if code_path:
                    # the section's codeDirectory: the registry hands it to the adapter (a
                    # classArgs.code_directory would collide with the loader's own keyword)
                    new_sec["codeDirectory"] = str(code_path)
                self.raw[key] = new_sec
                self.warn(
                    f"{key} {sec['className']} is an NNI class: run through the NNI adapter (needs hyperloom[nni])"
                )
                return str(mode) if mode else None
            return None
        name = sec.get("name")
        if not isinstance(name, str):
            return None
        algo = table.get(name.lower())
        native = name in _native_names()
        if algo is None or (native and "optimize_mode" not in args and name not in _NNI_CASED):
            return str(args.get("mode")) if args.get("mode") else None
        label = f"{key} {name}"
        if algo.target == "nni":
            mode = args.get("optimize_mode") or algo.default_mode
            self.raw[key] = {
                "name": "nni",
                "classArgs": {"builtin": name, "class_args": args, "mode": mode},
            }
            self.warn(
                f"{label} has no hyperloom equivalent: run NNI's own class through the NNI adapter (needs hyperloom[nni])"
            )
            return str(mode) if mode else None
        out: dict[str, Any] = {}
        translated: set[str] = set()
        for k, v in args.items():
            if k == "seed":
                if self.raw.get("seed") is None:
                    self.raw["seed"] = v
                elif self.raw["seed"] != v:
                    self.warn(
                        f"{label}: classArgs.seed {v!r} ignored; the experiment seed {self.raw['seed']!r} is used"
                    )
                continue
            if k == "tpe_args" and isinstance(v, Mapping):
                for kk, vv in v.items():
                    renamed = algo.rename.get(str(kk), str(kk))
                    out[renamed] = vv
                    translated.add(renamed)
                continue
            new = algo.rename.get(str(k), str(k))
            out[new] = v
            translated.add(new)
        accepts = _accepted_args(kind, algo.target)
        for k, v in algo.nni_defaults.items():
            if k not in out and (accepts is None or k in accepts):
                out[k] = v
                log.info("%s: %s %s: %s=%r (NNI's default)", self.where, key, name, k, v)
        for k, v in list(out.items()):
            if k == "constant_liar" and not isinstance(v, bool):
                out[k] = v is not None and str(v).lower() != "none"
            elif k == "start_step" and isinstance(v, int) and v < 1:
                out[k] = 1
                self.warn(f"{label}: start_step {v} read as 1 (hyperloom counts steps from 1)")
        mode = out.get("mode")
        if mode is None and algo.default_mode is not None:
            mode = algo.default_mode
            if tuner_mode and tuner_mode != mode:
                self.warn(
                    f"{label}: no optimize_mode, so NNI's default {mode!r} is used, although the tuner "
                    f"uses {tuner_mode!r}; set optimize_mode to agree"
                )
            else:
                self.warn(f"{label}: no optimize_mode, so NNI's default for {name} is used: {mode}")
            out["mode"] = mode
            translated.add("mode")
        elif mode is None and tuner_mode is not None:
            out["mode"] = tuner_mode
            translated.add("mode")
        if algo.note:
            self.warn(algo.note)
            self._budgeted(name, args, out)
        accepted = _accepted_args(kind, algo.target)
        if accepted is not None:
            for k in sorted(translated):
                if k not in accepted and k in out:
                    out.pop(k)
                    self.warn(
                        f"{label}: classArgs.{k} has no equivalent in hyperloom's {algo.target}; ignored"
                    )
        result: dict[str, Any] = {"name": algo.target}
        if out:
            result["classArgs"] = out
        self.raw[key] = result
        if algo.target != name:
            log.info("%s: %s %s -> %s", self.where, key, name, algo.target)
        return str(mode) if mode else None

    def _budgeted(self, name: str, args: Mapping[str, Any], out: dict[str, Any]) -> None:
        """Hyperband/BOHB: keep TRIAL_BUDGET in the trial's parameters, early-stop with asha."""
        budget = args.get("R", 60) if name.lower() == "hyperband" else args.get("max_budget", 3)
        eta = args.get("eta", 3)
        for k in ("R", "eta", "exec_mode", "min_budget", "max_budget", "min_points_in_model",
                  "top_n_percent", "num_samples", "random_fraction", "bandwidth_factor",
                  "min_bandwidth", "config_space"):  # fmt: skip
            out.pop(k, None)
        space = self.raw.get("searchSpace")
        if isinstance(space, dict) and "TRIAL_BUDGET" not in space:
            space["TRIAL_BUDGET"] = {"_type": "choice", "_value": [budget]}
        elif "searchSpaceFile" in self.raw:
            self.raw["searchSpace"] = self._load_space_file()
            self.raw.pop("searchSpaceFile")
            self.raw["searchSpace"].setdefault(
                "TRIAL_BUDGET", {"_type": "choice", "_value": [budget]}
            )
        if self.raw.get("assessor") is None:
            asha: dict[str, Any] = {
                "mode": out.get("mode", "maximize"),
                "max_resource": budget,
                "reduction_factor": eta,
            }
            accepted = _accepted_args("assessor", "asha")
            if accepted is not None:
                asha = {k: v for k, v in asha.items() if k in accepted}
            self.raw["assessor"] = {"name": "asha", "classArgs": asha}
        else:
            self.warn(f"{name}: the configured assessor is kept instead of asha")

    def _load_space_file(self) -> dict[str, Any]:
        from hyperloom.space import SearchSpace

        path = self.base / str(self.raw["searchSpaceFile"])
        try:
            return dict(SearchSpace.load(path).to_nni())
        except Exception as e:
            raise ConfigError(f"{self.where}: searchSpaceFile {str(path)!r}: {e}") from None


def translate(raw: dict[str, Any], source: Path | None) -> tuple[dict[str, Any], list[str]]:
    """Translates an NNI v2 config into a hyperloom config.

    Args:
        raw: The raw config mapping (as read from YAML).
        source: The config file (relative paths are resolved against its folder), or None.

    Returns:
        ``(config, warnings)``: the hyperloom raw config and one line per change made. A
        hyperloom-native config comes back unchanged, with no warnings.

    Raises:
        ConfigError: The config asks for something NNI-specific that hyperloom cannot do.
    """
    if not isinstance(raw, Mapping):
        return raw, []
    if is_nni_config(raw):
        t = _Translator(copy.deepcopy(dict(raw)), source)
        return t.run(), t.warnings
    if _nni_classes(raw, source):
        # a hyperloom config that names an NNI class: only that section changes
        t = _Translator(copy.deepcopy(dict(raw)), source)
        return t.run_classes(), t.warnings
    return raw, []
