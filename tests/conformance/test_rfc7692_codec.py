"""RFC 7692 §7.2: the payload transformation, checked against the RFC's own examples and plain zlib.

Compressing: DEFLATE, sync flush, drop the 00 00 ff ff tail (§7.2.1). Inflating: add the tail back and
inflate (§7.2.2). Context takeover (§7.1.1) decides whether one message may refer to the ones before it, and
the window sizes (§7.1.2) how far back.
"""

from __future__ import annotations

import random
import zlib

import pytest

from livews.engine.codes import CloseCode
from livews.engine.deflate import PerMessageDeflate
from livews.engine.errors import WebSocketError

TAIL = b"\x00\x00\xff\xff"


def inflate_message(codec: PerMessageDeflate, payload: bytes, budget: int | None = None) -> bytes:
    return codec.inflate(payload, budget) + codec.inflate_finish(budget)


def reference_compress(messages: list[bytes], wbits: int = 15) -> list[bytes]:
    """What a plain zlib peer with context takeover sends for each message."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = []
    for message in messages:
        data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(TAIL)
        out.append(data[:-4])
    return out


def reference_inflate(payloads: list[bytes], wbits: int = 15) -> list[bytes]:
    decompressor = zlib.decompressobj(-wbits)
    return [decompressor.decompress(payload + TAIL) for payload in payloads]


def messages() -> list[bytes]:
    rng = random.Random(7692)
    words = [b"alpha", b"beta", b"gamma", b"price", b"volume", b"user", b"room", b"{", b"}", b'"k":']
    out = [b"", b"x", b"Hello", rng.randbytes(3000), bytes(100_000)]
    for _ in range(40):
        out.append(b" ".join(rng.choice(words) for _ in range(rng.randint(1, 400))))
    return out


# ------------------------------------------------------------------ the RFC's examples (§7.2.3)


def test_s7_2_3_1_hello_compresses_to_the_rfc_bytes() -> None:
    assert PerMessageDeflate().compress(b"Hello") == bytes.fromhex("f248cdc9c90700")


def test_s7_2_3_1_the_rfc_bytes_inflate_to_hello_whole_and_split_across_frames() -> None:
    assert inflate_message(PerMessageDeflate(), bytes.fromhex("f248cdc9c90700")) == b"Hello"
    codec = PerMessageDeflate()
    assert (
        codec.inflate(bytes.fromhex("f248cd"), None)
        + codec.inflate(bytes.fromhex("c9c90700"), None)
        + (codec.inflate_finish(None))
        == b"Hello"
    )


def test_s7_2_3_2_with_context_takeover_the_second_hello_refers_to_the_first() -> None:
    codec = PerMessageDeflate()
    assert codec.compress(b"Hello") == bytes.fromhex("f248cdc9c90700")
    assert codec.compress(b"Hello") == bytes.fromhex("f200110000")


def test_s7_2_3_2_a_message_referring_to_the_previous_one_inflates_with_context_takeover() -> None:
    codec = PerMessageDeflate()
    assert inflate_message(codec, bytes.fromhex("f248cdc9c90700")) == b"Hello"
    assert inflate_message(codec, bytes.fromhex("f200110000")) == b"Hello"


def test_s7_2_3_3_a_stored_block_inflates() -> None:
    assert inflate_message(PerMessageDeflate(), bytes.fromhex("000500faff48656c6c6f00")) == b"Hello"


def test_s7_2_3_4_a_block_with_bfinal_set_inflates_and_the_next_message_still_works() -> None:
    codec = PerMessageDeflate()
    assert inflate_message(codec, bytes.fromhex("f348cdc9c9070000")) == b"Hello"
    assert inflate_message(codec, bytes.fromhex("f248cdc9c90700")) == b"Hello"


def test_s7_2_3_4_a_final_block_split_from_its_padding_octet_inflates() -> None:
    codec = PerMessageDeflate()
    payload = bytes.fromhex("f348cdc9c9070000")
    out = [codec.inflate(payload[i : i + 1], None) for i in range(len(payload))]
    assert b"".join(out) + codec.inflate_finish(None) == b"Hello"


def test_s7_2_3_5_two_deflate_blocks_in_one_message_inflate() -> None:
    payload = bytes.fromhex("f248050000" + "00ffff" + "cac9c90700")
    assert inflate_message(PerMessageDeflate(), payload) == b"Hello"


def test_s7_2_3_6_an_empty_message_compresses_to_a_single_zero_octet() -> None:
    codec = PerMessageDeflate()
    assert codec.compress(b"") == b"\x00"
    codec.compress(b"Hello")
    assert codec.compress(b"") == b"\x00"  # with history too
    assert PerMessageDeflate(server_no_context_takeover=True).compress(b"") == b"\x00"


def test_s7_2_3_6_a_single_zero_octet_inflates_to_an_empty_message() -> None:
    assert inflate_message(PerMessageDeflate(), b"\x00") == b""


# ------------------------------------------------------------------ against plain zlib


def test_s7_2_1_compressed_messages_lack_the_tail_and_inflate_with_plain_zlib() -> None:
    codec = PerMessageDeflate()
    sent = [codec.compress(message) for message in messages()]
    assert not any(payload.endswith(TAIL) for payload in sent)
    assert reference_inflate(sent) == messages()


def test_s7_2_2_messages_from_a_plain_zlib_peer_inflate() -> None:
    codec = PerMessageDeflate()
    assert [inflate_message(codec, payload) for payload in reference_compress(messages())] == messages()


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_s7_2_2_a_message_inflates_the_same_in_any_split(chunk: int) -> None:
    codec = PerMessageDeflate()
    for message, payload in zip(messages(), reference_compress(messages()), strict=True):
        parts = [codec.inflate(payload[i : i + chunk], None) for i in range(0, len(payload), chunk)]
        assert b"".join(parts) + codec.inflate_finish(None) == message


def test_s7_2_2_compressed_and_uncompressed_messages_interleave() -> None:
    # §6: a message without RSV1 never touches the inflater, so the window carries over the gap.
    codec = PerMessageDeflate()
    first, second = reference_compress([b"Hello, world", b"Hello, world"])
    assert inflate_message(codec, first) == b"Hello, world"
    assert inflate_message(codec, second) == b"Hello, world"


# ------------------------------------------------------------------ context takeover


def test_s7_1_1_1_without_server_context_takeover_each_message_stands_alone() -> None:
    codec = PerMessageDeflate(server_no_context_takeover=True)
    assert codec.compress(b"Hello") == codec.compress(b"Hello") == bytes.fromhex("f248cdc9c90700")
    for message in messages():
        payload = codec.compress(message)
        assert zlib.decompressobj(-15).decompress(payload + TAIL) == message  # a fresh inflater suffices


def test_s7_1_1_1_with_server_context_takeover_later_messages_need_the_history() -> None:
    codec = PerMessageDeflate()
    codec.compress(b"Hello, world, Hello, world")
    second = codec.compress(b"Hello, world, Hello, world")
    with pytest.raises(zlib.error):
        zlib.decompressobj(-15).decompress(second + TAIL)


def test_s7_1_1_2_without_client_context_takeover_a_reference_to_the_previous_message_fails_1007() -> None:
    codec = PerMessageDeflate(client_no_context_takeover=True)
    assert inflate_message(codec, bytes.fromhex("f248cdc9c90700")) == b"Hello"
    with pytest.raises(WebSocketError) as info:
        inflate_message(codec, bytes.fromhex("f200110000"))
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_s7_1_1_2_without_client_context_takeover_independent_messages_inflate() -> None:
    codec = PerMessageDeflate(client_no_context_takeover=True)
    for message in messages():
        [payload] = reference_compress([message])
        assert inflate_message(codec, payload) == message


# ------------------------------------------------------------------ window sizes


BLOCK = random.Random(1).randbytes(1000)


def strict_inflate(payloads: list[bytes], wbits: int) -> list[bytes]:
    """Inflate one output byte per zlib call, so every back-reference is checked against the window.

    (Within one call zlib also copies from the output it has just produced, whatever the window size.)
    """
    decompressor = zlib.decompressobj(-wbits)
    out = []
    for payload in payloads:
        data, parts = payload + TAIL, []
        while True:
            chunk = decompressor.decompress(data, 1)
            parts.append(chunk)
            data = decompressor.unconsumed_tail
            if not data and not chunk:
                break
        out.append(b"".join(parts))
    return out


@pytest.mark.parametrize("bits", range(9, 16))
def test_s7_1_2_1_our_compressor_never_reaches_past_the_agreed_server_window(bits: int) -> None:
    codec = PerMessageDeflate(server_max_window_bits=bits)
    sent = [codec.compress(message) for message in messages()]
    assert reference_inflate(sent, wbits=bits) == messages()
    # A 1000-byte block repeated within a message and across messages: past a 9-bit window, not a 10-bit one.
    far = [BLOCK * 2, BLOCK, BLOCK]
    assert strict_inflate([codec.compress(message) for message in far], wbits=bits) == far


def test_s7_1_2_1_the_repeated_block_really_needs_more_than_a_9_bit_window() -> None:
    codec = PerMessageDeflate(server_max_window_bits=15)
    payload = codec.compress(BLOCK * 2)
    assert len(payload) < 1500
    with pytest.raises(zlib.error):
        strict_inflate([payload], wbits=9)


@pytest.mark.parametrize("bits", range(9, 16))
def test_s7_1_2_2_messages_compressed_within_the_agreed_client_window_inflate(bits: int) -> None:
    codec = PerMessageDeflate(client_max_window_bits=bits)
    for message, payload in zip(messages(), reference_compress(messages(), wbits=bits), strict=True):
        assert inflate_message(codec, payload) == message


def test_s7_1_2_2_a_client_reaching_past_its_agreed_window_into_an_earlier_message_fails_1007() -> None:
    first, second = reference_compress([BLOCK, BLOCK], wbits=15)
    codec = PerMessageDeflate(client_max_window_bits=9)
    assert inflate_message(codec, first) == BLOCK
    with pytest.raises(WebSocketError) as info:
        inflate_message(codec, second)
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_s7_1_2_2_an_8_bit_client_window_inflates_what_zlib_makes_when_asked_for_9_bits() -> None:
    # zlib cannot compress with 8 bits, so zlib clients that agreed 8 use 9; zlib never emits a distance over
    # window - 262, so their streams fit a 256-byte window.
    rng = random.Random(2)
    sent = [rng.randbytes(rng.randint(0, 300)) * 3 + bytes(rng.randint(0, 999)) for _ in range(30)]
    codec = PerMessageDeflate(client_max_window_bits=8)
    assert [inflate_message(codec, payload) for payload in reference_compress(sent, wbits=9)] == sent


def test_s7_1_2_2_an_8_bit_client_window_rejects_a_reference_300_bytes_into_the_previous_message() -> None:
    block = random.Random(2).randbytes(300)
    first, second = reference_compress([block, block], wbits=15)
    codec = PerMessageDeflate(client_max_window_bits=8)
    assert inflate_message(codec, first) == block
    with pytest.raises(WebSocketError) as info:
        inflate_message(codec, second)
    assert info.value.close_code == CloseCode.INVALID_DATA


# ------------------------------------------------------------------ corrupt data


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xff",  # reserved block type 11
        bytes.fromhex("0005001234") + b"Hello",  # stored block whose NLEN is not ~LEN
        bytes.fromhex("f2000f0000"),  # a distance before the start of the stream
    ],
    ids=["reserved-block-type", "bad-stored-length", "distance-too-far"],
)
def test_corrupt_deflate_data_fails_with_1007(payload: bytes) -> None:
    with pytest.raises(WebSocketError) as info:
        inflate_message(PerMessageDeflate(), payload)
    assert info.value.close_code == CloseCode.INVALID_DATA
    assert info.value.reason == "invalid compressed data"
