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
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperloom.errors import HyperloomError

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
    elif step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise ChannelError(f"'step' must be a non-negative integer, got {step!r:.40}")
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


OnMessage = Callable[[Message], None]
OnError = Callable[[ChannelError], None]


@dataclass
class _Registration:
    token: bytes
    on_message: OnMessage
    on_error: OnError
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    stop: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


_WELCOME = b'{"v":1,"type":"welcome"}\n'
_STOP = b'{"v":1,"type":"stop"}\n'
_UNIX_PATH_MAX = 100


class SocketServer:
    """The socket transport: one asyncio server for all trials of an experiment.

    Call order: ``await start()``, then ``register`` each trial before launching it (its address
    and token go into the trial's environment), ``send_stop`` to ask it to stop, ``await
    drain(trial_id)`` after it exits so every message it sent is delivered, ``unregister``, and
    finally ``await close()``. Callbacks run on the loop's thread; an exception in one is logged.

    Args:
        hello_timeout: Seconds a new connection has to present its hello line.
        on_reject: Called with a reason for a connection that is dropped before it is tied to a
            registered trial (unknown trial, bad hello). A wrong token for a registered trial goes
            to that trial's ``on_error`` instead.
    """

    def __init__(
        self,
        *,
        hello_timeout: float = 10.0,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self._hello_timeout = hello_timeout
        self._on_reject = on_reject
        self._server: asyncio.AbstractServer | None = None
        self._trials: dict[str, _Registration] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._unix_path: Path | None = None
        self._tmpdir: str | None = None
        self.address = ""

    async def start(
        self, kind: Literal["tcp", "unix"] = "tcp", path: str | os.PathLike[str] | None = None
    ) -> str:
        """Starts listening and returns `address`.

        Args:
            kind: ``"tcp"`` (127.0.0.1, a free port) or ``"unix"``.
            path: The unix socket's path (``kind="unix"``); a too-long path is replaced by one in
                a private temporary directory.
        """
        if kind == "tcp":
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            port = self._server.sockets[0].getsockname()[1]
            self.address = f"tcp://127.0.0.1:{port}"
        elif kind == "unix":
            target = Path(path) if path is not None else None
            if target is None or len(os.fsencode(target)) > _UNIX_PATH_MAX:
                self._tmpdir = tempfile.mkdtemp(prefix="hyperloom-")
                target = Path(self._tmpdir) / "channel.sock"
            with contextlib.suppress(FileNotFoundError):
                target.unlink()  # left by a manager that crashed
            self._server = await asyncio.start_unix_server(self._handle, str(target))
            os.chmod(target, 0o600)
            self._unix_path = target
            self.address = f"unix:{target}"
        else:
            raise ValueError(f"unknown socket kind {kind!r}: use 'tcp' or 'unix'")
        logger.debug("channel socket listening on %s", self.address)
        return self.address

    def register(self, trial_id: str, token: str, on_message: OnMessage, on_error: OnError) -> None:
        """Accepts connections for ``trial_id`` that present ``token``."""
        self._trials[trial_id] = _Registration(token.encode(), on_message, on_error)

    def unregister(self, trial_id: str) -> None:
        """Forgets a trial and closes its connections."""
        reg = self._trials.pop(trial_id, None)
        if reg is not None:
            for writer in list(reg.writers):
                writer.close()

    def connected(self, trial_id: str) -> bool:
        """Whether the trial has a live connection."""
        reg = self._trials.get(trial_id)
        return bool(reg and reg.writers)

    def send_stop(self, trial_id: str) -> bool:
        """Sends ``{"type":"stop"}`` to the trial (now, and to any later connection of it).

        Returns:
            True when a live connection was written to.
        """
        reg = self._trials.get(trial_id)
        if reg is None:
            return False
        reg.stop = True
        sent = False
        for writer in list(reg.writers):
            if not writer.is_closing():
                writer.write(_STOP)
                sent = True
        return sent

    async def drain(self, trial_id: str, timeout: float = 1.0) -> bool:
        """Waits until every connection of the trial is closed (after its process exited).

        Returns:
            True when all are closed, False on timeout (then they are closed by force).
        """
        reg = self._trials.get(trial_id)
        if reg is None:
            return True
        try:
            await asyncio.wait_for(reg.idle.wait(), timeout)
            return True
        except TimeoutError:
            for writer in list(reg.writers):
                writer.close()
            return False

    async def close(self) -> None:
        """Stops listening and closes every connection."""
        if self._server is not None:
            self._server.close()
            for reg in self._trials.values():
                for writer in list(reg.writers):
                    writer.close()
            for task in list(self._handlers):
                task.cancel()
            if self._handlers:
                await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._unix_path is not None:
            with contextlib.suppress(OSError):
                self._unix_path.unlink()
            self._unix_path = None
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)
            self._tmpdir = None

    def _reject(self, reason: str) -> None:
        logger.warning("channel socket: %s", reason)
        if self._on_reject is not None:
            _call(self._on_reject, reason)

    async def _read_hello(
        self, reader: asyncio.StreamReader, splitter: _LineSplitter
    ) -> tuple[bytes | ChannelError | None, list[tuple[bytes | ChannelError, int]]]:
        """Reads until the first line; returns it and any lines that came after it."""
        lines: list[tuple[bytes | ChannelError, int]] = []
        while not lines:
            data = await reader.read(_READ_CHUNK)
            if not data:
                return None, []
            lines.extend(splitter.feed(data))
        return lines[0][0], lines[1:]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        reg: _Registration | None = None
        try:
            splitter = _LineSplitter()
            try:
                hello, rest = await asyncio.wait_for(
                    self._read_hello(reader, splitter), self._hello_timeout
                )
            except TimeoutError:
                self._reject(f"a connection sent no hello within {self._hello_timeout:g} s")
                return
            reg = self._accept(hello)
            if reg is None:
                return
            writer.write(_WELCOME + (_STOP if reg.stop else b""))
            reg.writers.add(writer)
            reg.idle.clear()
            for msg, _ in _parse_lines(iter(rest)):
                _deliver(reg, msg)
            while True:
                data = await reader.read(_READ_CHUNK)
                if not data:
                    break
                for msg, _ in _parse_lines(splitter.feed(data)):
                    _deliver(reg, msg)
        except (ConnectionError, OSError) as exc:
            logger.debug("channel socket connection broke: %s", exc)
        finally:
            if reg is not None:
                reg.writers.discard(writer)
                if not reg.writers:
                    reg.idle.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    def _accept(self, hello: bytes | ChannelError | None) -> _Registration | None:
        if hello is None:
            self._reject("a connection closed before its hello")
            return None
        if isinstance(hello, ChannelError):
            self._reject(f"bad hello: {hello.reason}")
            return None
        try:
            obj = json.loads(hello)
        except (ValueError, RecursionError):
            self._reject(f"bad hello (not JSON): {_preview(hello)}")
            return None
        if not isinstance(obj, dict) or obj.get("type") != "hello":
            self._reject(f"the first line must be a hello: {_preview(hello)}")
            return None
        trial_id, token = obj.get("trial_id"), obj.get("token")
        reg = self._trials.get(trial_id) if isinstance(trial_id, str) else None
        if reg is None:
            self._reject(f"hello from unknown trial {trial_id!r:.40}; dropped")
            return None
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), reg.token):
            reason = f"socket connection for trial {trial_id} presented a wrong token; dropped"
            logger.warning("channel socket: %s", reason)
            _call(reg.on_error, ChannelError(reason))
            return None
        return reg


def _deliver(reg: _Registration, msg: Message | ChannelError) -> None:
    if isinstance(msg, ChannelError):
        _call(reg.on_error, msg)
    else:
        _call(reg.on_message, msg)


def _call(callback: Callable[[Any], None], arg: Any) -> None:
    try:
        callback(arg)
    except Exception:
        logger.exception("channel callback %r failed", callback)
