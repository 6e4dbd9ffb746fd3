"""Run a script that knows nothing of hyperloom and read its metrics from what it prints or writes.

Usage::

    python -m hyperloom.trials.wrap --objective accuracy -- python train.py --lr 0.01
    python -m hyperloom.trials.wrap --regex 'val_acc (?P<value>[\\d.]+) at (?P<step>\\d+)' -- ./train.sh
    python -m hyperloom.trials.wrap --objective acc --file '{trial_dir}/metrics.csv' -- python train.py

The command runs as a child in the wrapper's own process group (so stopping the trial stops
both), its stdout is copied through line by line, and every line is searched for the objective:

* by default, ``name=value`` or ``name: value`` pairs (``epoch=3 loss=0.31 accuracy=0.98``); the
  pair named by ``--objective`` is the value, ``epoch``/``step``/``iteration`` on the same line is
  its step, other numeric pairs go along as extra metrics. A line that starts with ``final`` or a
  pair named ``final_<objective>`` marks the final value;
* with ``--regex``, a regular expression with a ``(?P<value>...)`` group and optional
  ``(?P<step>...)`` and ``(?P<name>...)`` groups (with ``name``, only matches naming the objective
  count); ``--final-regex`` marks final values the same way;
* with ``--file``, a JSON-lines or CSV file that the script writes, one record per report: the
  objective key is the value, ``--step-key`` (default epoch/step/iteration) its step, and a true
  ``final`` key marks the final record. The file is read as it grows.

Echoed parameters are not metrics: many scripts print their own hyperparameters
(``lr=0.006 batch_size=32``), often on the line with the objective. An extra pair (or file key)
named like one of the trial's numeric parameters whose value is that parameter as printed (equal
to within half a unit in the last printed digit: ``lr=0.006`` echoes 0.00612, ``lr=6.1e-3`` too)
is left out of the metrics. A parameter-named value that differs from the parameter (an ``lr``
that a schedule decays) is still a metric, and the objective itself is always read.

Each value is reported as an intermediate result. When nothing marks a final value, the last value
counts as final. When no value was found at all, the trial fails (exit code 3) and the last line of
stderr gives the tail of the output as the reason. The child's own exit code is passed on.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FileMetrics", "LineMetrics", "Reading", "is_echo", "main", "numeric_params"]

STEP_KEYS = ("epoch", "step", "iteration", "iter")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_PAIR = re.compile(r"(?P<name>[A-Za-z_][\w.\-/]*)\s*(?:=|:)\s*(?P<value>" + _NUMBER + r")(?![\w.])")
EXIT_NO_OBJECTIVE = 3


class Reading:
    """One value found in the output: ``value`` at ``step`` (None: next), ``final`` or not."""

    __slots__ = ("final", "metrics", "step", "value")

    def __init__(
        self, value: float, step: int | None, final: bool, metrics: dict[str, float]
    ) -> None:
        self.value = value
        self.step = step
        self.final = final
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"Reading({self.value!r}, step={self.step!r}, final={self.final!r})"


def _num(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _step(text: Any) -> int | None:
    v = _num(text)
    return int(v) if v is not None and v == int(v) else None


_TOKEN = re.compile(r"[+-]?\d*(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?")


def numeric_params(params: Mapping[str, Any] | None) -> dict[str, float]:
    """The trial's numeric parameters by lower-cased name (bools, strings, nested values left
    out): what a script may echo as ``name=value``."""
    out: dict[str, float] = {}
    for k, v in (params or {}).items():
        n = None if isinstance(v, bool) or not isinstance(v, int | float) else _num(v)
        if n is not None:
            out[str(k).lower()] = n
    return out


def is_echo(name: str, text: str, params: Mapping[str, float]) -> bool:
    """Whether ``name=text`` is a parameter printed back: ``name`` is one of ``params`` (as given
    by :func:`numeric_params`) and ``text`` is its value rounded to the printed digits (within
    half a unit in the last place)."""
    p = params.get(name.lower())
    v = _num(text)
    if p is None or v is None:
        return False
    m = _TOKEN.fullmatch(text.strip())
    if m is None:
        return v == p
    decimals = len(m.group("frac") or "")
    exp = int(m.group("exp") or 0)
    half_ulp = 0.5 * 10.0 ** (exp - decimals)
    return abs(v - p) <= half_ulp * (1 + 1e-9) + 1e-12 * abs(p)


class LineMetrics:
    """Finds the objective in lines of text (the default ``name=value`` format or a regex).

    ``params`` are the trial's parameters: extra pairs that echo one of them are not metrics
    (see the module docs)."""

    def __init__(
        self,
        objective: str | None = None,
        regex: str | None = None,
        final_regex: str | None = None,
        step_keys: Sequence[str] = STEP_KEYS,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if not objective and not regex:
            raise ValueError("give an objective name or a regex with a (?P<value>...) group")
        self.objective = objective
        self.regex = re.compile(regex) if regex else None
        self.final_regex = re.compile(final_regex) if final_regex else None
        for rx in (self.regex, self.final_regex):
            if rx is not None and "value" not in rx.groupindex:
                raise ValueError(f"regex {rx.pattern!r} needs a named group (?P<value>...)")
        self.step_keys = tuple(k.lower() for k in step_keys)
        self.params = numeric_params(params)

    def _from_regex(self, rx: re.Pattern[str], line: str, final: bool) -> Iterator[Reading]:
        for m in rx.finditer(line):
            groups = m.groupdict()
            if self.objective and groups.get("name") not in (None, self.objective):
                continue
            value = _num(groups.get("value"))
            if value is not None:
                yield Reading(value, _step(groups.get("step")), final, {})

    def parse(self, line: str) -> list[Reading]:
        """The readings in one line (usually zero or one)."""
        if self.final_regex is not None:
            found = list(self._from_regex(self.final_regex, line, True))
            if found:
                return found
        if self.regex is not None:
            return list(self._from_regex(self.regex, line, False))
        tokens = [(m.group("name"), m.group("value")) for m in _PAIR.finditer(line)]
        pairs = [(k, float(t)) for k, t in tokens]
        step = next((_step(v) for k, v in pairs if k.lower() in self.step_keys), None)
        out: list[Reading] = []
        extra = {
            k: float(t)
            for k, t in tokens
            if k.lower() not in self.step_keys
            and math.isfinite(float(t))
            and not is_echo(k, t, self.params)
        }
        final_line = line.lstrip().lower().startswith("final")
        for name, v in pairs:
            if not math.isfinite(v):
                continue
            if name == self.objective:
                metrics = {k: x for k, x in extra.items() if k != name}
                out.append(Reading(v, step, final_line, metrics))
            elif name == f"final_{self.objective}":
                out.append(Reading(v, None, True, {}))
        return out


class FileMetrics:
    """Reads the objective from a JSON-lines or CSV file as it grows; keys that echo one of
    ``params`` (the trial's parameters) are not metrics."""

    def __init__(
        self,
        path: Path,
        objective: str,
        fmt: str | None = None,
        step_keys: Sequence[str] = STEP_KEYS,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.params = numeric_params(params)
        self.objective = objective
        self.fmt = fmt or ("csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl")
        self.step_keys = tuple(step_keys)
        self.offset = 0
        self._partial = b""
        self._header: list[str] | None = None
        self.stale = False
        try:
            st = path.stat()
        except OSError:
            return
        # A file left by an earlier run: only what is appended from now on counts.
        self.stale = True
        if self.fmt == "csv":
            with open(path, "rb") as f:
                first = f.readline()
            self._header = next(csv.reader([first.decode("utf-8", "replace")]), None)
        self.offset = st.st_size

    def _record(self, rec: dict[str, Any]) -> Reading | None:
        value = _num(rec.get(self.objective))
        if value is None:
            return None
        step = next((_step(rec[k]) for k in self.step_keys if k in rec), None)
        final = str(rec.get("final", "")).strip().lower() in ("1", "true", "yes")
        metrics: dict[str, float] = {}
        for k, v in rec.items():
            n = _num(v)
            if n is None or k in (self.objective, "final", *self.step_keys):
                continue
            if not is_echo(str(k), v if isinstance(v, str) else repr(n), self.params):
                metrics[str(k)] = n
        return Reading(value, step, final, metrics)

    def read(self) -> list[Reading]:
        """The readings in the complete lines added since the last call."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:  # rewritten from scratch
            self.offset, self._partial, self._header = 0, b"", None
        if size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        self.offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        out: list[Reading] = []
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            rec: Any
            if self.fmt == "csv":
                row = next(csv.reader(io.StringIO(line)), [])
                if self._header is None:
                    self._header = row
                    continue
                rec = dict(zip(self._header, row, strict=False))
            else:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
            if isinstance(rec, dict):
                r = self._record(rec)
                if r is not None:
                    out.append(r)
        return out


class _Reporter:
    """Sends readings through hyperloom.trials; remembers what is needed for the end."""

    def __init__(self) -> None:
        from hyperloom import trials

        self.trials = trials
        self.lock = threading.Lock()
        self.count = 0
        self.last: Reading | None = None
        self.final: Reading | None = None
        self.last_step: int | None = None

    def add(self, readings: list[Reading]) -> None:
        with self.lock:
            for r in readings:
                self.count += 1
                if r.final:
                    if self.final is None:
                        self.final = r
                        self.trials.report_final(r.value, **r.metrics)
                    continue
                if self.final is not None:
                    continue
                step = r.step
                if step is not None and self.last_step is not None and step <= self.last_step:
                    step = None
                if step is not None:
                    self.last_step = step
                elif self.last_step is not None:
                    self.last_step += 1
                    step = self.last_step
                # the runtime directly: a captured metric named "checkpoint" is just a metric
                self.trials._rt().report("metric", r.value, step, dict(r.metrics))
                self.last = r

    def finish(self) -> bool:
        """Reports the last value as final when nothing marked one. False: no value at all."""
        with self.lock:
            if self.final is None and self.last is not None:
                self.final = self.last
                self.trials.report_final(self.last.value, **self.last.metrics)
            return self.final is not None


def _trial_params(trials: Any) -> dict[str, Any]:
    """The parameters the script may echo; none outside an experiment (and no notice then), and
    none when they cannot be read: capturing metrics never fails for want of them."""
    if trials.trial_id() is None:
        return {}
    try:
        params = trials.get_params()
    except Exception:
        return {}
    return params if isinstance(params, dict) else {}


def _parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    if "--" not in argv:
        raise SystemExit("hyperloom.trials.wrap: give the command after '--'")
    cut = argv.index("--")
    command = argv[cut + 1 :]
    p = argparse.ArgumentParser(
        prog="python -m hyperloom.trials.wrap",
        description="Run a command and report the metrics it prints or writes.",
    )
    p.add_argument("--objective", help="the metric to read (name=value pairs, or a file key)")
    p.add_argument(
        "--regex", help="regex with (?P<value>...), optional (?P<step>...) and (?P<name>...)"
    )
    p.add_argument("--final-regex", help="regex with (?P<value>...) that marks the final value")
    p.add_argument("--file", help="a JSON-lines or CSV metrics file the command writes")
    p.add_argument("--format", choices=("jsonl", "csv"), help="the metrics file's format")
    p.add_argument("--step-key", help="the key/column that holds the step")
    p.add_argument("--optional", action="store_true", help="do not fail when no value is found")
    args = p.parse_args(argv[:cut])
    if not command:
        p.error("the command after '--' is empty")
    if args.file and not args.objective:
        p.error("--file needs --objective (the key or column to read)")
    if not args.file and not args.objective and not args.regex:
        p.error("give --objective NAME, --regex, or --file with --objective")
    return args, command


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the wrapped command; returns the exit code to pass on."""
    args, command = _parse_args(sys.argv[1:] if argv is None else argv)
    step_keys = (args.step_key,) if args.step_key else STEP_KEYS
    reporter = _Reporter()
    params = _trial_params(reporter.trials)
    lines: LineMetrics | None = None
    if not args.file:
        try:
            lines = LineMetrics(args.objective, args.regex, args.final_regex, step_keys, params)
        except (ValueError, re.error) as e:
            print(f"hyperloom.trials.wrap: {e}", file=sys.stderr)
            return 2
    files = (
        FileMetrics(Path(args.file), args.objective, args.format, step_keys, params)
        if args.file
        else None
    )
    tail: deque[str] = deque(maxlen=20)
    stopping = threading.Event()

    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as e:
        print(
            f"hyperloom.trials.wrap: cannot run {command[0]!r}: {e.strerror or e}", file=sys.stderr
        )
        return 127

    def forward(signum: int, _frame: Any) -> None:
        stopping.set()
        if child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)

    def pump() -> None:
        assert child.stdout is not None
        out = sys.stdout.buffer
        for raw in iter(child.stdout.readline, b""):
            try:
                out.write(raw)
                out.flush()
            except (BrokenPipeError, ValueError):
                pass
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text.strip():
                tail.append(text)
            if lines is not None:
                reporter.add(lines.parse(text))

    reader = threading.Thread(target=pump, name="wrap-stdout", daemon=True)
    reader.start()
    while child.poll() is None:
        if files is not None:
            reporter.add(files.read())
        if not stopping.is_set() and reporter.trials.should_stop():
            stopping.set()
            child.terminate()
        try:
            child.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass
    reader.join(timeout=5)
    if files is not None:
        reporter.add(files.read())
    code = child.returncode
    found = reporter.finish()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    if code == 0 and not found and not args.optional:
        what = f"{args.objective!r}" if args.objective else f"a match of {args.regex!r}"
        where = f" in {args.file}" if args.file else " in the output"
        # One stderr line, short enough to be kept whole as the trial's failure reason.
        last = " | ".join(tail)[-160:] or "(no output)"
        print(
            f"hyperloom.trials.wrap: no value of {what} found{where}; output ended: {last}",
            file=sys.stderr,
        )
        return EXIT_NO_OBJECTIVE
    return code


if __name__ == "__main__":
    sys.exit(main())
