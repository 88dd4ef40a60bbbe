"""Large compressed messages are compressed a step at a time and sent as fragments, in order with everything
sent after them, with the compressor's context intact (the driver calls ``compress_step`` once per turn)."""

from __future__ import annotations

import os
import zlib

import pytest

from livews.engine import Connection
from livews.engine.codes import CloseCode
from livews.engine.deflate import COMPRESS_STEP, PerMessageDeflate
from livews.engine.zlib_backends import BACKEND_NAMES
from tests.wire import client_frame, close_payload, feed, server_frames

TAIL = b"\x00\x00\xff\xff"


def big_text(size: int) -> str:
    words = [b"alpha", b"beta", b"gamma", b"delta", os.urandom(6).hex().encode()]
    out = bytearray()
    i = 0
    while len(out) < size:
        out += words[i % 5] + b" %d," % i
        i += 1
    return out[:size].decode()


def drain(conn: Connection, limit: int = 10_000) -> bytes:
    """What the driver does: write what is ready, then one step per turn until nothing is compressing."""
    out = bytearray(conn.data_to_send())
    for _ in range(limit):
        if not conn.compressing:
            break
        conn.compress_step()
        out += conn.data_to_send()
    assert not conn.compressing
    return bytes(out)


def messages_of(data: bytes) -> list[tuple[int, bytes]]:
    """Reassemble server frames into (opcode, payload) messages, inflating with one plain zlib inflater."""
    inflater = zlib.decompressobj(-15)
    out: list[tuple[int, bytes]] = []
    parts: list[bytes] = []
    opcode = compressed = 0
    for b0, op, payload in server_frames(data):
        if op >= 8:
            out.append((op, payload))
            continue
        if op != 0:
            opcode, compressed, parts = op, b0 & 0x40, []
        else:
            assert not b0 & 0x40, "RSV1 on a continuation frame"
        parts.append(payload)
        if b0 & 0x80:
            body = b"".join(parts)
            out.append((opcode, inflater.decompress(body + TAIL) if compressed else body))
    return out


@pytest.fixture(params=BACKEND_NAMES)
def conn(request: pytest.FixtureRequest) -> Connection:
    return Connection(deflate=PerMessageDeflate(backend=request.param))


def test_a_large_compressed_message_goes_out_as_fragments_one_step_at_a_time(conn: Connection) -> None:
    text = big_text(10 * COMPRESS_STEP + 123)
    conn.send_text(text)
    assert conn.compressing and conn.data_to_send() == b""  # nothing compressed yet: the driver steps
    frames = server_frames(drain(conn))
    assert len(frames) > 1
    assert frames[0][0] & 0x40 and frames[0][1] == 0x1  # RSV1 and the opcode on the first frame only
    assert all(op == 0 and not b0 & 0x40 for b0, op, _ in frames[1:])
    assert [b0 & 0x80 for b0, _, _ in frames] == [0] * (len(frames) - 1) + [0x80]


def test_messages_sent_meanwhile_follow_it_in_order_with_context_takeover(conn: Connection) -> None:
    big = big_text(3 * COMPRESS_STEP)
    conn.send_text(big)
    conn.send_text("small after " * 10)
    conn.send_binary(b"\x00binary" * 10)
    conn.send_text(big[::-1])  # large again: stepped again, behind the others
    conn.send_text("last " * 10)
    assert messages_of(drain(conn)) == [
        (0x1, big.encode()),
        (0x1, ("small after " * 10).encode()),
        (0x2, b"\x00binary" * 10),
        (0x1, big[::-1].encode()),
        (0x1, ("last " * 10).encode()),
    ]


def test_without_context_takeover_stepped_messages_stand_alone() -> None:
    conn = Connection(deflate=PerMessageDeflate(server_no_context_takeover=True))
    big = big_text(3 * COMPRESS_STEP)
    conn.send_text(big)
    conn.send_text(big)
    frames = server_frames(drain(conn))
    first_of_second = next(i for i, f in enumerate(frames) if i and f[1] == 0x1)
    for part in (frames[:first_of_second], frames[first_of_second:]):
        body = b"".join(payload for _, _, payload in part)
        assert zlib.decompressobj(-15).decompress(body + TAIL) == big.encode()  # a fresh inflater suffices


def test_a_close_sent_after_a_large_message_goes_out_after_it(conn: Connection) -> None:
    big = big_text(3 * COMPRESS_STEP)
    conn.send_text(big)
    conn.send_close(CloseCode.NORMAL, "bye")
    assert conn.data_to_send() == b""
    assert messages_of(drain(conn)) == [(0x1, big.encode()), (0x8, close_payload(1000, b"bye"))]


def test_a_failure_midway_drops_the_rest_and_closes_at_once(conn: Connection) -> None:
    conn.send_text(big_text(4 * COMPRESS_STEP))
    conn.compress_step()
    conn.send_text("queued behind")
    conn.fail(CloseCode.PROTOCOL_ERROR, "bad")
    assert not conn.compressing and conn.close_transport
    frames = server_frames(conn.data_to_send())
    assert frames[-1][1] == 0x8 and frames[-1][2][:2] == (1002).to_bytes(2, "big")
    assert all(op != 0x1 or not b0 & 0x80 for b0, op, _ in frames)  # the message never finished


def test_a_peer_close_midway_is_answered_and_the_rest_dropped(conn: Connection) -> None:
    conn.send_text(big_text(4 * COMPRESS_STEP))
    conn.compress_step()
    conn.send_close()  # queued behind the message, so not sent yet
    feed(conn, client_frame(0x8, close_payload(1001)))
    assert not conn.compressing and conn.close_transport
    frames = server_frames(conn.data_to_send())
    assert frames[-1][1] == 0x8 and frames[-1][2] == close_payload(1001)  # the peer's close is answered


def test_messages_below_two_steps_are_compressed_at_once(conn: Connection) -> None:
    conn.send_text(big_text(2 * COMPRESS_STEP - 1))
    assert not conn.compressing
    assert len(server_frames(conn.data_to_send())) == 1


def test_a_large_message_with_a_frame_size_or_without_compression_is_not_stepped(conn: Connection) -> None:
    conn.send_text(big_text(3 * COMPRESS_STEP), frame_size=64 * 1024)
    conn.send_binary(bytes(3 * COMPRESS_STEP), compress=False)
    assert not conn.compressing


def test_compress_steps_join_to_what_compress_makes() -> None:
    data = big_text(5 * COMPRESS_STEP + 7).encode()
    pieces = list(PerMessageDeflate(server_no_context_takeover=True).compress_steps(data))
    assert [last for _, last in pieces] == [False] * (len(pieces) - 1) + [True]
    whole = PerMessageDeflate(server_no_context_takeover=True).compress(data)
    assert b"".join(piece for piece, _ in pieces) == whole
