"""Unmasking of client payloads (RFC 6455 §5.3), chunk by chunk.

A payload may arrive in pieces; ``offset`` is how many payload bytes came before this piece, so the key
rotates to where the previous piece left off. Pure Python, using one big-integer XOR, which runs at memory
speed for large payloads. The optional compiled accelerator (see ``_compiled``) replaces ``apply_mask``
when it is there. Both paths accept any bytes-like ``data`` and raise ValueError for a mask that is not
4 bytes.

``PayloadBuffer`` exists only in the accelerator (it is None on the pure path): a bytes object that a reader
fills in place, through its writable buffer, and that unmasks itself as it fills. It lets a large payload go
from the socket into the message it becomes without a buffer in between. Python cannot make a bytes object
without initialising it, and a zero-filled buffer would make a peer's declared length resident at once, so
the pure path keeps copying from the driver's read buffer instead.
"""

from __future__ import annotations

from typing import Any

from ._compiled import speedups

__all__ = ["PayloadBuffer", "apply_mask", "unmask_chunks"]


def _apply_mask_py(data: bytes | bytearray | memoryview, mask: bytes, offset: int = 0) -> bytes:
    """Return ``data`` XOR the 4-byte ``mask`` repeated, starting ``offset`` bytes into the key."""
    if len(mask) != 4:
        raise ValueError(f"mask must be 4 bytes, got {len(mask)}")
    n = len(data)
    if n == 0:
        return b""
    if offset & 3:
        k = offset & 3
        mask = mask[k:] + mask[:k]
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _unmask_chunks_py(chunks: list[memoryview | bytearray], mask: bytes) -> bytes:
    """The chunks of one payload, concatenated and unmasked as a whole."""
    return _apply_mask_py(b"".join(chunks), mask)


apply_mask = _apply_mask_py
unmask_chunks = _unmask_chunks_py
PayloadBuffer: Any = None
if speedups is not None:  # pragma: no cover - depends on the build
    apply_mask = speedups.apply_mask
    unmask_chunks = speedups.unmask_chunks
    PayloadBuffer = speedups.PayloadBuffer
