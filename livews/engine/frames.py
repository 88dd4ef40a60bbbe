"""Serialising server frames (RFC 6455 §5.2); parsing lives in ``connection`` where it streams.

Server frames are never masked (§5.1), so a frame's bytes depend only on opcode, flags and payload: encode it
once and the same bytes can go to any number of clients.
"""

from __future__ import annotations

import struct

from ._compiled import speedups
from .codes import Opcode

__all__ = ["encode_close_payload", "encode_frame", "encode_header", "encode_text_frame", "fragment"]

_pack_short = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def _encode_frame_py(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """One unmasked frame as bytes, header and payload together."""
    return encode_header(opcode, len(payload), fin, rsv1) + payload


def _encode_text_frame_py(text: str) -> bytes:
    """One unfragmented, uncompressed text frame of ``text``."""
    data = text.encode("utf-8")
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    return encode_header(Opcode.TEXT, n) + data


def encode_header(opcode: int, length: int, fin: bool = True, rsv1: bool = False) -> bytes:
    """Just the header of an unmasked frame, for payloads large enough to be written without a copy."""
    b0 = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    if length < 126:
        return bytes((b0, length))
    if length < 0x10000:
        return _pack_short(b0, 126, length)
    return _pack_long(b0, 127, length)


def fragment(opcode: int, payload: bytes, frame_size: int, rsv1: bool = False) -> list[bytes]:
    """A message split into frames of at most ``frame_size`` payload bytes (§5.4); RSV1 on the first only."""
    if frame_size < 1:
        raise ValueError("frame_size must be at least 1")
    if len(payload) <= frame_size:
        return [encode_frame(opcode, payload, True, rsv1)]
    view = memoryview(payload)
    last = len(payload) - frame_size
    frames = [encode_frame(opcode, bytes(view[:frame_size]), False, rsv1)]
    pos = frame_size
    while pos < last:
        frames.append(encode_frame(Opcode.CONT, bytes(view[pos : pos + frame_size]), False))
        pos += frame_size
    frames.append(encode_frame(Opcode.CONT, bytes(view[pos:]), True))
    return frames


encode_frame = _encode_frame_py
encode_text_frame = _encode_text_frame_py
if speedups is not None:  # pragma: no cover - depends on the build
    # Header and payload in one allocation, and ASCII text framed straight from the str: one copy.
    encode_frame = speedups.encode_frame
    encode_text_frame = speedups.encode_text_frame


def encode_close_payload(code: int | None, reason: str = "") -> bytes:
    """Close frame payload: nothing for "no status", else the 2-byte code and the UTF-8 reason (§5.5.1)."""
    if code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode("utf-8")
