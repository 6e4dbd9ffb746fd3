"""The trial side of the socket transport. Standard library only; imported only when used.

Every line sent is first appended to the trial's ``metrics.jsonl`` (the journal), then sent on
the socket. A manager killed with messages in flight loses nothing: the restarted one reads the
journal, and the manager side drops the copy of a message that arrived both ways.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable

__all__ = ["SocketClient"]

_CONNECT_TIMEOUT = 5.0
_IO_TIMEOUT = 10.0


def _open(address: str) -> socket.socket:
    if address.startswith("tcp://"):
        host, _, port = address[len("tcp://") :].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad tcp channel address {address!r}; expected tcp://HOST:PORT")
        sock = socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_CONNECT_TIMEOUT)
        try:
            sock.connect(address[len("unix:") :])
        except OSError:
            sock.close()
            raise
        return sock
    raise ValueError(f"unknown channel {address!r}; expected file, tcp://HOST:PORT or unix:PATH")


class SocketClient:
    """One connection to the manager's channel socket.

    `connect` sends the hello line and waits for the welcome (a wrong token gets the connection
    closed instead, which raises here). A daemon thread then reads what the manager sends and calls
    ``on_stop`` for ``{"type":"stop"}``.

    `send` appends the line to the journal (``journal``; by default ``metrics.jsonl`` in
    ``$HYPERLOOM_TRIAL_DIR``) with one ``O_APPEND`` write, then sends it. Once a line is in the
    journal it is delivered whatever happens to the socket, so `send` then returns quietly even
    when the connection is broken; it raises OSError only when the line reached neither.

    Args:
        address: ``tcp://HOST:PORT`` or ``unix:PATH``.
        token: The trial's token (``HYPERLOOM_TOKEN``).
        trial_id: The trial's id.
        on_stop: Called (on the reader thread) when the manager asks the trial to stop.
        journal: The file every line is appended to first; ``""`` for none.
    """

    def __init__(
        self,
        address: str,
        token: str,
        trial_id: str,
        on_stop: Callable[[], None],
        *,
        journal: str | None = None,
    ) -> None:
        self._address = address
        self._token = token
        self._trial_id = trial_id
        self._on_stop = on_stop
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._broken = False
        if journal is None:
            trial_dir = os.environ.get("HYPERLOOM_TRIAL_DIR")
            journal = os.path.join(trial_dir, "metrics.jsonl") if trial_dir else ""
        self._journal = journal
        self._journal_fd: int | None = None
        self._journal_failed = False

    def connect(self) -> None:
        """Connects, says hello, waits for the welcome; raises OSError or ValueError on failure."""
        sock = _open(self._address)
        try:
            hello = {"v": 1, "type": "hello", "trial_id": self._trial_id, "token": self._token}
            sock.sendall((json.dumps(hello, separators=(",", ":")) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("the manager closed the connection (wrong token?)")
                buf += chunk
                if len(buf) > 65536:
                    raise ConnectionError("the manager sent no welcome line")
            first, _, rest = buf.partition(b"\n")
            reply = json.loads(first)
            if not isinstance(reply, dict) or reply.get("type") != "welcome":
                raise ConnectionError(f"unexpected first line from the manager: {first[:60]!r}")
        except BaseException:
            sock.close()
            raise
        sock.settimeout(_IO_TIMEOUT)
        self._sock = sock
        self._handle(rest)
        reader = threading.Thread(
            target=self._read_loop, args=(sock, rest), name="hyperloom-channel", daemon=True
        )
        reader.start()

    def _handle(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                kind = json.loads(line).get("type")
            except (ValueError, AttributeError):
                continue
            if kind == "stop":
                self._on_stop()

    def _read_loop(self, sock: socket.socket, rest: bytes) -> None:
        buf = rest.rpartition(b"\n")[2]
        while True:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                whole, _, buf = buf.rpartition(b"\n")
                self._handle(whole)
            if len(buf) > 65536:
                buf = b""
        self._broken = True

    def send(self, line: bytes) -> None:
        """Journals one whole line, then sends it; raises OSError when it reached neither."""
        with self._lock:
            journaled = self._append(line)
            sock = self._sock
            try:
                if sock is None or self._broken:
                    raise ConnectionError("the channel socket is closed")
                sock.sendall(line)
            except OSError:
                self._broken = True
                if not journaled:
                    raise

    def _append(self, line: bytes) -> bool:
        """Appends the line to the journal with one write; False when there is none or it failed
        (the socket alone then carries the line)."""
        if not self._journal or self._journal_failed:
            return False
        try:
            if self._journal_fd is None:
                self._journal_fd = os.open(
                    self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
                )
            view = memoryview(line)
            while view:
                view = view[os.write(self._journal_fd, view) :]
        except OSError:
            self._journal_failed = True  # disk full, directory gone: the socket still works
            return False
        return True

    def close(self) -> None:
        """Closes the connection and the journal."""
        self._close_journal()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def forget(self) -> None:
        """In a forked child: drops this process's copy of the socket, leaving the parent's."""
        self._close_journal()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _close_journal(self) -> None:
        fd, self._journal_fd = self._journal_fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
