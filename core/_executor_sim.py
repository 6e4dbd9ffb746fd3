"""The simulate executor: recorded or computed learning curves played on a virtual clock.

``trainingService: {platform: simulate, table: FILE}`` or ``{platform: simulate, function:
module:fn}``. The real manager loop, tuners, assessors and store run unchanged; only time and
trials are simulated. The executor supplies the :class:`VirtualClock` the manager runs on
(``Manager`` takes an executor's ``clock`` attribute when it has one).

A table is JSON: ``{"metric": ..., "rows": [{"params": {...}, "curve": [v0, v1, ...],
"seconds": [t0, t1, ...], "metrics": {...}}]}`` (``seconds``: cumulative time at each step). A
function is ``fn(params, step) -> (value, seconds_for_this_step)`` or ``(value, seconds,
metrics)``; its trial runs ``steps`` steps (option, default 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import importlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from hyperloom._manager_lineage import CHECKPOINT_KEY
from hyperloom._manager_types import Clock
from hyperloom.channel import Message
from hyperloom.errors import ConfigError
from hyperloom.executor import Executor, ExecutorEvent, LaunchSpec, TrialExited, TrialMessage

__all__ = ["SimulateExecutor", "VirtualClock", "load_table"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

START = 1_700_000_000.0  # the virtual epoch: 2023-11-14, so that times read as dates


class VirtualClock(Clock):
    """A clock that never sleeps: when the loop waits and nothing is queued, it jumps to the next
    scheduled event (or to the end of the timeout when none comes sooner)."""

    tick = math.inf  # no housekeeping wake-ups are needed: nothing happens between events
    inline_calls = True  # the tuner and assessor are called on the loop, in order

    def __init__(self, start: float = START) -> None:
        self._t = 0.0
        self._start = start
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._n = 0
        self.charge_thinking = False

    def now(self) -> float:
        return self._start + self._t

    def monotonic(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        """Moves time forward (e.g. by what a tuner call took, when thinking is charged)."""
        self._t += max(0.0, seconds)

    def at(self, delay: float, fn: Callable[[], None]) -> None:
        """Runs ``fn`` when the virtual time reaches now + ``delay``."""
        self._n += 1
        heapq.heappush(self._heap, (self._t + max(0.0, delay), self._n, fn))

    def at_time(self, t: float, fn: Callable[[], None]) -> None:
        """Runs ``fn`` when the virtual time reaches ``t`` (at once if it has passed)."""
        self._n += 1
        heapq.heappush(self._heap, (max(t, self._t), self._n, fn))

    @contextlib.contextmanager
    def thinking(self) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            if self.charge_thinking:
                self.advance(time.perf_counter() - t0)

    async def wait(self, queue: asyncio.Queue[Any], timeout: float) -> Any:
        await asyncio.sleep(0)  # let finished worker threads and callbacks land
        while queue.empty():
            if not self._heap:
                return None
            t, _, fn = self._heap[0]
            if t > self._t + timeout:
                self._t += timeout
                return None
            heapq.heappop(self._heap)
            self._t = max(self._t, t)
            fn()
        return queue.get_nowait()


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=str)


def load_table(
    path: Path, params_out: list[dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The rows of a simulation table by parameter key; ConfigError naming the file, the row and
    the key for a bad table. ``params_out``, when given, receives each row's parameters."""
    where = f"simulation table {str(path)!r}"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{where}: cannot read it: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError(f"{where}: not valid JSON: {e}") from None
    rows = raw.get("rows") if isinstance(raw, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{where}: needs a non-empty 'rows' list")
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        at = f"{where}, rows[{i}]"
        if not isinstance(row, dict):
            raise ConfigError(f"{at}: a row must be an object")
        for k in ("params", "curve"):
            if k not in row:
                raise ConfigError(f"{at}: missing key {k!r}")
        curve, secs = row["curve"], row.get("seconds")
        if not isinstance(curve, list) or not curve:
            raise ConfigError(f"{at}: 'curve' must be a non-empty list of numbers")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in curve):
            raise ConfigError(f"{at}: 'curve' holds a non-finite or non-numeric value")
        if secs is None:
            secs = [float(j + 1) for j in range(len(curve))]
        if not isinstance(secs, list) or len(secs) != len(curve):
            raise ConfigError(f"{at}: 'seconds' must have one entry per curve step")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in secs):
            raise ConfigError(f"{at}: 'seconds' holds a non-finite or non-numeric value")
        if any(b < a for a, b in zip([0.0, *secs], secs, strict=False)):
            raise ConfigError(f"{at}: 'seconds' must not decrease (cumulative time per step)")
        if not isinstance(row["params"], dict):
            raise ConfigError(f"{at}: 'params' must be an object")
        if params_out is not None and _key(row["params"]) not in out:
            params_out.append(row["params"])
        out[_key(row["params"])] = {
            "curve": [float(v) for v in curve],
            "seconds": [float(v) for v in secs],
            "metrics": dict(row.get("metrics") or {}),
            "index": i,
        }
    return out


class SimulateExecutor(Executor):
    """Plays each trial's curve step by step on the virtual clock.

    Options: ``table`` (a JSON file) or ``function`` (``module:fn``), ``missingRows`` (``nearest``,
    the default: the nearest row answers a parameter set the table lacks; ``error``), ``steps``
    (for a function, default 10), ``chargeThinking`` (charge the time of tuner and assessor calls to the clock),
    ``checkpointEvery`` (a simulated trial commits a checkpoint every N steps; default 1, 0 for
    none: resumed and warm-started trials then start again from step 0).
    """

    def __init__(
        self,
        *,
        experiment_dir: Path,
        emit: Callable[[ExecutorEvent], None],
        channel: str = "file",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(experiment_dir=experiment_dir, emit=emit, channel=channel, options=options)
        opts = self.options
        self.clock = VirtualClock()
        self.clock.charge_thinking = bool(opts.get("chargeThinking", False))
        self._table: dict[str, dict[str, Any]] | None = None
        self._fn: Callable[..., Any] | None = None
        self._steps = int(opts.get("steps", 10))
        # a simulated trial commits a checkpoint every this many steps (0: never)
        self._checkpoint_every = int(opts.get("checkpointEvery", 1))
        if ("table" in opts) == ("function" in opts):
            raise ConfigError(
                "trainingService (platform simulate): give exactly one of 'table' (a JSON file) "
                "or 'function' (module:fn)"
            )
        self._missing = str(opts.get("missingRows", "nearest"))
        if self._missing not in ("nearest", "error"):
            raise ConfigError(
                f"trainingService.missingRows: must be 'nearest' or 'error', got "
                f"{opts['missingRows']!r}"
            )
        self._index: _NearestRows | None = None
        self._answered = 0  # trials answered by a nearest row
        self._rows: list[dict[str, Any]] = []
        if "table" in opts:
            self._table = load_table(Path(str(opts["table"])).expanduser(), self._rows)
        else:
            ref = str(opts["function"])
            mod, _, name = ref.partition(":")
            try:
                self._fn = getattr(importlib.import_module(mod), name)
            except Exception as e:
                raise ConfigError(
                    f"trainingService.function {ref!r}: cannot import it: {type(e).__name__}: {e}"
                ) from None
        self._live: dict[str, int] = {}  # trial id -> generation (stale events are dropped)
        self._gen = 0

    def _curve(
        self, spec: LaunchSpec
    ) -> tuple[list[float], list[float], dict[str, Any], list[dict[str, Any]]]:
        """(values, cumulative seconds, final metrics, each step's metrics). A table row's
        metrics (a model's size, latency: properties of the configuration) go with every report
        as well as the final one, so a trial stopped early has them too; a function's extras
        are per step."""
        if self._table is not None:
            row = self._table.get(_key(spec.params))
            final = None
            if row is None:
                row = self._nearest_row(spec)
                final = {**row["metrics"], "table_row": row["index"]}  # which row answered
            m = row["metrics"]
            each = [m] * len(row["curve"]) if m else []
            return row["curve"], row["seconds"], m if final is None else final, each
        assert self._fn is not None
        curve, secs, metrics, total = [], [], {}, 0.0
        per_step: list[dict[str, Any]] = []
        for step in range(self._steps):
            got = self._fn(dict(spec.params), step)
            value, dt = float(got[0]), float(got[1])
            if not math.isfinite(value) or not math.isfinite(dt) or dt < 0:
                raise ConfigError(
                    f"trainingService.function gave ({value!r}, {dt!r}) at step {step}: needs a "
                    f"finite value and non-negative seconds"
                )
            if len(got) > 2:
                metrics = dict(got[2] or {})
            per_step.append(metrics)
            total += dt
            curve.append(value)
            secs.append(total)
        return curve, secs, metrics, per_step if any(per_step) else []

    def _nearest_row(self, spec: LaunchSpec) -> dict[str, Any]:
        """The row that answers a parameter set the table lacks (``missingRows: nearest``, the
        default), or a ConfigError (``missingRows: error``). Logged once per run, with a count
        at the end of the run's log."""
        assert self._table is not None
        if self._missing != "nearest":
            raise ConfigError(
                f"trainingService.table: no row has the parameters {spec.params!r} "
                f"(trial {spec.trial_id}); the search space must match the table's, or set "
                f"trainingService.missingRows: nearest"
            )
        if self._index is None:
            self._index = _NearestRows(self._rows)
        key = self._index.nearest(spec.params)
        self._answered += 1
        if self._answered == 1:
            logger.warning(
                "trainingService.table: no row has the parameters %r (trial %s); the nearest "
                "row %s answers it, and so for every such trial (missingRows: nearest; set "
                "missingRows: error to refuse them)",
                dict(spec.params),
                spec.trial_id,
                key,
            )
        return self._table[key]

    simulated_checkpoints = True  # checkpoints are steps; there are no files

    def prepare(self, spec: LaunchSpec) -> None:
        """Nothing on disk: a simulated trial has no process to read ``params.json`` (the store
        holds its parameters), and 10,000 trial directories would cost more than the run."""
        del spec

    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        """Plays the curve from ``spec.start_step`` (a resumed or warm-started trial goes on
        from its checkpoint: the steps before it are neither replayed nor charged)."""
        curve, secs, metrics, per_step = self._curve(spec)
        self._gen += 1
        gen = self._live[spec.trial_id] = self._gen
        first = max(0, spec.start_step)
        base = secs[min(first, len(curve)) - 1] if first > 0 else 0.0
        play = _Play(
            spec.trial_id, gen, curve, secs, per_step, metrics, self.clock.monotonic() - base
        )
        if first < len(curve):
            self.clock.at_time(play.t0 + secs[first], functools.partial(self._step, play, first))
        else:
            self.clock.at(0.0, functools.partial(self._final, play))
        return {"pid": None, "simulated": True}

    def _alive(self, trial_id: str, gen: int) -> bool:
        return self._live.get(trial_id) == gen

    def _step(self, play: _Play, step: int) -> None:
        """Reports one step and schedules the next one (only the steps a trial reaches are ever
        scheduled: most trials of a run with an assessor stop long before their curve ends)."""
        if not self._alive(play.trial_id, play.gen):
            return
        extra = dict(play.per_step[step]) if play.per_step else {}
        every = self._checkpoint_every
        if every and (step + 1) % every == 0:
            extra[CHECKPOINT_KEY] = True
        msg = Message("metric", play.curve[step], step, extra, self.clock.now())
        self._emit(TrialMessage(play.trial_id, msg, 0))
        if step + 1 < len(play.curve):
            nxt = functools.partial(self._step, play, step + 1)
            self.clock.at_time(play.t0 + play.secs[step + 1], nxt)
        else:
            self.clock.at(0.0, functools.partial(self._final, play))

    def _final(self, play: _Play) -> None:
        if self._alive(play.trial_id, play.gen):
            msg = Message("final", play.curve[-1], None, play.metrics, self.clock.now())
            self._emit(TrialMessage(play.trial_id, msg, 0))
            del self._live[play.trial_id]
            self._emit(TrialExited(play.trial_id, 0, None))

    def _end(self, trial_id: str) -> None:
        if self._live.pop(trial_id, None) is not None:
            self._emit(TrialExited(trial_id, -15, "stopped"))

    async def reattach(self, spec: LaunchSpec, handle: Mapping[str, Any], offset: int) -> bool:
        return False  # a simulated trial does not survive its manager

    async def request_stop(self, trial_id: str) -> None:
        self._end(trial_id)  # a simulated trial honours a cooperative stop at once

    async def kill(self, trial_id: str, *, grace: float) -> None:
        self._end(trial_id)

    async def close(self, *, grace: float) -> None:
        for trial_id in list(self._live):
            self._end(trial_id)
        if self._answered:
            logger.warning(
                "trainingService.table: %d trial(s) had parameters that are no row of the "
                "table; the nearest rows answered them",
                self._answered,
            )


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _NearestRows:
    """The nearest row of a table to a parameter set it lacks: the sum over parameters of a
    numeric value's distance in rank among that parameter's values in the rows (interpolated
    between them, so 0.002 lies between 0.001 and 0.003 whatever the scale; 0 to 1), or 1 for a
    different categorical value or a parameter a row lacks. Ties go to the earlier row."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows
        names = sorted({k for r in rows for k in r})
        self._numeric: dict[str, tuple[Any, Any]] = {}  # name -> (sorted values, row positions)
        self._codes: dict[str, tuple[dict[str, int], Any]] = {}  # name -> (codes, row codes)
        for k in names:
            col = [r.get(k, _MISSING) for r in rows]
            if all(_is_number(v) for v in col):
                values = np.unique(np.asarray(col, dtype=float))
                self._numeric[k] = (values, self._position(values, np.asarray(col, dtype=float)))
            else:
                codes: dict[str, int] = {}
                row_codes = [codes.setdefault(_key({"v": v}), len(codes)) for v in col]
                self._codes[k] = (codes, np.asarray(row_codes))

    @staticmethod
    def _position(values: Any, x: Any) -> Any:
        if len(values) < 2:
            return np.zeros_like(x, dtype=float)
        return np.interp(x, values, np.linspace(0.0, 1.0, len(values)))

    def nearest(self, params: Mapping[str, Any]) -> str:
        dist = np.zeros(len(self._rows))
        for k, (values, pos) in self._numeric.items():
            v = params.get(k, _MISSING)
            dist += np.abs(pos - self._position(values, float(v))) if _is_number(v) else 1.0
        for k, (codes, row_codes) in self._codes.items():
            code = codes.get(_key({"v": params.get(k, _MISSING)}), -1)
            dist += row_codes != code
        return _key(self._rows[int(np.argmin(dist))])


_MISSING = "\x00missing"  # stands for a parameter that a row or a parameter set lacks


@dataclass(frozen=True)
class _Play:
    """One simulated run of a trial: its curve, the virtual time its step 0 began (``t0``), and
    the generation that tells a live run from one that was stopped."""

    trial_id: str
    gen: int
    curve: list[float]
    secs: list[float]
    per_step: list[dict[str, Any]]
    metrics: dict[str, Any]
    t0: float
