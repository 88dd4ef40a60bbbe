"""Properties of the engine and the handshake parser, checked on inputs hypothesis generates (bounded in
count, no deadline, so the suite stays fast): any split of a stream gives the same events, random bytes give
only protocol errors, and every frame kind round-trips from the encoder through the parser, with and without
permessage-deflate."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livews.engine import (
    BinaryMessage,
    CloseReceived,
    Connection,
    Event,
    HandshakeError,
    HandshakeLimits,
    MessageLimits,
    PingReceived,
    PongReceived,
    TextMessage,
    encode_frame,
)
from livews.engine.deflate import PerMessageDeflate
from livews.engine.frames import encode_close_payload, fragment
from livews.engine.handshake import HeadReader, parse_request
from tests.fuzz import targets
from tests.wire import client_frame

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAD = (
    b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)


def masked(server_frame: bytes) -> bytes:
    """A server frame turned into the client frame with the same header fields and payload (RFC 6455 §5.3)."""
    b0, b1 = server_frame[0], server_frame[1]
    length = b1 & 0x7F
    start = 2 + {126: 2, 127: 8}.get(length, 0)
    mask = os.urandom(4)
    payload = server_frame[start:]
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes((b0, b1 | 0x80)) + server_frame[2:start] + mask + body


def events_of(conn: Connection, pieces: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for piece in pieces:
        conn.receive_data(piece)
        while batch := conn.events_received():
            events.extend(batch)
    return events


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = sorted({p % (len(data) + 1) for p in points})
    return [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]


_messages = st.one_of(
    st.tuples(st.just(0x1), st.text(max_size=300).map(str.encode)),
    st.tuples(st.just(0x2), st.binary(max_size=300)),
    st.tuples(st.just(0x9), st.binary(max_size=125)),
    st.tuples(st.just(0xA), st.binary(max_size=125)),
)


def _stream(messages: list[tuple[int, bytes]], frame_size: int) -> bytes:
    out = []
    for opcode, payload in messages:
        if opcode >= 8:
            out.append(client_frame(opcode, payload))
        else:
            out.extend(masked(f) for f in fragment(opcode, payload, frame_size))
    return b"".join(out)


@BOUNDED
@given(st.lists(_messages, max_size=8), st.integers(1, 64), st.lists(st.integers(0, 10**6), max_size=40))
def test_any_split_of_a_stream_gives_the_same_events(
    messages: list[tuple[int, bytes]], frame_size: int, points: list[int]
) -> None:
    data = _stream(messages, frame_size)
    whole = events_of(Connection(), [data])
    assert events_of(Connection(), cut(data, points)) == whole
    assert len(whole) == len(messages)


@BOUNDED
@given(st.binary(max_size=2000), st.lists(st.integers(0, 10**6), max_size=20), st.booleans())
def test_random_bytes_give_only_protocol_errors(data: bytes, points: list[int], compressed: bool) -> None:
    conn = Connection(
        MessageLimits(max_frame_size=1024, max_message_size=2048),
        deflate=PerMessageDeflate() if compressed else None,
    )
    events = events_of(conn, cut(data, points))  # never raises
    conn.receive_eof()
    events += conn.events_received()
    closes = [e for e in events if isinstance(e, CloseReceived)]
    assert len(closes) == 1 and events[-1] is closes[0]
    assert closes[0].by_peer or closes[0].code in (1002, 1007, 1009)


@BOUNDED
@given(st.binary(max_size=3000))
def test_random_bytes_through_the_fuzz_targets_break_no_invariant(data: bytes) -> None:
    for target in targets.TARGETS.values():
        target(data)


@BOUNDED
@given(
    st.one_of(
        st.tuples(st.just(0x1), st.text(max_size=2000)),
        st.tuples(st.just(0x2), st.binary(max_size=2000)),
    ),
    st.one_of(st.none(), st.integers(1, 500)),
    st.booleans(),
)
def test_every_data_message_round_trips_with_and_without_deflate(
    message: tuple[int, str | bytes], frame_size: int | None, compressed: bool
) -> None:
    opcode, data = message
    payload = data.encode() if isinstance(data, str) else data
    # The sending side is a server connection; what it writes, masked, is what a client would send.
    sender = Connection(deflate=PerMessageDeflate(min_size=0) if compressed else None)
    receiver = Connection(deflate=PerMessageDeflate() if compressed else None)
    wire = sender.encode_message(opcode, payload, frame_size=frame_size)
    client_bytes = b"".join(masked(frame) for frame in _split_frames(wire))
    expected = TextMessage(data) if opcode == 0x1 else BinaryMessage(payload)
    assert events_of(receiver, [client_bytes]) == [expected]


@BOUNDED
@given(st.binary(max_size=125), st.integers(1000, 4999), st.text(max_size=30))
def test_control_frames_round_trip(payload: bytes, code: int, reason: str) -> None:
    conn = Connection()
    ping, pong = masked(encode_frame(0x9, payload)), masked(encode_frame(0xA, payload))
    assert events_of(conn, [ping, pong]) == [PingReceived(payload), PongReceived(payload)]
    close_payload = encode_close_payload(code, reason)
    events = events_of(conn, [masked(encode_frame(0x8, close_payload[:125]))])
    if len(close_payload) <= 125 and code not in (1004, 1005, 1006, 1015) and not 1016 <= code < 3000:
        assert events == [CloseReceived(code, reason, True)]
    else:
        assert isinstance(events[-1], CloseReceived) and events[-1].code in (1002, 1007)


def _split_frames(wire: bytes) -> list[bytes]:
    """The frames of unmasked server output, each as its own bytes."""
    frames = []
    pos = 0
    while pos < len(wire):
        length = wire[pos + 1] & 0x7F
        start = pos + 2
        if length == 126:
            length, start = int.from_bytes(wire[pos + 2 : pos + 4], "big"), pos + 4
        elif length == 127:
            length, start = int.from_bytes(wire[pos + 2 : pos + 10], "big"), pos + 10
        frames.append(wire[pos : start + length])
        pos = start + length
    return frames


@BOUNDED
@given(st.lists(st.integers(0, 10**6), max_size=30))
def test_any_split_of_a_head_gives_the_same_request(points: list[int]) -> None:
    data = HEAD + b"\x81\x80after"
    reader = HeadReader(HandshakeLimits())
    request = None
    pieces = cut(data, points)
    for i, piece in enumerate(pieces):
        request = reader.feed(piece)
        if request is not None:
            rest = bytes(reader.data[request.consumed :]) + b"".join(pieces[i + 1 :])
            break
    assert request == parse_request(data, HandshakeLimits())
    assert rest == b"\x81\x80after"


@BOUNDED
@given(st.binary(max_size=600), st.lists(st.integers(0, 10**6), max_size=10))
def test_random_bytes_as_a_head_give_only_handshake_errors(data: bytes, points: list[int]) -> None:
    limits = HandshakeLimits(max_request_line=200, max_header_size=200, max_head_size=400)
    reader = HeadReader(limits)
    try:
        for piece in cut(HEAD[: len(data) % len(HEAD)] + data, points):
            if reader.feed(piece) is not None:
                break
            assert len(reader) <= limits.max_head_size
    except HandshakeError as exc:
        assert exc.status in (400, 405, 414, 426, 431)
