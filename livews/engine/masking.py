"""Unmasking of client payloads (RFC 6455 §5.3), chunk by chunk.

A payload may arrive in pieces; ``offset`` is how many payload bytes came before this piece, so the key
rotates to where the previous piece left off. Pure Python, using one big-integer XOR, which runs at memory
speed for large payloads. An optional compiled accelerator replaces ``apply_mask`` when it is importable.
"""

from __future__ import annotations

__all__ = ["apply_mask"]


def _apply_mask_py(data: bytes | bytearray | memoryview, mask: bytes, offset: int = 0) -> bytes:
    """Return ``data`` XOR the 4-byte ``mask`` repeated, starting ``offset`` bytes into the key."""
    n = len(data)
    if n == 0:
        return b""
    if offset & 3:
        k = offset & 3
        mask = mask[k:] + mask[:k]
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


try:  # pragma: no cover - depends on the build
    from ._speedups import apply_mask as apply_mask  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    apply_mask = _apply_mask_py
