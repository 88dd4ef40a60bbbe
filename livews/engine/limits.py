"""Every limit the engine enforces, named, defaulted, and documented with what it bounds.

Two kinds, one owner each. ``HandshakeLimits`` bound the opening handshake, read before anyone knows which
resource a request is for, so the server owns them (``Server(limits=...)``). ``MessageLimits`` bound the
frames and messages of an open connection, so the resource it was accepted for owns them
(``Resource(max_frame_size=...)``). Keeping them apart means a limit given to the wrong owner is a type
error, never a value silently ignored.

Limits are checked before the work they bound: a frame header that declares more than allowed closes the
connection with 1009 before a single payload byte is buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HandshakeLimits", "MessageLimits"]


@dataclass(frozen=True, slots=True)
class HandshakeLimits:
    """Limits of the opening handshake (the server's), each checked as the bytes that break it arrive.

    max_request_line:
        Longest HTTP request line in the opening handshake (414 past it). Default 8 KiB.
    max_header_count:
        Most header lines in the opening handshake (431 past it). Default 128.
    max_header_size:
        Longest single header line (431 past it). Default 8 KiB.
    max_head_size:
        Largest whole request head, request line, headers and line ends included (431 past it). Bounds the
        memory one handshake in progress holds and the work of parsing it (linear in its size). Default
        16 KiB, what h11 (so uvicorn) and Node accept: browsers' heads are well under it, cookies included.
    max_list_items:
        Most elements a list-valued handshake header may hold, over all its lines: offers in
        ``Sec-WebSocket-Extensions`` (parameters included), tokens in ``Sec-WebSocket-Protocol``,
        ``Connection`` and ``Upgrade`` (400 past it). Bounds the objects made while they are parsed.
        Default 64.

    A connection in its handshake holds at most ``max_head_size`` bytes.
    """

    max_request_line: int = 8 * 1024
    max_header_count: int = 128
    max_header_size: int = 8 * 1024
    max_head_size: int = 16 * 1024
    max_list_items: int = 64


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """Limits of an open connection's frames and messages (a resource's). ``None`` disables a limit (not
    recommended on a public server).

    max_frame_size:
        Largest payload one data frame may declare (cl-websocket's ``max-payload-length`` applies per
        message; this is per frame). Bounds memory held for one frame. Default 16 MiB.
    max_message_size:
        Largest reassembled (and, with compression, inflated) message. Bounds the memory of one message
        buffer. Default 16 MiB.
    max_frame_count:
        Most frames one fragmented message may use (cl-websocket's ``max-frame-count``). Bounds per-frame
        bookkeeping of slow-drip fragmented messages. Default 100,000.

    Memory a connection can be made to hold, whatever it sends and however it splits it: a message in flight
    about twice ``max_message_size``: its pieces (at most 4/3 of the bytes received: tiny reads are copied
    together, not kept alive one by one), then the message they become. A text message is kept as UTF-8 and
    decoded once, so on top of the ``str`` handed over (which Python stores at 1, 2 or 4 bytes per
    character) it costs its bytes and the decoder's scratch, about twice its size. A compressed message also
    consumes at most ``compressed_budget(max_message_size)`` of input (deflate module). With limits of
    ``None`` nothing is allocated ahead of the bytes received: memory follows the data, never a declared
    length.
    """

    max_frame_size: int | None = 16 * 1024 * 1024
    max_message_size: int | None = 16 * 1024 * 1024
    max_frame_count: int | None = 100_000
