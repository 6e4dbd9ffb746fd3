"""The simulate executor's part of a config: the table's path, and the search space and mode a
config may leave to its table (``trainingService: {platform: simulate, table: FILE}``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hyperloom.errors import ConfigError, HyperloomError
from hyperloom.types import check_mode

__all__ = ["simulation_table", "table_coverage"]


def simulation_table(
    raw: dict[str, Any], base: Path, where: str, resolve_path: Callable[[Path, str, str, str], Path]
) -> dict[str, Any]:
    """For ``trainingService: {platform: simulate, table: FILE}``: the config with the table's
    path made absolute (relative paths are the config file's folder's, as every path of a config;
    ``resume`` from another folder finds it), the table's ``space`` as the search space when the
    config gives none (a table without one: a choice over each parameter's values in its rows),
    and the table's ``mode`` when neither objectives nor ``tuner.classArgs.mode`` set one."""
    ts = raw.get("trainingService")
    if isinstance(ts, list) and len(ts) == 1:
        ts = ts[0]
    if not isinstance(ts, Mapping) or ts.get("platform") != "simulate" or "table" not in ts:
        return raw
    if not isinstance(ts["table"], str):
        raise ConfigError(f"{where}: trainingService.table must be a path, got {ts['table']!r}")
    if ts.get("missingRows", "nearest") not in ("nearest", "error"):
        raise ConfigError(
            f"{where}: trainingService.missingRows must be 'nearest' (the nearest row answers a "
            f"parameter set the table lacks) or 'error', got {ts['missingRows']!r}"
        )
    path = resolve_path(base, ts["table"], where, "trainingService.table")
    raw = {**raw, "trainingService": {**ts, "table": str(path)}}
    needs_space = "searchSpace" not in raw and "searchSpaceFile" not in raw
    tuner = raw.get("tuner") or {"name": "auto"}
    tuner = {"name": tuner} if isinstance(tuner, str) else tuner
    args = tuner.get("classArgs") if isinstance(tuner, Mapping) else None
    needs_mode = not raw.get("objectives") and not (isinstance(args, Mapping) and "mode" in args)
    if not (needs_space or needs_mode):
        return raw
    at = f"simulation table {str(path)!r}"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(
            f"{where}: trainingService.table: {at}: cannot read it: {e.strerror}"
        ) from None
    except ValueError as e:
        raise ConfigError(f"{where}: trainingService.table: {at}: not valid JSON: {e}") from None
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: trainingService.table: {at}: must be a JSON object")
    if needs_space:
        space = table.get("space")
        raw = {**raw, "searchSpace": space if space is not None else _rows_space(table, at)}
    mode = table.get("mode")
    if needs_mode and mode is not None and isinstance(tuner, Mapping):
        try:
            mode = check_mode(mode)
        except HyperloomError as e:
            raise ConfigError(f"{where}: trainingService.table: {at}: mode: {e}") from None
        raw = {**raw, "tuner": {**tuner, "classArgs": {**(args or {}), "mode": mode}}}
    return raw


def table_coverage(space: Any, ts: Any) -> list[str]:
    """A warning when the search space holds points that are no row of the simulation table
    (more points than rows, or a continuous parameter): the nearest row answers them
    (``missingRows: nearest``, the default) unless the config asks for an error."""
    if not isinstance(ts, Mapping) or ts.get("platform") != "simulate" or "table" not in ts:
        return []
    if ts.get("missingRows", "nearest") != "nearest":
        return []
    try:
        rows = json.loads(Path(str(ts["table"])).read_text(encoding="utf-8")).get("rows")
        n = len({json.dumps(r.get("params"), sort_keys=True, default=str) for r in rows})
    except (OSError, ValueError, AttributeError, TypeError):
        return []  # the executor names what is wrong with the table
    size = space.size()
    if size <= n:
        return []
    points = "continuous parameters" if size == float("inf") else f"{int(size):,} points"
    return [
        f"trainingService.table: the search space has {points} and the table {n:,} rows; a "
        f"parameter set that is no row is answered by the nearest row (set "
        f"trainingService.missingRows: error to refuse it)"
    ]


def _rows_space(table: Mapping[str, Any], at: str) -> dict[str, Any]:
    """A table without ``space``: each parameter a choice over the values its rows hold (numbers
    in order, then the rest as first seen), or a range when it is a number that takes more than
    ``MAX_CHOICES`` values."""
    rows = table.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{at}: needs a non-empty 'rows' list")
    values: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        params = row.get("params") if isinstance(row, Mapping) else None
        if not isinstance(params, Mapping):
            raise ConfigError(f"{at}, rows[{i}]: missing key 'params' (an object)")
        for k, v in params.items():
            seen = values.setdefault(str(k), [])
            if v not in seen:
                seen.append(v)
    space = {}
    for k, seen in values.items():
        nums = sorted(v for v in seen if isinstance(v, int | float) and not isinstance(v, bool))
        rest = [v for v in seen if not (isinstance(v, int | float) and not isinstance(v, bool))]
        if len(nums) > MAX_CHOICES and not rest:
            space[k] = _range(nums)
        else:
            space[k] = {"_type": "choice", "_value": nums + rest}
    return space


#: a numeric parameter with more distinct values in a table's rows is searched as a range
MAX_CHOICES = 10


def _range(nums: list[Any]) -> dict[str, Any]:
    """The range of a numeric parameter that takes many values in the rows (random rather than
    grid configurations): on a log scale when positive and spanning two decades or more, integer
    when every value is; the nearest row answers each suggested point."""
    lo, hi = nums[0], nums[-1]
    log = lo > 0 and hi / lo >= 100
    if all(isinstance(v, int) for v in nums):
        if log:
            return {"_type": "qloguniform", "_value": [lo, hi, 1]}
        return {"_type": "randint", "_value": [lo, hi + 1]}
    return {"_type": "loguniform" if log else "uniform", "_value": [float(lo), float(hi)]}
