"""RFC 6455 §5.5.1 and §7: the closing handshake, close codes and reasons, and what happens after close."""

from __future__ import annotations

import pytest

from livews.engine import CloseReceived, Connection, State, TextMessage
from tests.wire import client_frame, close_payload, feed, server_frames


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
)
def test_peer_close_with_a_valid_code_is_echoed_and_reported(code: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, close_payload(code, b"why")))
    assert events == [CloseReceived(code, "why", True)]
    assert server_frames(conn.data_to_send()) == [(0x88, 0x8, code.to_bytes(2, "big"))]
    assert conn.state is State.CLOSED and conn.close_transport


def test_peer_close_without_payload_is_answered_with_an_empty_close_and_reported_as_1005() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, b""))
    assert events == [CloseReceived(1005, "", True)]
    assert server_frames(conn.data_to_send()) == [(0x88, 0x8, b"")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_peer_close_with_a_code_not_allowed_on_the_wire_fails_with_1002(code: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, close_payload(code)))
    assert events == [CloseReceived(1002, events[0].reason, False)]
    assert server_frames(conn.data_to_send())[0][2][:2] == b"\x03\xea"


def test_close_payload_of_one_byte_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, b"\x03"))
    assert events[-1].code == 1002


def test_close_with_a_123_byte_reason_is_accepted() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, close_payload(1000, b"r" * 123)))
    assert events == [CloseReceived(1000, "r" * 123, True)]


def test_frames_after_the_peer_close_are_ignored() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x8, close_payload(1000)) + client_frame(0x1, b"late") + b"\xff\xff")
    assert events == [CloseReceived(1000, "", True)]


def test_server_close_starts_the_handshake_and_the_peer_echo_finishes_it() -> None:
    conn = Connection()
    conn.send_close(4001, "done")
    assert conn.state is State.CLOSING and not conn.close_transport
    assert server_frames(conn.data_to_send()) == [(0x88, 0x8, b"\x0f\xa1done")]
    events = feed(conn, client_frame(0x8, close_payload(4001)))
    assert events == [CloseReceived(4001, "", False)]
    assert conn.state is State.CLOSED and conn.close_transport
    assert conn.data_to_send() == b""


def test_data_received_after_sending_close_is_discarded() -> None:
    conn = Connection()
    conn.send_close()
    conn.data_to_send()
    events = feed(conn, client_frame(0x1, b"in flight"), client_frame(0x9, b"p"), client_frame(0x8))
    assert events == [CloseReceived(1005, "", False)]
    assert conn.data_to_send() == b""


def test_sends_after_close_are_dropped() -> None:
    conn = Connection()
    conn.send_close()
    conn.data_to_send()
    conn.send_text("late")
    conn.send_binary(b"late")
    conn.send_ping()
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 5000])
def test_sending_a_close_code_not_allowed_on_the_wire_raises_value_error(code: int) -> None:
    with pytest.raises(ValueError, match="close code"):
        Connection().send_close(code)


def test_sending_a_close_reason_over_123_bytes_raises_value_error() -> None:
    with pytest.raises(ValueError, match="123"):
        Connection().send_close(1000, "é" * 62)


def test_eof_without_close_reports_1006() -> None:
    conn = Connection()
    feed(conn, client_frame(0x1, b"partial", fin=False))
    conn.receive_eof()
    assert conn.events_received() == [CloseReceived(1006, "", True)]
    assert conn.state is State.CLOSED


def test_eof_after_close_reports_nothing_more() -> None:
    conn = Connection()
    feed(conn, client_frame(0x8, close_payload(1000)))
    conn.receive_eof()
    assert conn.events_received() == []


def test_fail_sends_close_and_reports_once() -> None:
    conn = Connection()
    conn.fail(1011, "handler error")
    conn.fail(1011, "again")
    assert conn.events_received() == [CloseReceived(1011, "handler error", False)]
    assert server_frames(conn.data_to_send()) == [(0x88, 0x8, b"\x03\xf3handler error")]


def test_messages_before_close_in_one_read_are_delivered() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, b"last words") + client_frame(0x8, close_payload(1000)))
    assert events == [TextMessage("last words"), CloseReceived(1000, "", True)]
