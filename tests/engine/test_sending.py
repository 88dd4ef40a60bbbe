"""What the connection writes: unmasked frames, minimal lengths, fragmentation by frame_size, pre-encoded
frames for broadcast."""

from __future__ import annotations

import pytest

from livews.engine import Connection, encode_frame
from livews.engine.frames import fragment
from tests.wire import server_frames


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536])
def test_encode_frame_uses_the_minimal_length_encoding(n: int) -> None:
    frame = encode_frame(0x2, b"x" * n)
    header = len(frame) - n
    assert header == (2 if n < 126 else 4 if n < 65536 else 10)
    assert server_frames(frame) == [(0x82, 0x2, b"x" * n)]


def test_send_text_writes_one_final_text_frame() -> None:
    conn = Connection()
    conn.send_text("héllo")
    assert server_frames(conn.data_to_send()) == [(0x81, 0x1, "héllo".encode())]


def test_send_binary_with_frame_size_fragments_the_message() -> None:
    conn = Connection()
    conn.send_binary(b"abcdefghij", frame_size=4)
    assert server_frames(conn.data_to_send()) == [
        (0x02, 0x2, b"abcd"),
        (0x00, 0x0, b"efgh"),
        (0x80, 0x0, b"ij"),
    ]


def test_send_text_with_frame_size_splits_utf8_bytes_not_characters() -> None:
    conn = Connection()
    conn.send_text("€€", frame_size=2)
    frames = server_frames(conn.data_to_send())
    assert b"".join(p for _, _, p in frames) == "€€".encode()
    assert [op for _, op, _ in frames] == [0x1, 0x0, 0x0]


def test_frame_size_at_least_the_message_sends_one_frame() -> None:
    assert fragment(0x2, b"abc", 3) == [encode_frame(0x2, b"abc")]


def test_frame_size_below_one_raises_value_error() -> None:
    with pytest.raises(ValueError):
        Connection().send_binary(b"abc", frame_size=0)


def test_data_to_send_returns_queued_frames_once_in_order() -> None:
    conn = Connection()
    conn.send_text("1")
    conn.send_ping(b"2")
    conn.send_binary(b"3")
    assert [p for _, _, p in server_frames(conn.data_to_send())] == [b"1", b"2", b"3"]
    assert conn.data_to_send() == b""


def test_encoded_message_is_the_same_bytes_for_every_plain_connection() -> None:
    a, b = Connection(), Connection()
    assert a.framing_key == b.framing_key
    frame = a.encode_message(0x1, b"shared")
    b.send_encoded(frame)
    assert b.data_to_send() == frame == encode_frame(0x1, b"shared")


def test_a_large_payload_is_its_own_chunk_and_the_bytes_equal_data_to_send() -> None:
    big = bytes(range(256)) * 1024
    conn = Connection()
    conn.send_text("small")
    conn.send_binary(big)
    chunks = conn.chunks_to_send()
    assert big in chunks  # the payload object itself: no copy into a join
    conn.send_text("small")
    conn.send_binary(big)
    assert b"".join(chunks) == conn.data_to_send()
    assert server_frames(b"".join(chunks)) == [(0x81, 0x1, b"small"), (0x82, 0x2, big)]


def test_small_frames_are_joined_into_one_chunk() -> None:
    conn = Connection()
    conn.send_text("a")
    conn.send_text("b")
    assert conn.chunks_to_send() == [encode_frame(0x1, b"a") + encode_frame(0x1, b"b")]
