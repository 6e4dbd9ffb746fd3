"""Search spaces in NNI's format, with NNI's documented semantics.

A space is a mapping ``{name: {"_type": T, "_value": V}}``. Every NNI type is supported:
``choice`` (nested when its options are dicts with ``_name``), ``randint`` (upper bound exclusive),
``uniform``, ``quniform``, ``loguniform``, ``qloguniform``, ``normal``, ``qnormal``, ``lognormal``
and ``qlognormal``. q-rounding of the bounded types is clipped to the bounds; of the normal types
it is not (as in NNI).

Tuners see a space as a flat list of :class:`Parameter` objects (``space.parameters``). Each has a
``path`` (``("layer0", 1, "kernel")`` for the ``kernel`` of option 1 of choice ``layer0``) and an
optional ``condition``: the parent choice path and option index under which it is active. Every
parameter also has an *internal* numeric representation, so that a model-based tuner can treat all
types alike:

* categorical parameters (``choice``): an option index in ``range(n_choices)``;
* numeric parameters: a float in ``[low, high]`` (log types in log space; normal types unbounded,
  with ``low``/``high`` set to ``-inf``/``inf`` and ``mu``/``sigma`` given). ``from_internal``
  rounds and clips a float back to a valid value.

New parameter types can be added by plugins through :func:`register_parameter_type`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hyperloom._space_params import (
    Choice,
    Condition,
    Normal,
    Parameter,
    ParamFactory,
    PathT,
    RandInt,
    Uniform,
    _fmt_path,
    _make_normal,
    _make_randint,
    _make_uniform,
)
from hyperloom.errors import SearchSpaceError

__all__ = [
    "MAX_NESTING",
    "Choice",
    "Condition",
    "Normal",
    "ParamFactory",
    "Parameter",
    "PathT",
    "RandInt",
    "SearchSpace",
    "Uniform",
    "register_parameter_type",
]


_TYPES: dict[str, ParamFactory] = {
    "randint": _make_randint,
    "uniform": _make_uniform(False, False),
    "quniform": _make_uniform(False, True),
    "loguniform": _make_uniform(True, False),
    "qloguniform": _make_uniform(True, True),
    "normal": _make_normal(False, False),
    "qnormal": _make_normal(False, True),
    "lognormal": _make_normal(True, False),
    "qlognormal": _make_normal(True, True),
}


def register_parameter_type(type_name: str, factory: ParamFactory) -> None:
    """Registers a new ``_type``. ``factory(path, condition, _value)`` returns a :class:`Parameter`
    subclass that implements the numeric interface, so every tuner can handle it. It raises
    :class:`SearchSpaceError` for a bad ``_value``."""
    if type_name == "choice" or type_name in _TYPES:
        raise SearchSpaceError(f"parameter type {type_name!r} is already registered")
    _TYPES[type_name] = factory


def _plugin_parameter_type(type_name: str) -> ParamFactory | None:
    """A ``_type`` from an installed ``hyperloom.parameter_types`` plugin (registered on first use)."""
    from hyperloom.registry import parameter_type_factory

    factory = parameter_type_factory(type_name)
    if factory is not None:
        _TYPES[type_name] = factory
    return factory


def _parse(
    spec: Any,
    prefix: PathT,
    cond: Condition | None,
    out: list[Parameter],
    errors: list[str] | None = None,
) -> None:
    """Parses ``spec`` into ``out``. With ``errors``, a bad parameter's message is added there and
    parsing goes on with the next one (so that every error is reported at once)."""
    if not isinstance(spec, Mapping):
        where = f"at {_fmt_path(prefix)!r}" if prefix else "at the top level"
        raise SearchSpaceError(
            f"search space {where} must be a mapping of parameters, got {spec!r}"
        )
    for name, body in spec.items():
        if prefix and name == "_name":
            continue
        try:
            _parse_one(name, body, prefix, cond, out, errors)
        except SearchSpaceError as e:
            if errors is None:
                raise
            errors.extend(e.errors)


def _parse_one(
    name: Any,
    body: Any,
    prefix: PathT,
    cond: Condition | None,
    out: list[Parameter],
    errors: list[str] | None,
) -> None:
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(f"parameter names must be non-empty strings, got {name!r}")
    path = (*prefix, name)
    where = f"parameter {_fmt_path(path)!r}"
    if not isinstance(body, Mapping) or "_type" not in body or "_value" not in body:
        raise SearchSpaceError(f'{where}: expected {{"_type": ..., "_value": ...}}, got {body!r}')
    extra = set(body) - {"_type", "_value"}
    if extra:
        raise SearchSpaceError(f"{where}: unknown keys {sorted(extra)!r} (only _type and _value)")
    type_name, value = body["_type"], body["_value"]
    if type_name == "choice":
        _parse_choice(path, cond, value, out, errors)
        return
    factory = _TYPES.get(type_name) if isinstance(type_name, str) else None
    if factory is None and isinstance(type_name, str):
        factory = _plugin_parameter_type(type_name)
    if factory is None:
        import difflib

        known = ["choice", *_TYPES]
        close = difflib.get_close_matches(str(type_name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known types: {', '.join(known)}"
        raise SearchSpaceError(f"{where}: unknown _type {type_name!r}{hint}")
    out.append(factory(path, cond, value))


#: How deeply nested choices may nest (a deeper space is surely generated by mistake).
MAX_NESTING = 32


def _option_key(v: Any) -> tuple[str, Any]:
    """Options with the same key are one value: equal numbers (1 and 1.0), equal strings,
    booleans only equal to booleans (as in :meth:`Choice.index`), None."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", v)  # 1 == 1.0 and hash(1) == hash(1.0)
    return (type(v).__name__, v)


def _duplicate_options(where: str, value: Sequence[Any]) -> None:
    first: dict[tuple[str, Any], int] = {}
    for j, v in enumerate(value):
        i = first.setdefault(_option_key(v), j)
        if i != j:
            raise SearchSpaceError(
                f"{where}: duplicate options {value[i]!r} (option {i}) and {v!r} (option {j}) "
                "are the same value; list each option once"
            )


def _parse_choice(
    path: PathT,
    cond: Condition | None,
    value: Any,
    out: list[Parameter],
    errors: list[str] | None = None,
) -> None:
    where = f"parameter {_fmt_path(path)!r} (choice)"
    depth = sum(1 for part in path if isinstance(part, int))
    if depth >= MAX_NESTING:
        raise SearchSpaceError(
            f"{where}: nested choices are {depth + 1} levels deep here; at most {MAX_NESTING} "
            "levels are supported"
        )
    if not isinstance(value, list | tuple):
        raise SearchSpaceError(f"{where}: _value must be a list of options, got {value!r}")
    if not value:
        raise SearchSpaceError(f"{where}: _value is an empty list; give at least one option")
    dicts = [v for v in value if isinstance(v, Mapping)]
    if not dicts:
        for v in value:
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise SearchSpaceError(
                    f"{where}: options must be numbers, strings, booleans or null, got {v!r}"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise SearchSpaceError(f"{where}: options must be finite, got {v!r}")
        out.append(Choice(path, cond, options=tuple(value)))
        return
    if len(dicts) != len(value):
        raise SearchSpaceError(
            f"{where}: a nested choice must have only dict options with a _name, got {value!r}"
        )
    names: list[str] = []
    for i, opt in enumerate(value):
        name = opt.get("_name")
        if not isinstance(name, str) or not name:
            raise SearchSpaceError(f"{where}: option {i} needs a string '_name', got {opt!r}")
        if name in names:
            raise SearchSpaceError(
                f"{where}: duplicate _name {name!r} in options {names.index(name)} and {i}"
            )
        names.append(name)
    out.append(Choice(path, cond, options=tuple(names), nested=True))
    for i, opt in enumerate(value):
        _parse(opt, (*path, i), (path, i), out, errors)


class SearchSpace:
    """An immutable, validated search space.

    Build one with :meth:`from_nni` or :meth:`load`. ``parameters`` is the flat list of all
    parameters, nested ones included, parents before children.
    """

    def __init__(self, raw: Mapping[str, Any], parameters: Sequence[Parameter]) -> None:
        self._raw = json.loads(json.dumps(raw))
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self._by_path = {p.path: p for p in self.parameters}

    # construction -----------------------------------------------------------------------------
    @classmethod
    def from_nni(cls, raw: Any) -> SearchSpace:
        """Validates an NNI search-space dict. Raises :class:`SearchSpaceError` naming the
        parameter path and the bad value."""
        params: list[Parameter] = []
        errors: list[str] = []
        _parse(raw, (), None, params, errors)
        if errors:
            raise SearchSpaceError.of(errors)
        try:
            return cls(raw, params)
        except (TypeError, ValueError) as e:
            raise SearchSpaceError(f"search space is not JSON-serializable: {e}") from None

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Loads a space from a JSON or YAML file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise SearchSpaceError(
                f"cannot read search space file {str(p)!r}: {e.strerror}"
            ) from None
        except UnicodeDecodeError as e:
            raise SearchSpaceError(f"{p}: not UTF-8 text (byte {e.start})") from None
        try:
            raw = json.loads(text)
        except RecursionError:
            raise SearchSpaceError(f"{p}: nested too deeply") from None
        except ValueError:
            import yaml
            from hyperloom.config import _yaml_loader  # duplicate keys and alias bombs refused

            try:
                raw = yaml.load(text, Loader=_yaml_loader())
            except yaml.YAMLError as e:
                raise SearchSpaceError(f"{p}: not valid JSON or YAML: {e}") from None
            except RecursionError:
                raise SearchSpaceError(f"{p}: nested too deeply") from None
        try:
            return cls.from_nni(raw)
        except SearchSpaceError as e:
            raise SearchSpaceError.of(e.errors, prefix=f"{p}: ") from None

    def check_duplicate_options(self) -> None:
        """Raises :class:`SearchSpaceError` naming the first choice that lists one value twice
        (``1`` and ``1.0``; a boolean never equals a number). :meth:`from_nni` accepts such
        spaces (a repeated option weighs more when sampled); configs refuse them."""
        for p in self.parameters:
            if isinstance(p, Choice) and not p.nested:
                _duplicate_options(f"parameter {p.name!r} (choice)", p.options)

    # inspection -------------------------------------------------------------------------------
    def to_nni(self) -> dict[str, Any]:
        """The space in NNI's JSON format (a copy)."""
        return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]

    def __getitem__(self, path: PathT) -> Parameter:
        return self._by_path[path]

    def __len__(self) -> int:
        return len(self.parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash(json.dumps(self._raw, sort_keys=True))

    def __repr__(self) -> str:
        return f"SearchSpace({len(self.parameters)} parameters)"

    @property
    def is_finite(self) -> bool:
        """Whether the space holds finitely many points (only choice/randint/bounded q-types)."""
        return all(
            p.is_categorical or isinstance(p, RandInt) or (isinstance(p, Uniform) and p.quantum)
            for p in self.parameters
        )

    def size(self) -> float:
        """The number of distinct points (``inf`` when continuous)."""
        if not self.is_finite:
            return math.inf

        def count(prefix: PathT, cond: Condition | None) -> int:
            total = 1
            for p in self.parameters:
                if p.condition != cond:
                    continue
                if isinstance(p, Choice) and p.nested:
                    total *= sum(count((*p.path, i), (p.path, i)) for i in range(p.n_choices))
                elif isinstance(p, RandInt):
                    total *= p.upper - p.lower
                elif isinstance(p, Uniform) and p.quantum:
                    total *= p.n_values()
                else:
                    total *= p.grid_size(1 << 30)
            return total

        n = count((), None)
        try:
            return float(n)
        except OverflowError:  # more points than a float can count
            return math.inf

    # flat <-> nested --------------------------------------------------------------------------
    def is_active(self, param: Parameter, flat: Mapping[PathT, Any]) -> bool:
        """Whether ``param`` is active given the (flat) values chosen for its ancestors."""
        cond = param.condition
        while cond is not None:
            parent_path, idx = cond
            parent = self._by_path[parent_path]
            if parent_path not in flat:
                return False
            if int(parent.to_internal(flat[parent_path])) != idx:
                return False
            cond = parent.condition
        return True

    def assemble(self, flat: Mapping[PathT, Any]) -> dict[str, Any]:
        """Builds the params dict a trial receives from flat values keyed by path. Values of
        inactive parameters are ignored; active parameters must all be present."""

        def build(cond: Condition | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = flat[p.path]
                if isinstance(p, Choice) and p.nested:
                    i = int(p.to_internal(v))
                    out[p.key] = {"_name": p.options[i], **build((p.path, i))}
                else:
                    out[p.key] = v
            return out

        return build(None)

    def flatten(self, params: Mapping[str, Any]) -> dict[PathT, Any]:
        """The inverse of :meth:`assemble`: flat values (nested choices as their ``_name``)."""
        flat: dict[PathT, Any] = {}

        def walk(d: Mapping[str, Any], prefix: PathT, cond: Condition | None) -> None:
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = d[p.key]
                if isinstance(p, Choice) and p.nested:
                    i = p.index(v)
                    flat[p.path] = p.options[i]
                    walk(v, (*p.path, i), (p.path, i))
                else:
                    flat[p.path] = v

        walk(params, (), None)
        return flat

    # sampling & checking ----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator | int | None = None) -> dict[str, Any]:
        """Draws one point with NNI's semantics."""
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        flat: dict[PathT, Any] = {}
        for p in self.parameters:
            if self.is_active(p, flat):
                flat[p.path] = p.sample(rng)
        return self.assemble(flat)

    def validate(self, params: Any) -> None:
        """Raises :class:`SearchSpaceError` unless ``params`` is a point of this space."""

        def walk(d: Any, prefix: PathT, cond: Condition | None) -> None:
            where = _fmt_path(prefix) if prefix else "params"
            if not isinstance(d, Mapping):
                raise SearchSpaceError(f"{where}: expected a mapping, got {d!r}")
            expected = {p.key for p in self.parameters if p.condition == cond}
            keys = set(d) - ({"_name"} if prefix else set())
            if keys != expected:
                missing, extra = sorted(expected - keys), sorted(keys - expected)
                raise SearchSpaceError(f"{where}: missing {missing}, unexpected {extra}")
            for p in self.parameters:
                if p.condition != cond:
                    continue
                v = d[p.key]
                if isinstance(p, Choice) and p.nested:
                    if not isinstance(v, Mapping) or not p.contains(v):
                        raise SearchSpaceError(
                            f"parameter {p.name!r}: {v!r} is not one of {list(p.options)}"
                        )
                    i = p.index(v)
                    walk(v, (*p.path, i), (p.path, i))
                elif not p.contains(v):
                    raise SearchSpaceError(f"parameter {p.name!r}: {v!r} is outside {p.describe()}")

        walk(params, (), None)

    def contains(self, params: Any) -> bool:
        try:
            self.validate(params)
        except (SearchSpaceError, KeyError, TypeError, ValueError):
            return False
        return True
