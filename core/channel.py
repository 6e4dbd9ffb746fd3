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
_PRINT = 256  # bytes before the offset compared at each read, to see an in-place rewrite
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

    The file is meant to be appended to only. A trial that rewrites it is detected three ways:
    the file shrinks below the offset, the path now names another file (a new inode: written
    elsewhere and renamed over it, or deleted and created again), or the last bytes read (up to
    256 before the offset) changed (truncated and rewritten past the offset between two reads). Each gives one `ChannelError` saying so; the new contents are then read
    from the start, and the reports already delivered (metric steps up to the highest one seen,
    and the final report) are skipped instead of delivered twice.

    Args:
        path: The file.
        offset: Where to start (a previous ``offset``).
    """

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        self.path = Path(path)
        self._splitter = _LineSplitter(offset)
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._pos = offset
        self._max_step: int | None = None  # the highest metric step delivered
        self._final_seen = False
        self._replay: tuple[int | None, bool] | None = None  # what to skip after a rewrite
        self._print = b""  # the bytes just before the offset, as last read
        self.rewrites = 0
        """How many times the file was found truncated, replaced or rewritten."""

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
                self._open()
            except FileNotFoundError:
                return []
            except OSError as exc:
                return [(ChannelError(f"cannot open {self.path}: {exc}"), self.offset)]
        assert self._fd is not None
        out: list[tuple[Message | ChannelError, int]] = []
        try:
            replaced = self._replaced()
            if replaced:
                self._read_to(None, out)  # what the old file still holds comes first
                os.close(self._fd)
                self._fd = None
                try:
                    self._open()
                except FileNotFoundError:
                    return out
                self._rewound(f"{self.path} was replaced by another file (new inode)", out)
            assert self._fd is not None
            size = os.fstat(self._fd).st_size
            if size < self._pos:
                self._rewound(f"{self.path} shrank from {self._pos} to {size} bytes", out)
            elif size > self._pos and self._torn():
                self._rewound(
                    f"{self.path} was rewritten: the line ending at byte {self.offset} is gone",
                    out,
                )
            before = self.offset
            self._read_to(max_bytes, out)
            if self.offset != before or not self._print:
                self._fingerprint()
        except OSError as exc:
            out.append((ChannelError(f"cannot read {self.path}: {exc}"), self.offset))
        return out

    # internals -------------------------------------------------------------------------------

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(self._fd)
        self._ident = (st.st_dev, st.st_ino)

    def _replaced(self) -> bool:
        """Whether the path now names another file than the one open (a deleted path: no)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return self._ident is not None and (st.st_dev, st.st_ino) != self._ident

    def _torn(self) -> bool:
        """Whether the bytes just before the offset (the end of the last lines read) changed."""
        end = self.offset
        if end <= 0 or self._fd is None or not self._print:
            return False
        return os.pread(self._fd, len(self._print), end - len(self._print)) != self._print

    def _fingerprint(self) -> None:
        """Remembers the last bytes before the offset, for `_torn` to compare."""
        end = self.offset
        if self._fd is None or end <= 0:
            self._print = b""
            return
        n = min(_PRINT, end)
        self._print = os.pread(self._fd, n, end - n)

    def _rewound(self, what: str, out: list[tuple[Message | ChannelError, int]]) -> None:
        self.rewrites += 1
        skip = []
        if self._max_step is not None:
            skip.append(f"steps up to {self._max_step}")
        if self._final_seen:
            skip.append("the final report")
        also = f", skipping {' and '.join(skip)} (already received)" if skip else ""
        out.append((ChannelError(f"{what}; reading it again from the start{also}"), 0))
        self._replay = (self._max_step, self._final_seen)
        self._pos = 0
        self._splitter = _LineSplitter(0)
        self._print = b""

    def _read_to(
        self, max_bytes: int | None, out: list[tuple[Message | ChannelError, int]]
    ) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        end = size if max_bytes is None else min(size, self._pos + max(1, max_bytes))
        while end > self._pos:
            data = os.pread(self._fd, min(_READ_CHUNK, end - self._pos), self._pos)
            if not data:
                break
            self._pos += len(data)
            for item, off in _parse_lines(self._splitter.feed(data)):
                if isinstance(item, Message) and not self._fresh(item):
                    continue
                out.append((item, off))

    def _fresh(self, msg: Message) -> bool:
        """Records a message as delivered; False for one a rewrite repeats."""
        if self._replay is not None:
            max_step, final_seen = self._replay
            if msg.type == "final" and final_seen:
                return False
            if (
                msg.type == "metric"
                and msg.step is not None
                and max_step is not None
                and msg.step <= max_step
            ):
                return False
        if msg.type == "final":
            self._final_seen = True
        elif msg.step is not None and (self._max_step is None or msg.step > self._max_step):
            self._max_step = msg.step
        return True

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
