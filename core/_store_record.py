"""Trial records and their encodings in the store (JSON columns, packed intermediates).

Private: use :class:`hyperloom.store.TrialRecord`.
"""

from __future__ import annotations

import array
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hyperloom.types import Report, TrialResult, TrialStatus

__all__ = [
    "TrialRecord",
    "dumps",
    "floats_json",
    "json_text",
    "loads",
    "pack_floats",
    "pack_ints",
    "record",
    "result",
]


def dumps(obj: Any) -> str:
    """Compact JSON; NumPy scalars and arrays (duck-typed, never imported) become plain values."""
    return json.dumps(obj, separators=(",", ":"), default=_plain)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable: {obj!r}")


def pack_floats(values: Iterable[float]) -> bytes:
    """Packs floats as little-endian float64 (the ``intermediate_blob`` format)."""
    arr = array.array("d", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def pack_ints(values: Iterable[int]) -> bytes:
    """Packs steps as little-endian int64 (the ``steps_blob`` format)."""
    arr = array.array("q", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def _unpack_steps(data: bytes | None) -> tuple[int, ...] | None:
    if data is None:
        return None
    arr = array.array("q", data)
    if sys.byteorder == "big":
        arr.byteswap()
    return tuple(arr)


def _reports(
    intermediate: tuple[float, ...], steps: tuple[int, ...] | None
) -> tuple[Report, ...] | tuple[()]:
    """A trial's reports when its steps are not 0, 1, 2, ... (else () and TrialResult makes them)."""
    if steps is None or len(steps) != len(intermediate):
        return ()
    return tuple(map(Report, steps, intermediate))


def floats_json(values: Iterable[float]) -> str:
    """The ``intermediate_json`` format: a compact JSON array (exact: Python's shortest repr)."""
    return json.dumps(list(values), separators=(",", ":"))


def _unpack_intermediate(data: bytes | str | None) -> tuple[float, ...]:
    if not data:
        return ()
    if isinstance(data, str):
        return tuple(json.loads(data))
    arr = array.array("d", data)
    if sys.byteorder == "big":
        arr.byteswap()
    return tuple(arr)


def loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    if text == "{}":  # most metrics and handles: a replay of 10,000 trials parses them all
        return {}
    if text == "[]":
        return []
    return json.loads(text)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as recorded in the store.

    Attributes:
        trial_id: The trial's id.
        sequence: Its sequence number in the experiment (from 1, never reused, kept on resume).
        status: Its current status.
        params: The parameters it ran with.
        value: The final metric, or None.
        metrics: The extra named metrics given with the final report.
        intermediate: The intermediate values in step order (empty when not loaded).
        started: When its process started (epoch seconds), or None.
        ended: When it ended (epoch seconds), or None.
        exit_code: Its process's exit code, or None.
        reason: Why it ended as it did (assessor verdict, timeout, stop cause, error), or None.
        devices: The device indices it was leased.
        pid: Its process id while the manager knows it.
        pgid: Its process group id.
        handle: The executor's JSON handle, used to re-attach after a manager crash.
        channel_offset: Byte offset of the metrics file read so far.
        final_seen: Whether a final report was received.
        values: One value per objective (``values[0] == value``), or None.
        parent: The trial it was warm-started from (PBT exploit), or None.
        checkpoint: Its last committed checkpoint, ``{"step": int, "dir": str}``, or None.
        perturbation: What the tuner changed from the parent's parameters, or None.
        steps: The steps of ``intermediate`` when they are not 0, 1, 2, ... (a trial resumed
            from a checkpoint or warm-started, or sparse reports), else None.
    """

    trial_id: str
    sequence: int
    status: TrialStatus
    params: dict[str, Any]
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    intermediate: tuple[float, ...] = ()
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    devices: tuple[int, ...] = ()
    pid: int | None = None
    pgid: int | None = None
    handle: dict[str, Any] | None = None
    channel_offset: int = 0
    final_seen: bool = False
    values: tuple[float, ...] | None = None
    parent: str | None = None
    checkpoint: dict[str, Any] | None = None
    perturbation: dict[str, Any] | None = None
    steps: tuple[int, ...] | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or None when it has not both started and ended)."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_json(self) -> dict[str, Any]:
        """The stable ``hyperloom trials --json`` object for this trial.

        Keys: ``trial_id``, ``sequence``, ``status`` (a TrialStatus name), ``params``, ``value``,
        ``metrics``, ``intermediate`` (numbers in step order), ``started``, ``ended`` (epoch seconds
        or null), and also ``duration``, ``exit_code``, ``reason`` and ``devices``.
        """
        return {
            "trial_id": self.trial_id,
            "sequence": self.sequence,
            "status": self.status.name,
            "params": self.params,
            "value": self.value,
            "metrics": self.metrics,
            "intermediate": list(self.intermediate),
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "devices": list(self.devices),
            "values": None if self.values is None else list(self.values),
            "parent": self.parent,
            "perturbation": self.perturbation,
            "checkpoint": self.checkpoint,
        }

    def to_result(self) -> TrialResult:
        """This trial as the :class:`~hyperloom.types.TrialResult` tuners and assessors observe."""
        return TrialResult(
            trial_id=self.trial_id,
            params=self.params,
            status=self.status,
            value=self.value,
            intermediate=self.intermediate,
            sequence=self.sequence,
            metrics=self.metrics,
            values=self.values,
            reports=_reports(self.intermediate, self.steps),
            parent=self.parent,
            duration=self.duration,
        )


def record(row: tuple[Any, ...]) -> TrialRecord:
    """A record from a row of the trial columns followed by the intermediate values (a packed
    blob, JSON array text, or NULL)."""
    return TrialRecord(
        trial_id=row[0],
        sequence=row[1],
        status=TrialStatus[row[2]],
        params=json.loads(row[3]),
        value=row[4],
        metrics=loads(row[5], {}),
        intermediate=_unpack_intermediate(row[16]),
        started=row[6],
        ended=row[7],
        exit_code=row[8],
        reason=row[9],
        devices=tuple(loads(row[10], ())),
        pid=row[11],
        pgid=row[12],
        handle=loads(row[13]),
        channel_offset=row[14],
        final_seen=bool(row[15]),
        **_v2_fields(row),
    )


def _values(text: str | None) -> tuple[float, ...] | None:
    """The ``values`` column: a JSON array of numbers (a one-number array without a parse)."""
    if text is None:
        return None
    if "," not in text and text.startswith("[") and text.endswith("]"):
        try:
            return (float(text[1:-1]),)
        except ValueError:  # "[]", "[null]": the general path
            pass
    values = json.loads(text)
    return None if values is None else tuple(float(v) for v in values)


def result(row: tuple[Any, ...]) -> TrialResult:
    """``record(row).to_result()`` without the record: what a resume replays into the tuner and
    assessor, built straight from the row (the columns only a record needs are never parsed)."""
    intermediate = _unpack_intermediate(row[16])
    return TrialResult._from_store(
        row[0],
        json.loads(row[3]),
        TrialStatus[row[2]],
        row[4],
        intermediate,
        row[1],
        loads(row[5], {}),
        _values(row[17]) if len(row) > 17 else None,
        _reports(intermediate, _unpack_steps(row[21]) if len(row) > 21 else None),
        row[18] if len(row) > 18 else None,
        None if row[6] is None or row[7] is None else row[7] - row[6],
    )


def _v2_fields(row: tuple[Any, ...]) -> dict[str, Any]:
    if len(row) < 21:
        return {}
    return {
        "values": _values(row[17]),
        "parent": row[18],
        "checkpoint": loads(row[19]),
        "perturbation": loads(row[20]),
        "steps": _unpack_steps(row[21]) if len(row) > 21 else None,
    }


def _num(x: float | None) -> str:
    return "null" if x is None else repr(float(x))


def json_text(row: tuple[Any, ...], reasons: Mapping[str, str] | None) -> str:
    """The ``to_json()`` object of a row (intermediates as JSON array text) as JSON text, built
    from the stored JSON columns without parsing them."""
    started, ended = row[6], row[7]
    duration = None if started is None or ended is None else ended - started
    reason = row[9]
    if reason is None and reasons:
        reason = reasons.get(row[0])
    return (
        f'{{"trial_id": {json.dumps(row[0])}, "sequence": {int(row[1])}, "status": "{row[2]}", '
        f'"params": {row[3]}, "value": {_num(row[4])}, "metrics": {row[5] or "{}"}, '
        f'"intermediate": {row[16]}, "started": {_num(started)}, "ended": {_num(ended)}, '
        f'"duration": {_num(duration)}, '
        f'"exit_code": {"null" if row[8] is None else int(row[8])}, '
        f'"reason": {json.dumps(reason)}, "devices": {row[10] or "[]"}, '
        f'"values": {_cell(row, 17)}, "parent": {json.dumps(row[18] if len(row) > 18 else None)}, '
        f'"perturbation": {_cell(row, 20)}, "checkpoint": {_cell(row, 19)}}}'
    )


def _cell(row: tuple[Any, ...], i: int) -> str:
    """A stored JSON column as JSON text ("null" when absent)."""
    return str(row[i]) if len(row) > i and row[i] is not None else "null"
