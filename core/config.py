"""Experiment configs: YAML with NNI v2 field names, validated into a typed :class:`Config`.

Every problem is a :class:`~hyperloom.errors.ConfigError` that names the file, the key path and
the value, and suggests the closest valid key for a typo. Paths are relative to the config file.
NNI v2 configs are first translated by :mod:`hyperloom.nni_config` (algorithm names, classArgs,
ignored keys), which reports what it changed as warnings.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperloom._config_simulate import simulation_table, table_coverage
from hyperloom.errors import ConfigError, HyperloomError, SearchSpaceError
from hyperloom.space import SearchSpace
from hyperloom.types import Constraint, Objective, check_mode

__all__ = ["AlgorithmConfig", "Config", "TrainingService", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Parses "90s", "30m", "1h", "2d" or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range
            raise ValueError(value) from None
        if seconds <= 0 or not math.isfinite(seconds):
            raise ValueError(value)
        return seconds
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(value)
    seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    if seconds <= 0 or not math.isfinite(seconds):  # "9" * 400 parses to inf
        raise ValueError(value)
    return seconds


#: The most aliases (``*name``) a config may use, and the most nodes it may expand to: a YAML
#: "billion laughs" of a few lines would otherwise expand to billions of nodes.
MAX_ALIASES = 1000
MAX_NODES = 1_000_000


def _yaml_loader() -> type:
    """A SafeLoader that refuses duplicate mapping keys (naming the key and both lines) and alias
    bombs, and reads ``1e-5`` as a number as YAML 1.2 does (PyYAML follows YAML 1.1, whose floats
    need a dot, so NNI configs' ``[1e-5, 1e-1]`` were strings). Its errors are ``yaml.YAMLError``
    subclasses with a message."""
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, Node, SequenceNode

    class Refused(yaml.YAMLError):  # type: ignore[misc]
        pass

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        n_aliases = 0

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            if self.check_event(yaml.AliasEvent):
                self.n_aliases += 1
                if self.n_aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise Refused(
                        f"more than {MAX_ALIASES} YAML aliases (*name), at line {mark.line + 1}; "
                        "write the values out"
                    )
            return super().compose_node(parent, index)

        def get_single_node(self) -> Node | None:
            node = super().get_single_node()
            if node is not None:
                _count_nodes(node)
            return node

        def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue
                line = key_node.start_mark.line + 1
                if first != line:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} at lines {first} and {line}; give each key once",
                        key_node.start_mark,
                    )
            return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )

    def _count_nodes(root: Node) -> None:
        weight: dict[int, int] = {}
        busy: set[int] = set()

        def count(node: Node) -> int:
            k = id(node)
            if k in weight:
                return weight[k]
            if k in busy:
                raise Refused("a YAML alias refers to itself (a recursive structure)")
            busy.add(k)
            total = 1
            if isinstance(node, SequenceNode):
                for child in node.value:
                    total += count(child)
            elif isinstance(node, MappingNode):
                for kn, vn in node.value:
                    total += count(kn) + count(vn)
            busy.discard(k)
            if total > MAX_NODES:
                raise Refused(
                    f"the YAML expands to more than {MAX_NODES:,} values (through aliases); "
                    "write a smaller config"
                )
            weight[k] = total
            return total

        count(root)

    return Loader


@dataclass(frozen=True)
class AlgorithmConfig:
    """A tuner or assessor: an entry-point ``name``, or ``class_name`` (``module:Class``) with a
    ``code_directory``, and its ``class_args``."""

    name: str
    class_args: dict[str, Any] = field(default_factory=dict)
    code_directory: Path | None = None
    objective: str | None = None  # an assessor's: the objective it judges (default: the first)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "classArgs": dict(self.class_args)}
        if self.code_directory:
            d["codeDirectory"] = str(self.code_directory)
        if self.objective:
            d["objective"] = self.objective
        return d


@dataclass(frozen=True)
class TrainingService:
    """Where trials run. ``platform`` names an executor plugin (``local``, ``ray``, ...)."""

    platform: str = "local"
    use_active_gpu: bool = True
    max_trial_number_per_gpu: int = 1
    gpu_indices: tuple[int, ...] | None = None
    fake_gpus: Any = None
    options: dict[str, Any] = field(default_factory=dict)  # platform-specific keys


@dataclass(frozen=True)
class Config:
    """A validated experiment config. Build it with :meth:`load` or :meth:`from_dict`."""

    trial_command: str
    search_space: SearchSpace
    experiment_name: str = ""
    trial_code_directory: Path = field(default_factory=Path.cwd)
    trial_concurrency: int = 1
    max_trial_number: int | None = None
    max_experiment_duration: float | None = None
    max_trial_duration: float | None = None
    trial_gpu_number: int | None = None
    tuner: AlgorithmConfig = field(default_factory=lambda: AlgorithmConfig("auto"))
    assessor: AlgorithmConfig | None = None
    training_service: TrainingService = field(default_factory=TrainingService)
    experiment_working_directory: Path | None = None
    seed: int | None = None
    channel: str = "file"
    stop_grace_period: float = 10.0
    max_trial_retries: int = 0
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    checkpoint_budget: int | None = None  # bytes of checkpoint snapshots kept (None: no limit)
    max_launch_failures: int = 5  # identical failures in a row before reporting anything: stop
    extras: dict[str, Any] = field(
        default_factory=dict
    )  # keys added by other modules (compat, ...)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        """The optimisation mode: the first objective's, else the tuner's classArgs mode, else
        "maximize"."""
        if self.objectives:
            return self.objectives[0].mode
        return check_mode(self.tuner.class_args.get("mode", "maximize"))

    @property
    def assessed_objective(self) -> Objective:
        """The objective the assessor judges: ``assessor.objective``, else the first."""
        name = self.assessor.objective if self.assessor is not None else None
        return next((o for o in self.objective_list if o.name == name), self.objective_list[0])

    @property
    def objective_list(self) -> tuple[Objective, ...]:
        """The objectives (one unnamed "default" objective when the config names none)."""
        return self.objectives or (Objective("default", self.mode),)

    # loading ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        """Reads and validates a YAML (or JSON) config file."""
        import yaml

        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {str(p)!r} does not exist") from None
        except OSError as e:
            raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"{p}: not UTF-8 text (byte {e.start}); save the file as UTF-8"
            ) from None
        try:
            raw = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass
        except RecursionError:
            raise ConfigError(f"{p}: malformed YAML: nested too deeply") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or (str(e).splitlines() or ["?"])[0]
            raise ConfigError(f"{p}: malformed YAML{where}: {problem}") from None
        return cls.from_dict(raw, base_dir=p.resolve().parent, source=p)

    @classmethod
    def from_dict(
        cls, raw: Any, *, base_dir: str | Path | None = None, source: str | Path | None = None
    ) -> Config:
        """Validates a raw config mapping. Relative paths are resolved against ``base_dir``."""
        where = str(source) if source else "config"
        if raw is None:
            raise ConfigError(f"{where}: the config is empty")
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"{where}: the config must be a mapping of keys, got {type(raw).__name__}"
            )
        raw = dict(raw)
        warnings: list[str] = []
        try:
            from hyperloom import nni_config
        except ImportError:
            nni_config = None  # type: ignore[assignment]
        if nni_config is not None:
            try:
                raw, warns = nni_config.translate(raw, Path(source) if source else None)
            except HyperloomError as e:
                raise ConfigError(f"{where}: {e}") from None
            warnings.extend(warns)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        try:
            return _build(raw, base, where, source, warnings)
        except SearchSpaceError as e:
            raise ConfigError(f"{where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved config, in the same field names as the YAML (for ``config.yaml``)."""
        ts: dict[str, Any] = {"platform": self.training_service.platform}
        ts["useActiveGpu"] = self.training_service.use_active_gpu
        ts["maxTrialNumberPerGpu"] = self.training_service.max_trial_number_per_gpu
        if self.training_service.gpu_indices is not None:
            ts["gpuIndices"] = list(self.training_service.gpu_indices)
        if self.training_service.fake_gpus is not None:
            ts["fakeGpus"] = self.training_service.fake_gpus
        ts.update(self.training_service.options)
        d: dict[str, Any] = {
            "experimentName": self.experiment_name,
            "trialCommand": self.trial_command,
            "trialCodeDirectory": str(self.trial_code_directory),
            "trialConcurrency": self.trial_concurrency,
            "maxTrialNumber": self.max_trial_number,
            "maxExperimentDuration": self.max_experiment_duration,
            "maxTrialDuration": self.max_trial_duration,
            "trialGpuNumber": self.trial_gpu_number,
            "searchSpace": self.search_space.to_nni(),
            "tuner": self.tuner.to_dict(),
            "assessor": self.assessor.to_dict() if self.assessor else None,
            "trainingService": ts,
            "experimentWorkingDirectory": (
                str(self.experiment_working_directory)
                if self.experiment_working_directory
                else None
            ),
            "seed": self.seed,
            "channel": self.channel,
            "stopGracePeriod": self.stop_grace_period,
            "maxTrialRetries": self.max_trial_retries,
        }
        if self.objectives:
            d["objectives"] = [{"name": o.name, "mode": o.mode} for o in self.objectives]
        if self.checkpoint_budget is not None:
            d["checkpointBudget"] = self.checkpoint_budget
        if self.max_launch_failures != 5:
            d["maxLaunchFailures"] = self.max_launch_failures
        if self.constraints:
            d["constraints"] = [
                {
                    k: v
                    for k, v in (("metric", c.metric), ("max", c.max), ("min", c.min))
                    if v is not None
                }
                for c in self.constraints
            ]
        d.update(self.extras)
        return d


# -------------------------------------------------------------------------------------------------
# Validation

Check = Callable[[Any], Any]


class _Bad(Exception):
    def __init__(self, expected: str) -> None:
        self.expected = expected


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad("a string")
    return v


def _nonempty_str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad("a non-empty string")
    return v


def _pos_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _Bad("a positive integer")
    return v


def _nonneg_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Bad("a non-negative integer")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad("an integer")
    return v


def _seed(v: Any) -> int:
    if _int(v) < 0:
        raise _Bad("a non-negative integer (numpy's generators take no negative seed)")
    return int(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


def _duration(v: Any) -> float:
    try:
        return parse_duration(v)
    except ValueError:
        raise _Bad('a duration such as "90s", "30m", "1h", "2d" or a number of seconds') from None


def _channel(v: Any) -> str:
    if v not in ("file", "socket", "tcp", "unix"):
        raise _Bad('"file", "socket" (tcp), "tcp" or "unix"')
    return "tcp" if v == "socket" else str(v)


def _int_list(v: Any) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,)
    if isinstance(v, str):
        try:
            return tuple(int(x) for x in v.split(",") if x.strip())
        except ValueError:
            raise _Bad("a list of GPU indices") from None
    if not isinstance(v, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in v
    ):
        raise _Bad("a list of GPU indices")
    return tuple(v)


# key -> (attribute, check). None values mean "unset" for optional keys.
_TOP: dict[str, tuple[str, Check]] = {
    "experimentName": ("experiment_name", _str),
    "trialCommand": ("trial_command", _nonempty_str),
    "trialCodeDirectory": ("trial_code_directory", _str),
    "trialConcurrency": ("trial_concurrency", _pos_int),
    "maxTrialNumber": ("max_trial_number", _pos_int),
    "maxExperimentDuration": ("max_experiment_duration", _duration),
    "maxTrialDuration": ("max_trial_duration", _duration),
    "trialGpuNumber": ("trial_gpu_number", _nonneg_int),
    "experimentWorkingDirectory": ("experiment_working_directory", _str),
    "seed": ("seed", lambda v: _seed(v)),
    "channel": ("channel", _channel),
    "stopGracePeriod": ("stop_grace_period", _duration),
    "maxTrialRetries": ("max_trial_retries", _nonneg_int),
    "objectives": ("objectives", lambda v: _objectives(v)),
    "constraints": ("constraints", lambda v: _constraints(v)),
    "checkpointBudget": ("checkpoint_budget", lambda v: _size(v)),
    "maxLaunchFailures": ("max_launch_failures", _nonneg_int),
}


def _size(v: Any) -> int:
    from hyperloom.checkpoints import parse_size

    try:
        return parse_size(v)
    except (ValueError, HyperloomError) as e:
        raise _Bad(str(e).removeprefix("checkpointBudget: ")) from None


def _objectives(v: Any) -> tuple[Objective, ...]:
    shape = "a list of {name, mode} mappings, e.g. [{name: accuracy, mode: maximize}]"
    if not isinstance(v, list) or not v:
        raise _Bad(shape)
    out: list[Objective] = []
    for i, item in enumerate(v):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or set(item) - {"name", "mode"}:
            raise _Bad(f"{shape}; item {i} is {item!r}")
        try:
            out.append(Objective(str(item.get("name", "")), str(item.get("mode", "maximize"))))
        except (ValueError, HyperloomError) as e:
            raise _Bad(f"{shape}; item {i}: {e}") from None
    names = [o.name for o in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _Bad(f"{shape}; duplicate objective names: {', '.join(dup)}")
    return tuple(out)


def _constraints(v: Any) -> tuple[Constraint, ...]:
    shape = "a list of {metric, max and/or min} mappings, e.g. [{metric: params, max: 1e6}]"
    if not isinstance(v, list) or not v:
        raise _Bad(shape)
    out: list[Constraint] = []
    for i, item in enumerate(v):
        if not isinstance(item, Mapping) or set(item) - {"metric", "max", "min"}:
            raise _Bad(f"{shape}; item {i} is {item!r}")
        bounds: dict[str, float | None] = {}
        for key in ("max", "min"):
            b = item.get(key)
            if b is not None:
                if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b):
                    raise _Bad(f"{shape}; item {i}: {key} must be a finite number, not {b!r}")
                bounds[key] = float(b)
        try:
            out.append(Constraint(str(item.get("metric", "")), **bounds))
        except ValueError as e:
            raise _Bad(f"{shape}; item {i}: {e}") from None
    return tuple(out)


_SPECIAL = {"searchSpace", "searchSpaceFile", "tuner", "assessor", "trainingService"}
_ALGO_KEYS = {"name", "className", "codeDirectory", "classArgs"}
_ASSESSOR_KEYS = _ALGO_KEYS | {"objective"}
_TS_KEYS: dict[str, tuple[str, Check]] = {
    "platform": ("platform", _nonempty_str),
    "useActiveGpu": ("use_active_gpu", _bool),
    "maxTrialNumberPerGpu": ("max_trial_number_per_gpu", _pos_int),
    "gpuIndices": ("gpu_indices", _int_list),
    "fakeGpus": ("fake_gpus", lambda v: v),
}


def _launch_check(name: str) -> Check:
    """A checker from :mod:`hyperloom.launch` (imported when used; ValueError -> _Bad)."""

    def check(v: Any) -> Any:
        from hyperloom import launch

        try:
            return getattr(launch, name)(v)
        except ValueError as e:
            raise _Bad(str(e)) from None

    return check


#: Extra top-level keys that other modules accept (name -> checker). Modules that add config keys
#: register them here at import time of hyperloom.config's callers; values land in Config.extras.
EXTRA_KEYS: dict[str, Check] = {
    "nniCompat": _launch_check("check_nni_compat"),
    "metricCapture": _launch_check("check_metric_capture"),
    "paramsAs": _launch_check("check_params_as"),
    "dashboard": lambda v: _dashboard(v),
}

_DASHBOARD_KEYS = ("enabled", "host", "port", "allowRemote")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _dashboard(v: Any) -> Any:
    """``dashboard: false``, or a mapping of ``enabled``, ``host`` (loopback unless
    ``allowRemote: true``: the dashboard can stop trials, so it is not served to the network by
    accident), ``port`` (0..65535; 0 picks a free one) and ``allowRemote``."""
    if isinstance(v, bool):
        return v
    if not isinstance(v, Mapping):
        raise _Bad("true, false or a mapping of " + ", ".join(_DASHBOARD_KEYS))
    unknown = [str(k) for k in v if k not in _DASHBOARD_KEYS]
    if unknown:
        raise _Bad(f"a mapping of {', '.join(_DASHBOARD_KEYS)} (unknown keys: {unknown})")
    for key in ("enabled", "allowRemote"):
        if key in v and not isinstance(v[key], bool):
            raise _Bad(f"a mapping whose {key} is true or false, not {v[key]!r}")
    port = v.get("port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise _Bad(f"a mapping whose port is an integer in 0..65535, not {port!r}")
    host = v.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host.strip():
        raise _Bad(f"a mapping whose host is a host name or address, not {host!r}")
    if not _is_loopback(host) and v.get("allowRemote") is not True:
        raise _Bad(
            f"a mapping whose host is a loopback address unless allowRemote is true (host "
            f"{host!r} would let anyone on the network stop trials; set dashboard.allowRemote: "
            "true to serve it there on purpose)"
        )
    return dict(v)


def _unknown(key: str, valid: list[str], where: str, path: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else f" Valid keys: {', '.join(sorted(valid))}."
    return ConfigError(f"{where}: unknown key {path + key!r}.{hint}")


def _check(check: Check, value: Any, where: str, key: str) -> Any:
    try:
        return check(value)
    except _Bad as b:
        shown = repr(value)
        if len(shown) > 80:
            shown = f"{shown[:60]}... ({len(shown)} characters)"
        raise ConfigError(f"{where}: {key} must be {b.expected}, got {shown}") from None


def _resolve(base: Path, value: str, where: str, key: str) -> Path:
    """``base / value`` with ``~`` expanded, made absolute; impossible paths are ConfigErrors."""
    try:
        return (base / Path(value).expanduser()).resolve()
    except (ValueError, RuntimeError, OSError) as e:  # NUL bytes, ~unknown_user, loops
        raise ConfigError(f"{where}: {key} is not a usable path: {value!r} ({e})") from None


def _algorithm(raw: Any, where: str, key: str, base: Path) -> AlgorithmConfig:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}: {key} must be a mapping with a name and classArgs, got {raw!r}"
        )
    keys = _ASSESSOR_KEYS if key == "assessor" else _ALGO_KEYS
    for k in raw:
        if k not in keys:
            raise _unknown(str(k), sorted(keys), where, f"{key}.")
    objective = raw.get("objective")
    if objective is not None and (not isinstance(objective, str) or not objective):
        raise ConfigError(
            f"{where}: {key}.objective must be an objective's name, got {objective!r}"
        )
    name = raw.get("name") or raw.get("className")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: {key} needs a 'name' (or 'className'), got {dict(raw)!r}")
    if raw.get("className") and raw.get("name"):
        raise ConfigError(f"{where}: {key} has both 'name' and 'className'; give one")
    args = raw.get("classArgs") or {}
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: {key}.classArgs must be a mapping, got {args!r}")
    code_dir = raw.get("codeDirectory")
    if code_dir is not None and not isinstance(code_dir, str):
        raise ConfigError(f"{where}: {key}.codeDirectory must be a path, got {code_dir!r}")
    if raw.get("className") and ":" not in name:
        # NNI's className is "module.Class"
        module, _, cls = name.rpartition(".")
        if not module:
            raise ConfigError(
                f"{where}: {key}.className must look like 'module.Class', got {name!r}"
            )
        name = f"{module}:{cls}"
    return AlgorithmConfig(
        name=name,
        class_args=dict(args),
        code_directory=_resolve(base, code_dir, where, f"{key}.codeDirectory")
        if code_dir
        else None,
        objective=objective,
    )


def _training_service(raw: Any, where: str) -> TrainingService:
    if raw is None:
        return TrainingService()
    if isinstance(raw, list):
        if len(raw) != 1:
            raise ConfigError(f"{where}: trainingService: only one training service is supported")
        raw = raw[0]
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: trainingService must be a mapping, got {raw!r}")
    platform = _check(
        _nonempty_str, raw.get("platform", "local"), where, "trainingService.platform"
    )
    kwargs: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for k, v in raw.items():
        if k in _TS_KEYS:
            attr, check = _TS_KEYS[k]
            kwargs[attr] = _check(check, v, where, f"trainingService.{k}")
        elif platform == "local":
            raise _unknown(str(k), list(_TS_KEYS), where, "trainingService.")
        else:
            options[str(k)] = v
    return TrainingService(**kwargs, options=options)


def _search_space(raw: Mapping[str, Any], base: Path, where: str) -> SearchSpace:
    if "searchSpace" in raw and "searchSpaceFile" in raw:
        raise ConfigError(f"{where}: give either searchSpace or searchSpaceFile, not both")
    if "searchSpaceFile" in raw:
        f = raw["searchSpaceFile"]
        if not isinstance(f, str):
            raise ConfigError(f"{where}: searchSpaceFile must be a path, got {f!r}")
        path = base / f
        if not path.is_file():
            raise ConfigError(f"{where}: searchSpaceFile {str(path)!r} does not exist")
        return SearchSpace.load(path)
    if "searchSpace" not in raw:
        raise ConfigError(f"{where}: missing searchSpace (or searchSpaceFile)")
    space = raw["searchSpace"]
    if isinstance(space, Mapping) and "plugin" in space:
        extra = set(space) - {"plugin", "options"}
        if extra:
            raise ConfigError(
                f"{where}: searchSpace: unknown keys {sorted(extra)} (plugin, options)"
            )
        from hyperloom import registry

        opts = space.get("options") or {}
        if not isinstance(opts, Mapping):
            raise ConfigError(f"{where}: searchSpace.options must be a mapping, got {opts!r}")
        return registry.load_search_space(str(space["plugin"]), dict(opts))
    try:
        return SearchSpace.from_nni(space)
    except SearchSpaceError as e:
        raise ConfigError(f"{where}: searchSpace: {e}") from None


def _build(
    raw: dict[str, Any], base: Path, where: str, source: str | Path | None, warnings: list[str]
) -> Config:
    valid = [*_TOP, *_SPECIAL, *EXTRA_KEYS]
    for k in raw:
        if not isinstance(k, str) or k not in valid:
            raise _unknown(str(k), valid, where, "")
    raw = simulation_table(raw, base, where, _resolve)
    ts_raw = raw.get("trainingService")
    simulated = isinstance(ts_raw, Mapping) and ts_raw.get("platform") == "simulate"
    if raw.get("trialCommand") is None:
        if not simulated:
            raise ConfigError(f"{where}: missing trialCommand (the command that runs one trial)")
        raw = {**raw, "trialCommand": "(simulated)"}  # the simulate executor runs no command
    kwargs: dict[str, Any] = {}
    for key, (attr, check) in _TOP.items():
        if key in raw and raw[key] is not None:
            kwargs[attr] = _check(check, raw[key], where, key)
    kwargs["trial_code_directory"] = _resolve(
        base, kwargs.get("trial_code_directory", "."), where, "trialCodeDirectory"
    )
    if not kwargs["trial_code_directory"].is_dir():
        raise ConfigError(
            f"{where}: trialCodeDirectory {str(kwargs['trial_code_directory'])!r} is not a directory"
        )
    if "experiment_working_directory" in kwargs:
        kwargs["experiment_working_directory"] = _resolve(
            base, kwargs["experiment_working_directory"], where, "experimentWorkingDirectory"
        )
    kwargs["search_space"] = _search_space(raw, base, where)
    try:
        kwargs["search_space"].check_duplicate_options()
    except SearchSpaceError as e:
        raise ConfigError(f"{where}: searchSpace: {e}") from None
    warnings.extend(table_coverage(kwargs["search_space"], raw.get("trainingService")))
    kwargs["tuner"] = _algorithm(raw.get("tuner") or {"name": "auto"}, where, "tuner", base)
    if raw.get("assessor") is not None:
        kwargs["assessor"] = _algorithm(raw["assessor"], where, "assessor", base)
    kwargs["training_service"] = _training_service(raw.get("trainingService"), where)
    extras = {}
    for key, check in EXTRA_KEYS.items():
        if key in raw and raw[key] is not None:
            extras[key] = _check(check, raw[key], where, key)
    cfg = Config(
        **kwargs,
        extras=extras,
        source=Path(source).resolve() if source else None,
        raw=raw,
        warnings=tuple(warnings),
    )
    try:
        cfg.mode  # noqa: B018 - validates the mode early
        tuner_mode = check_mode(cfg.tuner.class_args.get("mode", cfg.mode))
    except HyperloomError as e:
        raise ConfigError(f"{where}: tuner.classArgs.mode: {e}") from None
    if cfg.objectives and tuner_mode != cfg.objectives[0].mode:
        raise ConfigError(
            f"{where}: tuner.classArgs.mode {cfg.tuner.class_args['mode']!r} disagrees with "
            f"objectives[0] ({cfg.objectives[0].name}: {cfg.objectives[0].mode}); drop "
            f"classArgs.mode, the objectives set it"
        )
    judged = cfg.assessor.objective if cfg.assessor is not None else None
    names = [o.name for o in cfg.objectives]
    if judged is not None and judged not in names:
        import difflib

        close = difflib.get_close_matches(judged, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{where}: assessor.objective {judged!r} is not one of the objectives "
            f"({', '.join(names) if names else 'the config names none: add objectives'}){hint}"
        )
    return cfg
