"""The socket transport of the trial channel (manager side). Import it from `hyperloom.channel`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperloom.channel import (
    _READ_CHUNK,
    ChannelError,
    Message,
    _LineSplitter,
    _parse_lines,
    _preview,
)

__all__ = ["OnError", "OnMessage", "SocketServer", "token_digest"]

logger = logging.getLogger(__name__)

OnMessage = Callable[[Message], None]
OnError = Callable[[ChannelError], None]


def token_digest(token: str) -> str:
    """The SHA-256 of a trial's channel token, hex: what is stored instead of the token.

    The token itself lives only in the trial's environment (readable by its own user alone) and
    in the hello line; the store, logs and handles keep this digest, which a connection's token is
    compared against with `hmac.compare_digest`.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Registration:
    digest: bytes
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

    def register(
        self,
        trial_id: str,
        token: str | None,
        on_message: OnMessage,
        on_error: OnError,
        *,
        digest: str | None = None,
    ) -> None:
        """Accepts connections for ``trial_id`` that present ``token``.

        Args:
            trial_id: The trial.
            token: Its token; only its digest is kept. None when ``digest`` is given.
            on_message: Called with each accepted message.
            on_error: Called with each rejected line (and a wrong token).
            digest: `token_digest` of the token, instead of the token (a re-attached trial,
                whose token was never stored).
        """
        if digest is None:
            if token is None:
                raise ValueError("register() needs a token or its digest")
            digest = token_digest(token)
        self._trials[trial_id] = _Registration(digest.encode("ascii"), on_message, on_error)

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
        if not isinstance(token, str) or not hmac.compare_digest(
            token_digest(token).encode("ascii"), reg.digest
        ):
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
