"""RFC 6455 §5.5.2-§5.5.3: a ping is answered by a pong with the same payload; pongs may be unsolicited."""

from __future__ import annotations

import pytest

from livews.engine import Connection, PingReceived, PongReceived
from tests.wire import client_frame, feed, server_frames


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(125)), "ünï".encode()])
def test_ping_is_answered_with_a_pong_carrying_the_same_payload(payload: bytes) -> None:
    conn = Connection()
    assert feed(conn, client_frame(0x9, payload)) == [PingReceived(payload)]
    assert server_frames(conn.data_to_send()) == [(0x8A, 0xA, payload)]


def test_every_ping_of_a_burst_is_answered_in_order() -> None:
    conn = Connection()
    feed(conn, b"".join(client_frame(0x9, str(i).encode()) for i in range(10)))
    assert [p for _, _, p in server_frames(conn.data_to_send())] == [str(i).encode() for i in range(10)]


def test_unsolicited_pong_is_reported_and_not_answered() -> None:
    conn = Connection()
    assert feed(conn, client_frame(0xA, b"hb")) == [PongReceived(b"hb")]
    assert conn.data_to_send() == b""


def test_server_ping_is_an_unmasked_ping_frame() -> None:
    conn = Connection()
    conn.send_ping(b"t1")
    assert server_frames(conn.data_to_send()) == [(0x89, 0x9, b"t1")]


def test_server_ping_over_125_bytes_raises_value_error() -> None:
    with pytest.raises(ValueError):
        Connection().send_ping(b"x" * 126)
