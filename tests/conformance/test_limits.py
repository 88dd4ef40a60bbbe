"""MessageLimits (max frame size, max message size, max frame count) close with 1009 as soon as a frame header
declares too much, before any of its payload is buffered."""

from __future__ import annotations

import struct

from livews.engine import BinaryMessage, Connection, MessageLimits, TextMessage
from tests.wire import client_frame, feed, server_frames


def closed_1009(conn: Connection, events: list) -> bool:
    return events[-1].code == 1009 and server_frames(conn.data_to_send())[-1][2][:2] == b"\x03\xf1"


def test_frame_declaring_more_than_max_frame_size_fails_with_1009_from_its_header_alone() -> None:
    conn = Connection(MessageLimits(max_frame_size=1000))
    header = bytes((0x82, 0xFF)) + struct.pack("!Q", 10**9) + b"mask"
    assert closed_1009(conn, feed(conn, header))


def test_frame_of_exactly_max_frame_size_is_accepted() -> None:
    conn = Connection(MessageLimits(max_frame_size=1000))
    assert feed(conn, client_frame(0x2, b"x" * 1000)) == [BinaryMessage(b"x" * 1000)]


def test_fragments_past_max_message_size_fail_with_1009_at_the_header_of_the_frame_too_many() -> None:
    conn = Connection(MessageLimits(max_message_size=100))
    events = feed(conn, client_frame(0x1, b"a" * 60, fin=False))
    assert events == []
    frame = client_frame(0x0, b"b" * 60)
    assert closed_1009(conn, feed(conn, frame[:8]))


def test_message_of_exactly_max_message_size_is_accepted() -> None:
    conn = Connection(MessageLimits(max_message_size=100))
    events = feed(conn, client_frame(0x1, b"a" * 50, fin=False), client_frame(0x0, b"b" * 50))
    assert events == [TextMessage("a" * 50 + "b" * 50)]


def test_message_with_more_frames_than_max_frame_count_fails_with_1009() -> None:
    conn = Connection(MessageLimits(max_frame_count=3))
    events = feed(
        conn,
        client_frame(0x2, b"1", fin=False),
        client_frame(0x0, b"2", fin=False),
        client_frame(0x0, b"3", fin=False),
    )
    assert events == []
    assert closed_1009(conn, feed(conn, client_frame(0x0, b"4")))


def test_message_with_exactly_max_frame_count_frames_is_accepted() -> None:
    conn = Connection(MessageLimits(max_frame_count=3))
    events = feed(
        conn,
        client_frame(0x2, b"1", fin=False),
        client_frame(0x0, b"2", fin=False),
        client_frame(0x0, b"3"),
    )
    assert events == [BinaryMessage(b"123")]


def test_frame_count_restarts_with_each_message() -> None:
    conn = Connection(MessageLimits(max_frame_count=2))
    frames = [client_frame(0x2, b"a", fin=False), client_frame(0x0, b"b")] * 3
    assert feed(conn, *frames) == [BinaryMessage(b"ab")] * 3


def test_limits_set_to_none_are_disabled() -> None:
    conn = Connection(MessageLimits(max_frame_size=None, max_message_size=None, max_frame_count=None))
    payload = b"z" * 200_000
    assert feed(conn, client_frame(0x2, payload)) == [BinaryMessage(payload)]


def test_large_frame_is_streamed_without_holding_the_raw_input() -> None:
    conn = Connection()
    frame = client_frame(0x2, bytes(range(256)) * 4096)
    events = []
    for i in range(0, len(frame), 65536):
        events += feed(conn, frame[i : i + 65536])
        assert len(conn._in) < 14
    assert events == [BinaryMessage(bytes(range(256)) * 4096)]
