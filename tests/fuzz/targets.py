"""Fuzz targets for the engine: one function per attack surface, each taking any bytes.

A target returns normally for every input the engine handles as the RFCs ask (including refusing it); it
raises ``AssertionError`` when an invariant breaks, and lets any other exception escape, which is a crash.
``bench/fuzz.py`` drives them with atheris (coverage-guided) or a bounded mutation fuzzer; ``test_corpus``
replays every input kept under ``corpus/<target>/``. The first bytes of an input choose options (limits,
compression, how the bytes are split), so the fuzzer explores those too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from livews.engine import (
    BinaryMessage,
    CloseReceived,
    Connection,
    HandshakeError,
    HandshakeLimits,
    MessageLimits,
    PingReceived,
    PongReceived,
    State,
    TextMessage,
    WebSocketError,
)
from livews.engine.deflate import DeflateConfig, PerMessageDeflate, compressed_budget, negotiate
from livews.engine.handshake import HeadReader, accept_response

__all__ = ["TARGETS", "deflate", "frames", "handshake"]

#: Close codes the engine may fail a connection with, or report from a peer's valid close frame.
_ENGINE_CODES = {1002, 1007, 1009}
_SMALL = MessageLimits(max_frame_size=4096, max_message_size=8192, max_frame_count=16)
_SMALL_HEAD = HandshakeLimits(
    max_request_line=256,
    max_header_count=16,
    max_header_size=256,
    max_head_size=1024,
    max_list_items=8,
)
_LIMITS = (
    MessageLimits(),
    _SMALL,
    MessageLimits(max_frame_size=None, max_message_size=None, max_frame_count=None),
)
_HEAD_LIMITS = (HandshakeLimits(), _SMALL_HEAD)


def _pieces(data: bytes, sizes: bytes) -> Iterator[bytes]:
    """``data`` cut at sizes taken in turn from ``sizes`` (1..256 bytes each; whole if ``sizes`` is empty)."""
    if not sizes:
        yield data
        return
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)] + 1
        yield data[pos : pos + size]
        pos += size
        i += 1


def frames(data: bytes) -> None:
    """Any bytes after an accepted handshake: only events, close frames with the right codes, no raise."""
    if len(data) < 3:
        return
    options, split = data[0], data[1 : 1 + (data[1] & 7)]
    stream = data[1 + (data[1] & 7) :]
    deflate = PerMessageDeflate(client_no_context_takeover=bool(options & 8)) if options & 1 else None
    conn = Connection(_LIMITS[(options >> 1) % 3], deflate=deflate)
    use_buffer = bool(options & 16)
    closed = False
    for piece in _pieces(stream, split):
        view = conn.receive_buffer() if use_buffer else None
        if view is not None:
            n = min(len(view), len(piece))
            view[:n] = piece[:n]
            conn.receive_buffer_updated(n)
            piece = piece[n:]
        if piece:
            conn.receive_data(piece)
        while events := conn.events_received():
            for event in events:
                assert not closed, "an event after CloseReceived"
                if isinstance(event, CloseReceived):
                    closed = True
                    assert conn.state is State.CLOSED
                    if not event.by_peer:
                        assert event.code in _ENGINE_CODES, event
                else:
                    assert isinstance(event, TextMessage | BinaryMessage | PingReceived | PongReceived)
        conn.data_to_send()
        if closed:
            break
    conn.receive_eof()
    events = conn.events_received()
    assert closed or (len(events) == 1 and isinstance(events[0], CloseReceived)), events


def handshake(data: bytes) -> None:
    """Any bytes as a request head, in any split: a Request, None (incomplete) or a HandshakeError."""
    if len(data) < 2:
        return
    limits = _HEAD_LIMITS[data[0] % 2]
    split = data[1:2] if data[0] & 2 else b""
    head = data[2:]
    reader = HeadReader(limits)
    try:
        for piece in _pieces(head, split):
            request = reader.feed(piece)
            if request is None:
                assert len(reader) <= limits.max_head_size, "an incomplete head held past max_head_size"
            else:
                assert 0 < request.consumed <= len(head)
                accept_response(request)
                extensions, codec = negotiate(request.extensions, DeflateConfig())
                assert (extensions is None) == (codec is None)
                return
    except HandshakeError as exc:
        assert 400 <= exc.status < 500, exc


def deflate(data: bytes) -> None:
    """Any bytes as a compressed message, in any split, under a budget: data, 1009 or 1007, nothing else."""
    if len(data) < 2:
        return
    options, split = data[0], data[1:2] if data[0] & 1 else b""
    budget = (256, 64 * 1024, None)[(options >> 1) % 3]
    max_input = compressed_budget(budget)
    codec = PerMessageDeflate(client_max_window_bits=8 + (options >> 4) % 8)
    out = 0
    try:
        for piece in _pieces(data[2:], split):
            out += len(codec.inflate(piece, None if budget is None else budget - out, max_input))
        out += len(codec.inflate_finish(None if budget is None else budget - out))
    except WebSocketError as exc:
        assert exc.close_code in (1007, 1009), exc
    if budget is not None:
        assert out <= budget
    negotiate(data.decode("latin-1"), DeflateConfig())


TARGETS: dict[str, Callable[[bytes], None]] = {"frames": frames, "handshake": handshake, "deflate": deflate}
