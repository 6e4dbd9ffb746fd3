"""The manager side of the trial channel: parse_line, FileTail, SocketServer (real sockets)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest
from hyperloom.channel import MAX_LINE, ChannelError, FileTail, Message, SocketServer, parse_line
from hypothesis import given, settings
from hypothesis import strategies as st

# parse_line ---------------------------------------------------------------------------------


def test_parse_metric_and_final() -> None:
    m = parse_line(b'{"v":1,"type":"metric","step":3,"value":0.91,"metrics":{"a":1},"t":5.0}\n')
    assert m == Message(type="metric", value=0.91, step=3, metrics={"a": 1}, t=5.0)
    f = parse_line('{"type":"final","value":2,"step":9}')
    assert f.type == "final" and f.value == 2.0 and isinstance(f.value, float)
    assert f.step is None and f.metrics == {} and f.t > 0


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"type":"metric","value":NaN}', "not valid JSON"),
        (b'{"type":"metric","value":Infinity}', "not valid JSON"),
        (b'{"type":"metric","value":1e999}', "not valid JSON"),
        (b'{"type":"metric","value":"0.5"}', "must be a number"),
        (b'{"type":"metric","value":true}', "must be a number"),
        (b'{"type":"metric","value":null}', "must be a number"),
        (b'{"type":"metric"}', "no 'value'"),
        (b'{"type":"metric","value":1,"step":-1}', "non-negative integer"),
        (b'{"type":"metric","value":1,"step":1.5}', "non-negative integer"),
        (b'{"type":"metric","value":1,"step":9223372036854775808}', "below 2**63"),
        (b'{"type":"metric","value":1,"metrics":[1]}', "must be an object"),
        (b'{"type":"metric","value":1,"t":"now"}', "'t' must be a number"),
        (b'{"type":"bogus","value":1}', "unknown message type"),
        (b'{"type":"hello","value":1}', "unknown message type"),
        (b'{"v":2,"type":"metric","value":1}', "protocol version"),
        (b"[1,2,3]", "JSON object"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"   ", "empty line"),
        (b"[" * 50_000, "not valid JSON"),
        (b'{"type":"metric","value":' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_parse_rejects_with_reason(line: bytes, fragment: str) -> None:
    with pytest.raises(ChannelError) as info:
        parse_line(line)
    assert fragment in info.value.reason


def test_parse_rejects_oversize_line() -> None:
    line = b'{"type":"metric","value":1,"metrics":{"x":"' + b"a" * MAX_LINE + b'"}}'
    with pytest.raises(ChannelError, match="over the 64 KiB limit"):
        parse_line(line)


def test_huge_int_value_is_rejected() -> None:
    with pytest.raises(ChannelError, match="too large"):
        parse_line(b'{"type":"final","value":' + b"9" * 400 + b"}")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_line_only_raises_channel_error_on_bytes(data: bytes) -> None:
    try:
        msg = parse_line(data)
    except ChannelError as exc:
        assert exc.reason
    else:
        assert msg.type in ("metric", "final")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "type", "value", "step", "metrics", "t", "x"]),
        _json | st.sampled_from(["metric", "final"]),
    )
)
def test_parse_line_only_raises_channel_error_on_objects(obj: dict[str, object]) -> None:
    line = json.dumps(obj).encode()  # may hold NaN / Infinity: json.dumps allows them
    try:
        msg = parse_line(line)
    except ChannelError:
        return
    assert msg.type in ("metric", "final")
    assert isinstance(msg.value, float) and msg.value == msg.value  # finite, not NaN
    assert msg.step is None or (isinstance(msg.step, int) and msg.step >= 0)


# FileTail -----------------------------------------------------------------------------------


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_tail_reads_only_new_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = FileTail(path)
    assert tail.read() == []  # not there yet
    line1 = b'{"type":"metric","step":0,"value":1}\n'
    _append(path, line1 + b'{"type":"metric","st')
    got = tail.read()
    assert [m.value for m in got if isinstance(m, Message)] == [1.0]
    assert tail.offset == len(line1)
    assert tail.read() == []
    _append(path, b'ep":1,"value":2}\n')
    pairs = tail.read_with_offsets()
    assert len(pairs) == 1 and isinstance(pairs[0][0], Message) and pairs[0][0].step == 1
    assert pairs[0][1] == tail.offset == path.stat().st_size
    tail.close()


def test_tail_skips_garbage_and_10mb_line_without_crashing(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = FileTail(path)
    _append(path, b"garbage\n" + b'{"type":"metric","value":NaN}\n')
    # a 10 MB line, written in pieces while the manager keeps reading
    _append(path, b'{"type":"metric","value":1,"pad":"')
    tail.read()
    for _ in range(10):
        _append(path, b"x" * (1024 * 1024))
        assert tail.read() == []
        assert len(tail._splitter._buf) <= MAX_LINE  # never buffered
    _append(path, b'"}\n{"type":"final","value":3}\n{"type":"weird","value":1}\n')
    got = tail.read()
    errors = [g.reason for g in got if isinstance(g, ChannelError)]
    assert any("over the 64 KiB limit" in e for e in errors)
    assert any("unknown message type" in e for e in errors)
    finals = [g for g in got if isinstance(g, Message)]
    assert [f.value for f in finals] == [3.0]
    assert tail.offset == path.stat().st_size


def test_tail_reads_in_bounded_slices(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    line = b'{"type":"metric","value":1}\n'
    path.write_bytes(line * 1000)
    tail = FileTail(path)
    first = tail.read_with_offsets(max_bytes=10 * len(line) + 5)
    assert len(first) == 10 and tail.offset == 10 * len(line)
    rest = tail.read_with_offsets()
    assert len(rest) == 990 and tail.offset == path.stat().st_size


def test_tail_resumes_from_offset(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [
        json.dumps({"type": "metric", "step": i, "value": i}).encode() + b"\n" for i in range(5)
    ]
    path.write_bytes(b"".join(lines))
    first = FileTail(path)
    got = first.read_with_offsets()
    offset_after_two = got[1][1]
    first.close()
    with FileTail(path, offset_after_two) as second:
        steps = [m.step for m in second.read() if isinstance(m, Message)]
    assert steps == [2, 3, 4]


def test_tail_reports_truncation(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"type":"metric","value":1}\n' * 3)
    tail = FileTail(path)
    assert len(tail.read()) == 3
    path.write_bytes(b'{"type":"metric","value":7}\n')
    got = tail.read()
    assert isinstance(got[0], ChannelError) and "shrank" in got[0].reason
    assert [m.value for m in got if isinstance(m, Message)] == [7.0]


# SocketServer -------------------------------------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.errors: list[str] = []
        self.rejects: list[str] = []


async def _client(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if address.startswith("tcp://"):
        host, _, port = address[6:].rpartition(":")
        return await asyncio.open_connection(host, int(port), limit=2**20)
    return await asyncio.open_unix_connection(address[5:])


async def _wait_for(cond: object, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_socket_roundtrip_stop_and_drain(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        sink = _Sink()
        server = SocketServer(on_reject=sink.rejects.append)
        address = await server.start(kind, tmp_path / "ch.sock")  # type: ignore[arg-type]
        server.register(
            "t1", "secret", sink.messages.append, lambda e: sink.errors.append(e.reason)
        )
        reader, writer = await _client(address)
        writer.write(b'{"v":1,"type":"hello","trial_id":"t1","token":"secret"}\n')
        assert json.loads(await reader.readline())["type"] == "welcome"
        writer.write(b'{"type":"metric","step":0,"value":0.5}\nnonsense\n{"type":"final",')
        writer.write(b'"value":0.7}\n')
        await writer.drain()
        await _wait_for(lambda: len(sink.messages) == 2 and sink.errors)
        assert [m.value for m in sink.messages] == [0.5, 0.7]
        assert "not valid JSON" in sink.errors[0]
        assert server.connected("t1")
        assert server.send_stop("t1")
        assert json.loads(await reader.readline())["type"] == "stop"
        assert not await server.drain("t1", 0.1)  # still connected: forced closed
        assert await reader.read() == b""
        await server.close()
        assert sink.rejects == []

    asyncio.run(main())


def test_socket_wrong_token_and_unknown_trial_are_dropped() -> None:
    async def main() -> None:
        sink = _Sink()
        server = SocketServer(on_reject=sink.rejects.append)
        address = await server.start("tcp")
        server.register(
            "t1", "secret", sink.messages.append, lambda e: sink.errors.append(e.reason)
        )
        reader, writer = await _client(address)
        writer.write(b'{"v":1,"type":"hello","trial_id":"t1","token":"guess"}\n')
        writer.write(b'{"type":"final","value":1}\n')
        await writer.drain()
        assert await reader.read() == b""  # dropped, no welcome
        assert sink.messages == []
        assert any("wrong token" in e for e in sink.errors)

        reader, writer = await _client(address)
        writer.write(b'{"v":1,"type":"hello","trial_id":"nobody","token":"secret"}\n')
        await writer.drain()
        assert await reader.read() == b""
        reader, writer = await _client(address)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""
        await _wait_for(lambda: len(sink.rejects) == 2)
        assert "unknown trial" in sink.rejects[0]
        assert "hello" in sink.rejects[1]
        await server.close()

    asyncio.run(main())


def test_socket_10mb_line_is_skipped_with_bounded_memory() -> None:
    async def main() -> None:
        sink = _Sink()
        server = SocketServer()
        address = await server.start("tcp")
        server.register("t1", "k", sink.messages.append, lambda e: sink.errors.append(e.reason))
        reader, writer = await _client(address)
        writer.write(b'{"v":1,"type":"hello","trial_id":"t1","token":"k"}\n')
        await reader.readline()
        writer.write(b'{"type":"metric","value":1,"pad":"')
        for _ in range(10):
            writer.write(b"y" * (1024 * 1024))
            await writer.drain()
        writer.write(b'"}\n{"type":"final","value":2}\n')
        await writer.drain()
        await _wait_for(lambda: sink.messages)
        assert [m.value for m in sink.messages] == [2.0]
        assert len(sink.errors) == 1 and "over the 64 KiB limit" in sink.errors[0]
        writer.close()
        assert await server.drain("t1", 2.0)
        await server.close()

    asyncio.run(main())


def test_socket_stop_before_connect_is_delivered_on_hello() -> None:
    async def main() -> None:
        server = SocketServer()
        address = await server.start("tcp")
        server.register("t1", "k", lambda m: None, lambda e: None)
        assert not server.send_stop("t1")  # nobody connected yet
        reader, writer = await _client(address)
        writer.write(b'{"v":1,"type":"hello","trial_id":"t1","token":"k"}\n')
        assert json.loads(await reader.readline())["type"] == "welcome"
        assert json.loads(await reader.readline())["type"] == "stop"
        writer.close()
        await server.close()

    asyncio.run(main())


def test_unix_socket_long_path_falls_back_to_short_one(tmp_path: Path) -> None:
    async def main() -> None:
        deep = tmp_path / ("d" * 120)
        deep.mkdir()
        server = SocketServer()
        address = await server.start("unix", deep / "channel.sock")
        assert address.startswith("unix:") and len(address) < 110
        path = address[5:]
        assert os.stat(path).st_mode & 0o777 == 0o600
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        sock.close()
        await server.close()
        assert not os.path.exists(path)

    asyncio.run(main())
