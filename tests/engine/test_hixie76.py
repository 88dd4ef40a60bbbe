"""Hixie76Connection keeps the engine Connection's interface: what it sends, how it refuses what the draft
cannot carry, how its limits bound memory, and how it ends."""

from __future__ import annotations

import inspect

import pytest

from livews.engine import PLAIN_FRAMING, CloseReceived, Connection, MessageLimits, Opcode, State, TextMessage
from livews.engine.hixie76 import HIXIE76_FRAMING, HIXIE76_VERSION, Hixie76Connection
from tests.hixie76_wire import text_frame


def feed(conn: Hixie76Connection, *chunks: bytes) -> list:
    events: list = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events.extend(conn.events_received())
    return events


def test_every_public_method_of_connection_exists_with_the_same_parameters() -> None:
    for name, member in inspect.getmembers(Connection, inspect.isfunction):
        if name.startswith("_"):
            continue
        mine = getattr(Hixie76Connection, name)
        assert list(inspect.signature(mine).parameters) == list(inspect.signature(member).parameters), name


def test_public_attributes_of_connection_exist() -> None:
    conn = Hixie76Connection()
    for name in ("state", "close_transport", "framing_key", "version", "limits", "deflate"):
        assert hasattr(conn, name), name


def test_version_is_0_the_hybi_00_registry_entry() -> None:
    assert Hixie76Connection().version == HIXIE76_VERSION == 0


def test_framing_key_differs_from_rfc6455_connections() -> None:
    assert Hixie76Connection().framing_key == HIXIE76_FRAMING == "hixie76" != PLAIN_FRAMING
    assert Hixie76Connection().framing_key == Hixie76Connection().framing_key


def test_send_binary_raises_a_clear_type_error() -> None:
    conn = Hixie76Connection()
    with pytest.raises(TypeError, match="hixie-76 clients cannot receive binary messages"):
        conn.send_binary(b"\x01\x02")
    assert conn.data_to_send() == b""
    assert conn.state is State.OPEN


def test_send_binary_raises_even_after_close() -> None:
    conn = Hixie76Connection()
    conn.fail(1000)
    with pytest.raises(TypeError):
        conn.send_binary(b"x")


def test_capability_flags_say_no_binary_and_no_ping() -> None:
    assert Hixie76Connection.supports_binary is False
    assert Hixie76Connection.supports_ping is False


def test_encode_message_of_binary_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Hixie76Connection().encode_message(Opcode.BINARY, b"x")


def test_encoded_text_is_what_send_text_writes_and_can_be_shared() -> None:
    a, b = Hixie76Connection(), Hixie76Connection()
    frame = a.encode_message(Opcode.TEXT, "shared €".encode())
    b.send_encoded(frame)
    a.send_text("shared €")
    assert a.data_to_send() == b.data_to_send() == frame == b"\x00shared \xe2\x82\xac\xff"


def test_encode_message_refuses_bytes_that_would_end_the_frame() -> None:
    with pytest.raises(ValueError):
        Hixie76Connection().encode_message(Opcode.TEXT, b"a\xffb")


def test_frame_size_and_compress_are_accepted_and_ignored() -> None:
    conn = Hixie76Connection()
    conn.send_text("abcdef", frame_size=2, compress=False)
    assert conn.data_to_send() == b"\x00abcdef\xff"


def test_send_ping_and_pong_send_nothing() -> None:
    conn = Hixie76Connection()
    conn.send_ping(b"keepalive")
    conn.send_pong()
    assert conn.data_to_send() == b""
    assert conn.state is State.OPEN


def test_ping_payload_over_125_bytes_raises_as_for_rfc6455() -> None:
    with pytest.raises(ValueError):
        Hixie76Connection().send_ping(b"x" * 126)


def test_send_close_validates_code_and_reason_as_for_rfc6455() -> None:
    conn = Hixie76Connection()
    with pytest.raises(ValueError):
        conn.send_close(1005)
    with pytest.raises(ValueError):
        conn.send_close(1000, "x" * 124)
    assert conn.state is State.OPEN


def test_fail_closes_the_transport_without_bytes_and_reports_once() -> None:
    conn = Hixie76Connection()
    conn.fail(1008, "policy")
    conn.fail(1011)
    assert conn.data_to_send() == b""
    assert conn.close_transport and conn.state is State.CLOSED
    assert conn.events_received() == [CloseReceived(1008, "policy", False)]


def test_nothing_happens_after_close() -> None:
    conn = Hixie76Connection()
    conn.fail(1000)
    conn.events_received()
    conn.receive_data(text_frame("x"))
    conn.receive_eof()
    conn.send_text("x")
    conn.send_encoded(b"\x00x\xff")
    assert conn.events_received() == []
    assert conn.data_to_send() == b""


def test_many_frames_in_one_read_come_out_in_order() -> None:
    conn = Hixie76Connection()
    data = b"".join(text_frame(str(i)) for i in range(100))
    assert feed(conn, data) == [TextMessage(str(i)) for i in range(100)]


# ------------------------------------------------------------------------------------ limits


def test_text_frame_over_max_message_size_fails_with_1009() -> None:
    conn = Hixie76Connection(MessageLimits(max_message_size=10))
    assert feed(conn, text_frame("x" * 11)) == [CloseReceived(1009, "message too big", False)]
    assert conn.close_transport and conn.data_to_send() == b""


def test_text_frame_at_max_message_size_is_delivered() -> None:
    conn = Hixie76Connection(MessageLimits(max_message_size=10))
    assert feed(conn, text_frame("x" * 10)) == [TextMessage("x" * 10)]


def test_endless_text_frame_fails_at_the_limit_without_buffering_more() -> None:
    limit = 64 * 1024
    conn = Hixie76Connection(MessageLimits(max_message_size=limit))
    conn.receive_data(b"\x00")
    chunk = b"a" * 4096
    sent = 0
    while conn.state is State.OPEN and sent < 1000 * len(chunk):
        conn.receive_data(chunk)
        sent += len(chunk)
        assert sum(len(p) for p in conn._parts) <= limit
    assert sent == limit + len(chunk)
    assert conn.events_received() == [CloseReceived(1009, "message too big", False)]


def test_text_frame_over_the_limit_in_one_read_fails_before_decoding() -> None:
    conn = Hixie76Connection(MessageLimits(max_message_size=4))
    assert feed(conn, b"\x00" + b"\xc0" * 10 + b"\xff") == [CloseReceived(1009, "message too big", False)]


def test_max_frame_size_also_bounds_a_text_frame() -> None:
    conn = Hixie76Connection(MessageLimits(max_frame_size=4, max_message_size=None))
    assert feed(conn, text_frame("abcde")) == [CloseReceived(1009, "message too big", False)]


def test_declared_length_over_max_frame_size_fails_before_its_bytes() -> None:
    conn = Hixie76Connection(MessageLimits(max_frame_size=100))
    assert feed(conn, b"\x80\x81\x00") == [CloseReceived(1009, "frame too big", False)]


def test_discarded_sentinel_frame_over_max_frame_size_fails() -> None:
    conn = Hixie76Connection(MessageLimits(max_frame_size=4))
    assert feed(conn, b"\x01abcde") == [CloseReceived(1009, "frame too big", False)]


def test_absurd_declared_length_without_limits_fails_with_1002() -> None:
    conn = Hixie76Connection(MessageLimits(max_frame_size=None, max_message_size=None))
    assert feed(conn, b"\x80" + b"\xff" * 9 + b"\x7f") == [
        CloseReceived(1002, "frame length too long", False)
    ]


def test_unlimited_connection_accepts_a_large_text_frame() -> None:
    conn = Hixie76Connection(MessageLimits(max_frame_size=None, max_message_size=None))
    assert feed(conn, text_frame("y" * 100_000)) == [TextMessage("y" * 100_000)]


def test_reads_given_as_views_of_a_reused_buffer_give_the_same_messages() -> None:
    data = text_frame("héllo") + text_frame("wörld")
    conn = Hixie76Connection()
    buffer = bytearray(len(data))
    for a, b in ((0, 4), (4, len(data))):  # the first frame split inside its text
        buffer[: b - a] = data[a:b]
        conn.receive_data(memoryview(buffer)[: b - a])
        buffer[:] = b"\xaa" * len(buffer)
    assert conn.events_received() == [TextMessage("héllo"), TextMessage("wörld")]
