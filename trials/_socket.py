"""The trial side of the socket transport. Standard library only; imported only when used."""

from __future__ import annotations

import json
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
    ``on_stop`` for ``{"type":"stop"}``. `send` raises OSError once the connection is broken.
    """

    def __init__(
        self, address: str, token: str, trial_id: str, on_stop: Callable[[], None]
    ) -> None:
        self._address = address
        self._token = token
        self._trial_id = trial_id
        self._on_stop = on_stop
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._broken = False

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
        """Sends one whole line; raises OSError when the connection is broken."""
        sock = self._sock
        if sock is None or self._broken:
            raise ConnectionError("the channel socket is closed")
        with self._lock:
            sock.sendall(line)

    def close(self) -> None:
        """Closes the connection."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def forget(self) -> None:
        """In a forked child: drops this process's copy of the socket, leaving the parent's."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
