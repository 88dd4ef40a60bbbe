"""The client side of hixie-76 (draft-76 §4.1), written from the draft for tests, independent of the engine.

Makes keys the way the draft's client does, builds the opening handshake and text frames, and computes the
16 bytes a correct server must answer with.
"""

from __future__ import annotations

import hashlib
import random
import struct

__all__ = ["ClientKeys", "closing_frame", "make_keys", "opening_handshake", "text_frame"]

_NOISE = [chr(c) for c in range(0x21, 0x30)] + [chr(c) for c in range(0x3A, 0x7F)]


class ClientKeys:
    """Key1, key2, key3 of one handshake and the response they call for."""

    def __init__(self, key1: str, key2: str, key3: bytes, expected: bytes) -> None:
        self.key1 = key1
        self.key2 = key2
        self.key3 = key3
        self.expected = expected


def _make_key(rng: random.Random) -> tuple[str, int]:
    spaces = rng.randint(1, 12)
    number = rng.randint(0, 0xFFFFFFFF // spaces)
    key = list(str(number * spaces))
    for _ in range(rng.randint(1, 12)):
        key.insert(rng.randint(0, len(key)), rng.choice(_NOISE))
    for _ in range(spaces):
        key.insert(rng.randint(1, len(key) - 1), " ")  # never first or last
    return "".join(key), number


def make_keys(seed: int = 0) -> ClientKeys:
    """Keys as draft §4.1 step 21-24 makes them, from a seeded generator."""
    rng = random.Random(seed)
    key1, number1 = _make_key(rng)
    key2, number2 = _make_key(rng)
    key3 = bytes(rng.randrange(256) for _ in range(8))
    expected = hashlib.md5(struct.pack(">II", number1, number2) + key3).digest()
    return ClientKeys(key1, key2, key3, expected)


def opening_handshake(
    keys: ClientKeys,
    *,
    path: str = "/",
    host: str = "example.com",
    origin: str | None = "http://example.com",
    protocol: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """The client's handshake: head with both keys, then the eight key3 bytes."""
    lines = [
        f"GET {path} HTTP/1.1",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        f"Host: {host}",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    lines.append(f"Sec-WebSocket-Key1: {keys.key1}")
    lines.append(f"Sec-WebSocket-Key2: {keys.key2}")
    for name, value in extra or ():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + keys.key3


def text_frame(text: str | bytes) -> bytes:
    """A client text frame: 0x00, the UTF-8 bytes, 0xFF."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return b"\x00" + data + b"\xff"


def closing_frame() -> bytes:
    return b"\xff\x00"
