"""Shared CLI helpers: consoles and JSON output.

Output is never worth a run. When whoever reads the CLI's output goes away (``hyperloom run
cfg.yml | head -2``, a closed terminal, a full disk behind a redirect), writing to stdout or
stderr fails with ``BrokenPipeError``, ``EIO`` or ``ENOSPC``. The consoles here then stop printing
and point the file descriptor at ``/dev/null`` (so the interpreter's last flush cannot fail
either); the experiment goes on and ends as it would have, its record in the store unchanged.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import sys
from typing import Any, TextIO

import typer
from rich.console import Console

__all__ = [
    "HelpfulCommand",
    "HelpfulGroup",
    "OutputConsole",
    "console",
    "err_console",
    "new_app",
    "plural",
    "print_json",
]

log = logging.getLogger("hyperloom.cli")


def _silence_fd(stream: Any) -> None:
    """Points ``stream``'s file descriptor at /dev/null, when it has one."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def _output_lost(stream: Any, error: BaseException | None, what: str) -> None:
    _silence_fd(stream)
    log.warning(
        "the reader of %s went away (%s); the run goes on without printing there",
        what,
        error if error is not None else "broken pipe",
    )


class OutputConsole(Console):
    """A rich console whose write errors stop its output instead of raising.

    Rich's own answer to a broken pipe is ``SystemExit(1)`` (and it silences stdout even for a
    stderr console): inside a running experiment that would end the run FAILED.
    """

    def _lost(self, error: BaseException | None) -> None:
        if self.quiet:
            return
        self.quiet = True
        with contextlib.suppress(Exception):
            del self._buffer[:]
        _output_lost(self.file, error, "stderr" if self.stderr else "stdout")

    def on_broken_pipe(self) -> None:
        self._lost(None)

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except OSError as e:  # EIO (terminal gone), ENOSPC, EPIPE from a flush, ...
            self._lost(e)


console = OutputConsole(highlight=False)
err_console = OutputConsole(stderr=True, highlight=False)


def safe_write(text: str, stream: TextIO | None = None) -> bool:
    """Writes and flushes ``text`` to ``stream`` (stdout by default). Returns False, after pointing
    the stream at /dev/null, when the reader is gone."""
    out = stream if stream is not None else sys.stdout
    try:
        out.write(text)
        out.flush()
    except OSError as e:
        _output_lost(out, e, "stdout" if stream is None else "the output")
        return False
    return True


def print_json(data: Any) -> None:
    """Writes ``data`` as JSON to stdout (no rich markup, so it can be piped)."""
    safe_write(json.dumps(data, indent=2, default=str) + "\n")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``plural(1, "trial")`` is "1 trial", ``plural(2, "trial")`` "2 trials"; ``many`` gives an
    irregular plural (``plural(2, "process tree", "process trees")``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _quiet_flags(params: list[Any]) -> list[Any]:
    """Flags take no value, so their help shows no type: recent Typer versions print ``<bool>``
    for them unless the metavar is set (to nothing)."""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", "") is None:
            p.metavar = ""
    return params


def reflow(text: str | None) -> str | None:
    """A docstring's paragraphs as single lines, for ``--help``: Typer keeps a paragraph's line
    breaks, so a docstring wrapped at 100 columns printed as ragged half lines in 80. Paragraphs
    with an indented or list line (examples, tables) keep theirs."""
    if not text:
        return text
    out = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines = para.split("\n")
        keep = any(ln.startswith((" ", "- ", "* ", "\b", "|")) for ln in lines)
        out.append(para if keep else " ".join(ln.strip() for ln in lines))
    return "\n\n".join(out)


class HelpfulCommand(typer.core.TyperCommand):
    """A command whose help shows no ``<bool>`` type on flags, and reads as paragraphs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _quiet_flags(list(super().get_params(ctx)))


class HelpfulGroup(typer.core.TyperGroup):
    """A command group whose help shows no ``<bool>`` type on flags, and reads as paragraphs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _quiet_flags(list(super().get_params(ctx)))


class _App(typer.Typer):
    """A Typer app whose commands are :class:`HelpfulCommand` unless told otherwise."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", HelpfulCommand)
        return super().command(*args, **kwargs)


def new_app(**kwargs: Any) -> typer.Typer:
    """A Typer app (the root or a command group) with hyperloom's help conventions."""
    kwargs.setdefault("cls", HelpfulGroup)
    kwargs.setdefault("add_completion", False)
    return _App(**kwargs)
