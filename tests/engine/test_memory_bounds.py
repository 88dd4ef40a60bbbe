"""What a peer can make one connection hold is bounded by the limits, whatever it sends and however it
splits it: dripped frames keep their bytes, not their reads; text keeps its UTF-8, not pieces of decoded
text; and with limits of None nothing is allocated from a declared length."""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc

import pytest

from livews.engine import BinaryMessage, Connection, MessageLimits, TextMessage, masking
from livews.engine.deflate import PerMessageDeflate
from tests.wire import client_frame, feed

MiB = 1024 * 1024
UNLIMITED = MessageLimits(max_frame_size=None, max_message_size=None, max_frame_count=None)


def held_while_feeding(conn: Connection, pieces: list[bytes]) -> int:
    """Bytes still allocated (tracemalloc) after feeding ``pieces``, each a fresh object like a read."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for piece in pieces:
            conn.receive_data(bytes(bytearray(piece)))  # a new object each time, as a socket read gives
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_a_frame_dripped_two_bytes_per_read_holds_about_its_bytes_not_its_reads(opcode: int) -> None:
    # Each read used to be kept alive by a view of it (hundreds of bytes per byte received).
    size = 20_000
    payload = os.urandom(size) if opcode == 0x2 else b"x" * size
    frame = client_frame(opcode, payload)
    conn = Connection()
    held = held_while_feeding(conn, split(frame[:-1], 2))
    assert held < 2 * size
    expected = payload if opcode == 0x2 else payload.decode()
    assert feed(conn, frame[-1:])[0].data == expected


def test_a_fragmented_message_of_tiny_frames_holds_about_its_bytes() -> None:
    frames = [client_frame(0x2 if i == 0 else 0x0, os.urandom(3), fin=False) for i in range(5000)]
    conn = Connection()
    held = held_while_feeding(conn, frames)
    assert held < 2 * 3 * 5000
    assert len(feed(conn, client_frame(0x0, b"end"))[0].data) == 15_003


def test_a_compressed_message_dripped_one_byte_per_read_holds_about_its_inflated_bytes() -> None:
    import zlib

    message = os.urandom(8000)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = client_frame(0x2, body, rsv=4)
    conn = Connection(deflate=PerMessageDeflate())
    conn.receive_data(frame[:20])  # the inflater's own state is made here, outside the count
    held = held_while_feeding(conn, split(frame[20:-1], 2))
    assert held < 2 * len(message)
    assert feed(conn, frame[-1:]) == [BinaryMessage(message)]


def test_large_pieces_of_a_binary_frame_are_kept_as_views_without_a_copy() -> None:
    # The large-message path is unchanged: a 1 MiB frame in 256 KiB reads keeps the reads, copies nothing.
    size = MiB
    frame = client_frame(0x2, os.urandom(size))
    conn = Connection()
    held = held_while_feeding(conn, split(frame[:-1], 256 * 1024))
    assert held < size + 64 * 1024  # the reads themselves, plus small change: no second copy
    assert len(feed(conn, frame[-1:])[0].data) == size


def test_text_with_characters_outside_the_bmp_peaks_near_its_bytes_plus_the_text() -> None:
    # One emoji per KiB made every decoded piece 4 bytes per character, then their join as much again.
    size = 4 * MiB
    text = ("a" * 1020 + "\U0001f600") * (size // 1024)
    data = text.encode()
    frame = client_frame(0x1, data)
    pieces = split(frame, 64 * 1024)
    conn = Connection()
    gc.collect()
    tracemalloc.start()
    try:
        for piece in pieces:
            conn.receive_data(piece)
        (event,) = conn.events_received()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert event == TextMessage(text)
    # The UTF-8 bytes kept, and the decoder's one byte per character before it widens: twice the bytes.
    assert peak - sys.getsizeof(event.data) < 2.3 * len(data)


@pytest.mark.parametrize("declared", [2**35, 2**40, 2**62])
def test_with_limits_of_none_a_huge_declared_length_allocates_nothing(declared: int) -> None:
    # receive_buffer() used to allocate what the header declared: MemoryError from 2**35 bytes.
    conn = Connection(UNLIMITED)
    header = client_frame(0x2, b"", length_bytes=8)[:2] + declared.to_bytes(8, "big") + b"\0\0\0\0"
    held = held_while_feeding(conn, [header, b"x" * 100_000])
    assert conn.receive_buffer() is None
    assert held < 300_000


@pytest.mark.skipif(masking.PayloadBuffer is None, reason="receive_buffer needs the compiled accelerator")
def test_with_limits_of_none_the_receive_buffer_comes_once_half_the_frame_is_in() -> None:
    size = 4 * MiB
    payload = os.urandom(size)
    frame = client_frame(0x2, payload)
    conn = Connection(UNLIMITED)
    conn.receive_data(frame[: 14 + size // 4])
    assert conn.receive_buffer() is None
    conn.receive_data(frame[14 + size // 4 : 14 + size // 2 + 1])
    view = conn.receive_buffer()
    assert view is not None and len(view) == size // 2 - 1
    view[:] = frame[14 + size // 2 + 1 :]
    conn.receive_buffer_updated(len(view))
    assert conn.events_received() == [BinaryMessage(payload)]


@pytest.mark.skipif(masking.PayloadBuffer is None, reason="receive_buffer needs the compiled accelerator")
def test_with_a_frame_limit_the_receive_buffer_is_offered_at_once() -> None:
    # The declared length is bounded by the configuration, so the fast path reads straight into it.
    frame = client_frame(0x2, os.urandom(MiB))
    conn = Connection()
    conn.receive_data(frame[:14])
    view = conn.receive_buffer()
    assert view is not None and len(view) == MiB


@pytest.mark.skipif(masking.PayloadBuffer is None, reason="receive_buffer needs the compiled accelerator")
@pytest.mark.parametrize("read_size", [7, 1000, 16 * 1024, 70_000])
def test_a_receive_buffer_is_offered_only_while_receiving_payload_says_so(read_size: int) -> None:
    # A driver asks for a buffer only while the flag is set: it must never miss one that would be offered.
    payload = os.urandom(3 * 64 * 1024)
    stream = (
        client_frame(0x1, b"hi")
        + client_frame(0x2, payload)
        + client_frame(0x9, b"p")
        + client_frame(0x2, payload)
    )
    conn = Connection()
    offered = 0
    pos = 0
    while pos < len(stream):
        flag = conn.receiving_payload
        view = conn.receive_buffer()
        if view is not None:
            assert flag
            offered += 1
            n = min(len(view), read_size, len(stream) - pos)
            view[:n] = stream[pos : pos + n]
            conn.receive_buffer_updated(n)
        else:
            n = min(read_size, len(stream) - pos)
            conn.receive_data(stream[pos : pos + n])
        pos += n
    assert offered > 0
    assert not conn.receiving_payload
    events = conn.events_received()
    assert [e for e in events if type(e) is BinaryMessage] == [BinaryMessage(payload)] * 2
    conn.receive_data(client_frame(0x2, payload)[:100])  # a payload starts, then TCP ends under it
    assert conn.receiving_payload
    conn.receive_eof()
    assert not conn.receiving_payload
