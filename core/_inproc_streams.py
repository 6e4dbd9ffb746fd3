"""What an in-process trial prints also goes to its ``stdout.log`` / ``stderr.log``.

While an in-process executor is open, ``sys.stdout`` and ``sys.stderr`` are wrapped by a tee:
every write still goes to the stream it went to before (the console, a notebook cell, pytest's
capture), and, when it comes from a trial function (a context variable set around the call, so
threads and asyncio tasks each see their own trial), to that trial's log file too. The wrap is
undone when the last open executor closes, if nobody replaced the streams meanwhile.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["tee_installed", "trial_output"]

_TARGET: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar(
    "hyperloom_trial_output", default=None
)
_LOCK = threading.Lock()
_USERS = 0
_SAVED: tuple[Any, Any] | None = None


class _Sink:
    """One trial's two log files, opened on the first write (most functions print nothing)."""

    def __init__(self, trial_dir: Path) -> None:
        self._dir = trial_dir
        self._files: list[IO[str] | None] = [None, None]
        self._broken = False

    def write(self, which: int, text: str) -> None:
        f = self._files[which]
        if f is None:
            if self._broken:
                return
            try:
                name = "stdout.log" if which == 0 else "stderr.log"
                f = self._files[which] = open(self._dir / name, "a", encoding="utf-8")  # noqa: SIM115
            except OSError:
                self._broken = True  # no logs then; the console still gets everything
                return
        f.write(text)

    def flush(self) -> None:
        for f in self._files:
            if f is not None:
                f.flush()

    def close(self) -> None:
        for f in self._files:
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


class _Tee:
    """A text stream that writes through to ``base`` and to the current trial's file."""

    def __init__(self, base: Any, which: int) -> None:
        self._base = base
        self._which = which

    def write(self, text: str) -> int:
        n: int = self._base.write(text)
        sink = _TARGET.get()
        if sink is not None:
            with contextlib.suppress(OSError, ValueError):
                sink.write(self._which, text)
        return n

    def flush(self) -> None:
        self._base.flush()
        sink = _TARGET.get()
        if sink is not None:
            with contextlib.suppress(OSError, ValueError):
                sink.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer...
        return getattr(self._base, name)


@contextlib.contextmanager
def tee_installed() -> Iterator[None]:
    """Wraps sys.stdout/sys.stderr for the duration (re-entrant across executors)."""
    global _USERS, _SAVED
    with _LOCK:
        _USERS += 1
        if _USERS == 1:
            _SAVED = (sys.stdout, sys.stderr)
            sys.stdout = _Tee(sys.stdout, 0)
            sys.stderr = _Tee(sys.stderr, 1)
    try:
        yield
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0 and _SAVED is not None:
                if isinstance(sys.stdout, _Tee):
                    sys.stdout = _SAVED[0]
                if isinstance(sys.stderr, _Tee):
                    sys.stderr = _SAVED[1]
                _SAVED = None


@contextlib.contextmanager
def trial_output(trial_dir: Path) -> Iterator[None]:
    """Sends what this thread (or task) prints to the trial's logs too, while inside."""
    sink = _Sink(trial_dir)
    token = _TARGET.set(sink)
    try:
        yield
    finally:
        _TARGET.reset(token)
        sink.close()
