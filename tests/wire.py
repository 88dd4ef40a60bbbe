"""Building client frames by hand for engine and conformance tests, independent of the engine's own code."""

from __future__ import annotations

import os
import struct

from livews.engine import Connection, Event

MASK = b"\x37\xfa\x21\x3d"


def client_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length_bytes: int | None = None,
) -> bytes:
    """A client frame; ``length_bytes`` (0, 2 or 8) forces a (possibly non-minimal) length encoding."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 0x10000 else 8
    mbit = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes((b0, mbit | n))
    elif length_bytes == 2:
        head = bytes((b0, mbit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, mbit | 127)) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def random_mask() -> bytes:
    return os.urandom(4)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def feed(conn: Connection, *chunks: bytes) -> list[Event]:
    """Feed chunks one by one and return every event produced (draining ``events_received`` each time)."""
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        while batch := conn.events_received():
            events.extend(batch)
    return events


def server_frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """Parse unmasked server output into (first byte, opcode, payload) triples; fails on a partial frame."""
    frames = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        pos += 2
        if n == 126:
            n = struct.unpack("!H", data[pos : pos + 2])[0]
            pos += 2
        elif n == 127:
            n = struct.unpack("!Q", data[pos : pos + 8])[0]
            pos += 8
        frames.append((b0, b0 & 0x0F, data[pos : pos + n]))
        pos += n
    assert pos == len(data), "partial frame in server output"
    return frames
