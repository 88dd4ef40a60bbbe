"""Every limit the engine enforces, named, defaulted, and documented with what it bounds.

Limits are checked before the work they bound: a frame header that declares more than allowed closes the
connection with 1009 before a single payload byte is buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits. ``None`` disables a limit (not recommended on a public server).

    max_frame_size:
        Largest payload one data frame may declare (cl-websocket's ``max-payload-length`` applies per
        message; this is per frame). Bounds memory held for one frame. Default 16 MiB.
    max_message_size:
        Largest reassembled (and, with compression, inflated) message. Bounds the memory of one message
        buffer. Default 16 MiB.
    max_frame_count:
        Most frames one fragmented message may use (cl-websocket's ``max-frame-count``). Bounds per-frame
        bookkeeping of slow-drip fragmented messages. Default 100,000.
    max_request_line:
        Longest HTTP request line in the opening handshake. Default 8 KiB.
    max_header_count:
        Most header lines in the opening handshake. Default 128.
    max_header_size:
        Longest single header line, and, times ``max_header_count``, the whole request head. Default 8 KiB.
    """

    max_frame_size: int | None = 16 * 1024 * 1024
    max_message_size: int | None = 16 * 1024 * 1024
    max_frame_count: int | None = 100_000
    max_request_line: int = 8 * 1024
    max_header_count: int = 128
    max_header_size: int = 8 * 1024
