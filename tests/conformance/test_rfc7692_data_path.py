"""RFC 7692 §6-§7 through the connection: RSV1 rules, inflate budget, UTF-8 on the inflated stream, context
takeover as agreed, per-message opt-out when sending."""

from __future__ import annotations

import zlib

import pytest

from livews.engine import BinaryMessage, CloseReceived, Connection, MessageLimits, TextMessage
from livews.engine.deflate import STREAM_COST, DeflateConfig, compressed_budget, negotiate
from tests.wire import client_frame, feed, server_frames


def deflated(data: bytes, compressor: zlib._Compress | None = None) -> bytes:
    """What a client sends: raw deflate, sync-flushed, without the 00 00 ff ff tail (§7.2.1)."""
    c = compressor or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def connection(
    offer: str = "permessage-deflate", limits: MessageLimits | None = None, **config: object
) -> Connection:
    _, codec = negotiate(offer, DeflateConfig(**config))  # type: ignore[arg-type]
    assert codec is not None
    return Connection(limits or MessageLimits(), deflate=codec)


def test_compressed_text_message_is_inflated() -> None:
    conn = connection()
    assert feed(conn, client_frame(0x1, deflated(b"Hello, Hello, Hello"), rsv=4)) == [
        TextMessage("Hello, Hello, Hello")
    ]


def test_compressed_message_in_fragments_has_rsv1_on_the_first_frame_only() -> None:
    conn = connection()
    payload = deflated(b"fragmented and compressed " * 20)
    events = feed(
        conn,
        client_frame(0x2, payload[:10], fin=False, rsv=4),
        client_frame(0x0, payload[10:20], fin=False),
        client_frame(0x0, payload[20:]),
    )
    assert events == [BinaryMessage(b"fragmented and compressed " * 20)]


def test_rsv1_on_a_continuation_frame_fails_with_1002() -> None:
    conn = connection()
    payload = deflated(b"abc" * 10)
    first = client_frame(0x1, payload[:5], fin=False, rsv=4)
    events = feed(conn, first, client_frame(0x0, payload[5:], rsv=4))
    assert events[-1].code == 1002


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_rsv1_on_a_control_frame_fails_with_1002(opcode: int) -> None:
    conn = connection()
    assert feed(conn, client_frame(opcode, b"", rsv=4))[-1].code == 1002


def test_rsv1_without_the_extension_agreed_fails_with_1002() -> None:
    conn = Connection()
    assert feed(conn, client_frame(0x1, deflated(b"x"), rsv=4))[-1].code == 1002


def test_uncompressed_message_is_still_allowed_when_the_extension_is_agreed() -> None:
    conn = connection()
    assert feed(conn, client_frame(0x1, b"plain")) == [TextMessage("plain")]


def test_zip_bomb_closes_with_1009_as_soon_as_the_inflated_size_passes_the_limit() -> None:
    conn = connection(limits=MessageLimits(max_message_size=1024 * 1024))
    bomb = deflated(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    assert feed(conn, client_frame(0x2, bomb, rsv=4))[-1].code == 1009


def test_invalid_utf8_inside_compressed_text_fails_with_1007_at_the_first_bad_frame() -> None:
    conn = connection()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress("κόσμε".encode()) + c.flush(zlib.Z_SYNC_FLUSH)
    second = c.compress(b"\xf4\x90\x80\x80") + c.flush(zlib.Z_SYNC_FLUSH)
    assert feed(conn, client_frame(0x1, first, fin=False, rsv=4)) == []
    assert feed(conn, client_frame(0x0, second, fin=False))[-1].code == 1007


def test_client_context_takeover_lets_later_messages_refer_to_earlier_ones() -> None:
    conn = connection()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    messages = [b"the same words again and again", b"the same words again and again!"]
    frames = [client_frame(0x1, deflated(m, c), rsv=4) for m in messages]
    assert feed(conn, *frames) == [TextMessage(m.decode()) for m in messages]


def test_server_without_context_takeover_compresses_each_message_alone() -> None:
    conn = connection("permessage-deflate; server_no_context_takeover")
    conn.send_text("repeat repeat repeat repeat repeat repeat")
    conn.send_text("repeat repeat repeat repeat repeat repeat")
    first, second = server_frames(conn.data_to_send())
    assert first[0] & 0x40 and second[0] & 0x40  # RSV1 set
    assert first[2] == second[2]  # no shared history: identical bytes
    inflater = zlib.decompressobj(-15)
    text = b"repeat repeat repeat repeat repeat repeat"
    assert inflater.decompress(second[2] + b"\x00\x00\xff\xff") == text


def test_send_with_compress_false_sends_the_message_uncompressed() -> None:
    conn = connection()
    conn.send_text("not compressed " * 10, compress=False)
    ((b0, _, payload),) = server_frames(conn.data_to_send())
    assert not b0 & 0x40 and payload == b"not compressed " * 10


def test_messages_below_min_size_are_sent_uncompressed() -> None:
    conn = connection(min_size=100)
    conn.send_text("short")
    ((b0, _, payload),) = server_frames(conn.data_to_send())
    assert not b0 & 0x40 and payload == b"short"


def test_compressed_fragmented_send_sets_rsv1_on_the_first_frame_only() -> None:
    conn = connection()
    conn.send_binary(bytes(range(256)) * 40, frame_size=100)
    frames = server_frames(conn.data_to_send())
    assert len(frames) > 1
    assert frames[0][0] & 0x40 and not any(f[0] & 0x40 for f in frames[1:])
    inflater = zlib.decompressobj(-15)
    data = inflater.decompress(b"".join(f[2] for f in frames) + b"\x00\x00\xff\xff")
    assert data == bytes(range(256)) * 40


def test_a_message_of_empty_deflate_blocks_closes_with_1009_once_its_compressed_budget_is_spent() -> None:
    # Empty final blocks inflate to nothing, so only the budget on compressed input can stop them.
    limit = 64 * 1024
    conn = connection(limits=MessageLimits(max_message_size=limit, max_frame_size=None))
    budget = compressed_budget(limit)
    assert budget is not None
    blocks = bytes.fromhex("0300") * (budget // (2 + STREAM_COST) + 1)
    events = feed(conn, client_frame(0x2, blocks, rsv=4, fin=False))
    assert [type(e) for e in events] == [CloseReceived] and events[0].code == 1009
    assert server_frames(conn.data_to_send())[-1][2][:2] == (1009).to_bytes(2, "big")


def test_a_message_with_a_few_final_blocks_is_still_accepted() -> None:
    # §7.2.3.4: BFINAL may end a DEFLATE stream inside a message; a few of them are legitimate.
    conn = connection()
    payload = bytes.fromhex("0300") * 3 + deflated(b"after three final blocks")
    assert feed(conn, client_frame(0x2, payload, rsv=4)) == [BinaryMessage(b"after three final blocks")]
