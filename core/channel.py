"""The manager side of the trial channel, protocol v1.

A trial sends JSON objects, one per line::

    {"v": 1, "type": "metric", "step": 3, "value": 0.91, "metrics": {...}, "t": 1700000000.0}
    {"v": 1, "type": "final", "value": 0.93, "metrics": {...}, "t": 1700000000.5}

over one of two transports:

* **file**: the trial appends whole lines to ``<trial_dir>/metrics.jsonl``; the manager reads
  them by byte offset with `FileTail`. The file is the durable record a restarted manager
  re-attaches from.
* **socket**: the trial connects to the manager's `SocketServer` (TCP on 127.0.0.1 or a unix
  socket), presents ``{"v":1,"type":"hello","trial_id":...,"token":...}``, waits for
  ``{"type":"welcome"}``, then sends messages. The manager may send ``{"type":"stop"}`` back.

Nothing a trial writes can crash the manager: every bad line becomes a `ChannelError` with a
reason, which the caller logs and records.

`SocketServer` lives in ``hyperloom._channel_socket`` and is imported from here on first use, so
readers of metrics files (``FileTail``) do not load asyncio.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hyperloom.errors import HyperloomError

if TYPE_CHECKING:
    from hyperloom._channel_socket import SocketServer

__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "ChannelError",
    "FileTail",
    "Message",
    "SocketServer",
    "parse_line",
]

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_LINE = 64 * 1024
"""The longest line (in bytes, without its newline) the channel accepts."""

_READ_CHUNK = 256 * 1024
_MESSAGE_TYPES = ("metric", "final")


class ChannelError(HyperloomError):
    """A line on the trial channel was rejected. ``reason`` says why, for logs and the store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelError) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


@dataclass(frozen=True)
class Message:
    """One accepted channel message.

    Attributes:
        type: ``"metric"`` (an intermediate report) or ``"final"``.
        value: The metric value, always a finite float.
        step: The step of an intermediate report (None for a final one, or when not given).
        metrics: Extra named metrics sent with the value.
        t: The trial's wall-clock time of the report (epoch seconds); the receive time if absent.
    """

    type: Literal["metric", "final"]
    value: float
    step: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _preview(raw: bytes) -> str:
    text = raw[:60].decode("utf-8", "replace")
    return repr(text + ("..." if len(raw) > 60 else ""))


def _finite(obj: dict[str, Any], key: str, *, required: bool) -> float | None:
    if key not in obj or (obj[key] is None and not required):
        if required:
            raise ChannelError(f"message has no {key!r}")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ChannelError(f"{key!r} must be a number, got {type(value).__name__} {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:
        raise ChannelError(f"{key!r} is too large for a float") from None
    if not math.isfinite(number):
        raise ChannelError(f"{key!r} is not finite")
    return number


def parse_line(line: bytes | str) -> Message:
    """Parses one channel line into a `Message`.

    Args:
        line: The raw line, with or without its trailing newline.

    Returns:
        The message.

    Raises:
        ChannelError: For a line over `MAX_LINE` bytes, bad UTF-8, non-JSON, NaN/inf, a value
            that is not a number, a bad step, an unknown protocol version or message type. No
            other exception escapes, whatever the input.
    """
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
    raw = raw.strip()
    if len(raw) > MAX_LINE:
        raise ChannelError(f"line of {len(raw)} bytes is over the {MAX_LINE // 1024} KiB limit")
    if not raw:
        raise ChannelError("empty line")
    try:
        text = raw.decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        raise ChannelError(f"not valid JSON ({str(exc)[:80]}): {_preview(raw)}") from None
    if not isinstance(obj, dict):
        raise ChannelError(f"a message must be a JSON object: {_preview(raw)}")
    version = obj.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ChannelError(f"unsupported protocol version {version!r:.20} (this manager speaks 1)")
    kind = obj.get("type")
    if kind not in _MESSAGE_TYPES:
        raise ChannelError(f"unknown message type {kind!r:.40}")
    value = _finite(obj, "value", required=True)
    assert value is not None
    step = obj.get("step")
    if kind == "final":
        step = None
    elif step is not None and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**63
    ):
        raise ChannelError(f"'step' must be a non-negative integer below 2**63, got {step!r:.40}")
    metrics = obj.get("metrics")
    if metrics is None:
        metrics = {}
    elif not isinstance(metrics, dict):
        raise ChannelError(f"'metrics' must be an object, got {type(metrics).__name__}")
    t = _finite(obj, "t", required=False)
    return Message(
        type=kind,
        value=value,
        step=step,
        metrics=metrics,
        t=time.time() if t is None else t,
    )


class _LineSplitter:
    """Cuts a byte stream into lines, keeping a partial last line and skipping oversize lines.

    Memory stays under about ``limit`` bytes whatever the stream holds: a line that outgrows the
    limit is dropped as it arrives and reported once, when its newline comes.
    """

    def __init__(self, start: int = 0, limit: int = MAX_LINE) -> None:
        self._limit = limit
        self._buf = bytearray()
        self._skipping = 0  # bytes of an oversize line dropped so far (0: not skipping)
        self._pos = start  # absolute stream position of the next byte fed

    @property
    def line_start(self) -> int:
        """Absolute position just after the last whole line consumed."""
        return self._pos - len(self._buf) - self._skipping

    def feed(self, data: bytes) -> Iterator[tuple[bytes | ChannelError, int]]:
        """Yields ``(line or error, absolute offset after that line)`` for each complete line."""
        base = self._pos
        self._pos += len(data)
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                rest = data[start:]
                if self._skipping:
                    self._skipping += len(rest)
                else:
                    self._buf += rest
                    if len(self._buf) > self._limit:
                        self._skipping = len(self._buf)
                        self._buf = bytearray()
                return
            end = base + nl + 1
            if self._skipping:
                size = self._skipping + nl - start
                self._skipping = 0
                yield ChannelError(self._oversize(size)), end
            else:
                if self._buf:
                    self._buf += data[start:nl]
                    piece = bytes(self._buf)
                    self._buf = bytearray()
                else:
                    piece = data[start:nl]
                if len(piece) > self._limit:
                    yield ChannelError(self._oversize(len(piece))), end
                elif piece.strip():
                    yield piece, end
            start = nl + 1

    def _oversize(self, size: int) -> str:
        return f"line of {size} bytes is over the {self._limit // 1024} KiB limit; skipped"


def _parse_lines(
    items: Iterator[tuple[bytes | ChannelError, int]],
) -> Iterator[tuple[Message | ChannelError, int]]:
    for item, end in items:
        if isinstance(item, ChannelError):
            yield item, end
            continue
        try:
            yield parse_line(item), end
        except ChannelError as exc:
            yield exc, end


class FileTail:
    """Reads new whole lines from a growing file (``metrics.jsonl``), by byte offset.

    Only new bytes are read; a partial last line waits for its newline; oversize lines are skipped
    without being buffered. The file may not exist yet. ``offset`` is the position just after the
    last whole line consumed, which is what a restarted manager passes back to resume.

    Args:
        path: The file.
        offset: Where to start (a previous ``offset``).
    """

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        self.path = Path(path)
        self._splitter = _LineSplitter(offset)
        self._fd: int | None = None
        self._pos = offset

    @property
    def offset(self) -> int:
        """The byte offset after the last whole line consumed."""
        return self._splitter.line_start

    def read(self) -> list[Message | ChannelError]:
        """Reads what was appended since the last call: messages and rejected lines, in order."""
        return [item for item, _ in self.read_with_offsets()]

    def read_with_offsets(
        self, max_bytes: int | None = None
    ) -> list[tuple[Message | ChannelError, int]]:
        """Like `read`, with the byte offset just after each line (to persist with it).

        Args:
            max_bytes: Read at most about this many new bytes now (the rest waits for the next
                call), so one chatty trial cannot stall a loop that polls many; None: all.
        """
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return []
            except OSError as exc:
                return [(ChannelError(f"cannot open {self.path}: {exc}"), self.offset)]
        out: list[tuple[Message | ChannelError, int]] = []
        try:
            size = os.fstat(self._fd).st_size
            if size < self._pos:  # truncated or rewritten: say so and read it from the start
                reason = f"{self.path} shrank to {size} bytes; reading it again from the start"
                out.append((ChannelError(reason), 0))
                self._pos = 0
                self._splitter = _LineSplitter(0)
            end = size if max_bytes is None else min(size, self._pos + max(1, max_bytes))
            while end > self._pos:
                data = os.pread(self._fd, min(_READ_CHUNK, end - self._pos), self._pos)
                if not data:
                    break
                self._pos += len(data)
                out.extend(_parse_lines(self._splitter.feed(data)))
        except OSError as exc:
            out.append((ChannelError(f"cannot read {self.path}: {exc}"), self.offset))
        return out

    def close(self) -> None:
        """Closes the file descriptor (a later `read` opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def __getattr__(name: str) -> Any:
    if name == "SocketServer":
        from hyperloom._channel_socket import SocketServer

        return SocketServer
    raise AttributeError(f"module 'hyperloom.channel' has no attribute {name!r}")
