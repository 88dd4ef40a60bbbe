"""The WebSocket connection state machine (RFC 6455 §5-§7), server side, sans-I/O.

Bytes go in with ``receive_data``/``receive_eof``; events come out of ``events_received``; bytes to write come
out of ``data_to_send``. The driver (our asyncio protocol, or a test) owns the socket and the clocks.

A driver that can read into a buffer it is given (``recv_into``) may first ask ``receive_buffer()``: while
the payload of a large binary frame is arriving it is a writable view of the bytes that become the message,
and ``receive_buffer_updated(n)`` reports what was read into it. Otherwise it is None and the driver reads
into its own buffer and calls ``receive_data``. Either way the connection sees the same bytes in the same
order.

Frames are parsed in RFC order as bytes arrive. A data frame's payload is unmasked, inflated and UTF-8-checked
chunk by chunk, so a limit or an invalid byte fails the connection at the earliest frame, even the first chunk
of a frame, where the fault can be known. A frame that is complete in the input takes one flat fast path.

Protocol errors never raise out of ``receive_data``: the connection queues the close frame with the right
code, goes CLOSED, asks for the transport to be closed and reports ``CloseReceived`` with that code. When
valid messages came in the same read before the fault, the failure waits until the driver has taken them:
``events_received`` returns those messages first, so whatever the handler sends in answer goes out before the
close frame, and the failure on the following call. Drivers call ``events_received`` until it returns ``[]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterator
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ._compiled import speedups
from .assembler import MessageAssembler
from .codes import KNOWN_OPCODES, CloseCode, Opcode, is_valid_wire_close_code
from .deflate import COMPRESS_STEP, compressed_budget
from .errors import InvalidUTF8, MessageTooBig, ProtocolError, WebSocketError
from .events import (
    BinaryMessage,
    CloseReceived,
    Event,
    PingReceived,
    PongReceived,
    TextMessage,
)
from .frames import encode_close_payload, encode_frame, encode_header, encode_text_frame, fragment
from .limits import MessageLimits
from .masking import PayloadBuffer, apply_mask, unmask_chunks

if TYPE_CHECKING:
    from .deflate import PerMessageDeflate

__all__ = ["PLAIN_FRAMING", "Connection", "State", "check_close"]

_DEFAULT_LIMITS = MessageLimits()
_UNLIMITED = sys.maxsize
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_CLOSE = Opcode.CLOSE
_PING = Opcode.PING
_PONG = Opcode.PONG
#: Payloads at least this large are queued apart from their header and unmasked once per frame on receipt,
#: so they are copied as few times as possible.
_LARGE = 64 * 1024
#: Compressed messages at least this large are compressed ``COMPRESS_STEP`` bytes at a time
#: (``compress_step``), each step's output sent as a frame of a fragmented message, so that the driver can
#: serve other connections between steps; what is sent meanwhile waits behind them, in order.
_STEPPED = 2 * COMPRESS_STEP
#: Payloads below this are unmasked inline by the parser, sparing a call.
_SMALL = 1024

#: Reads a run of whole, ordinary data frames (``_speedups.read_messages``) where a new message may begin;
#: None without the accelerator, where the parser below does it all.
_read_messages: Callable[[bytes | bytearray | memoryview, int, int, list[Event]], int] | None = None
if speedups is not None:  # pragma: no cover - depends on the build
    speedups.use_event_types(TextMessage, BinaryMessage)
    _read_messages = speedups.read_messages

#: ``framing_key`` of every connection without compression: they all encode a message to the same bytes.
PLAIN_FRAMING = "plain"


class State(IntEnum):
    """Where the connection is in its life; the handshake happens before a ``Connection`` exists."""

    OPEN = 1
    CLOSING = 2  # we sent a close frame and wait for the peer's
    CLOSED = 3


_OPEN = State.OPEN


class Connection:
    """One server-side WebSocket connection after a successful opening handshake."""

    __slots__ = (
        "_events",
        "_frame_dest",
        "_frame_fin",
        "_frame_mask",
        "_frame_offset",
        "_frame_raw",
        "_frame_remaining",
        "_in",
        "_later",
        "_max_compressed",
        "_max_data_length",
        "_max_frame_count",
        "_max_frame_size",
        "_max_message_size",
        "_message",
        "_out",
        "_out_large",
        "_pending_failure",
        "_steps",
        "_steps_opcode",
        "_unbounded",
        "close_transport",
        "compressing",
        "deflate",
        "framing_key",
        "limits",
        "receiving_payload",
        "state",
        "version",
    )

    #: Binary messages can be sent, and a ping gets a pong (``interface.EngineConnection``; hixie-76 differs).
    supports_binary = True
    supports_ping = True

    def __init__(
        self,
        limits: MessageLimits = _DEFAULT_LIMITS,
        *,
        deflate: PerMessageDeflate | None = None,
        version: int = 13,
    ) -> None:
        self.limits = limits
        self.deflate = deflate
        self.version = version
        self.state = State.OPEN
        #: True once the driver should flush ``data_to_send()`` and close the TCP connection (§7.1.1: the
        #: server closes TCP first).
        self.close_transport = False
        #: Connections with equal non-None keys encode a given message to identical bytes (for broadcast).
        self.framing_key: Hashable | None = PLAIN_FRAMING if deflate is None else deflate.framing_key
        self._max_frame_size = limits.max_frame_size or _UNLIMITED
        self._max_message_size = limits.max_message_size or _UNLIMITED
        self._max_frame_count = limits.max_frame_count or _UNLIMITED
        self._max_compressed = compressed_budget(limits.max_message_size)
        #: The most payload a frame that starts a message may declare.
        self._max_data_length = min(self._max_frame_size, self._max_message_size)
        #: No limit bounds what a frame may declare, so nothing may be allocated from a declared length.
        self._unbounded = limits.max_frame_size is None and limits.max_message_size is None
        self._in = b""
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._out_large = False
        #: A large message being compressed in steps, and what was queued behind it (messages to encode
        #: when their turn comes, frames ready to go).
        self._steps: Iterator[tuple[bytes, bool]] | None = None
        #: Whether a large message is being compressed in steps: the driver calls ``compress_step`` once per
        #: loop turn until it is False (a plain attribute: broadcast reads it once per client).
        self.compressing = False
        self._steps_opcode: int = _CONT
        self._later: list[tuple[int, bytes, int | None, bool] | bytes] | None = None
        self._pending_failure: WebSocketError | None = None
        # The data frame whose payload is still arriving.
        self._frame_remaining = 0
        self._frame_fin = False
        self._frame_mask = b""
        self._frame_offset = 0
        #: Masked pieces of a binary uncompressed frame: nothing needs checking on the way, so the frame is
        #: unmasked once, into the message. A large piece that is most of its read is kept as a view of it
        #: (no copy); smaller ones are copied into a bytearray, so a frame dripped in tiny reads does not
        #: keep every read alive: the pieces hold at most 4/3 of the bytes received of the frame.
        self._frame_raw: list[memoryview | bytearray] | None = None
        #: Whether such a frame's payload is arriving (``_frame_raw`` or ``_frame_dest`` is set): only then
        #: can ``receive_buffer`` offer a view, so a driver asks it only then (a plain attribute: it is read
        #: before every read).
        self.receiving_payload = False
        #: Once the driver asks for ``receive_buffer`` (and the accelerator exists), a large binary
        #: uncompressed frame is read and unmasked straight into the bytes it becomes.
        self._frame_dest: Any = None
        #: The data message in flight that did not come whole in one frame and one read, if any.
        self._message: MessageAssembler | None = None

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport.

        Any bytes-like object: nothing refers to it after the call, so a driver may pass a view of a read
        buffer it reuses (whole ordinary frames are read from it in C; the rest is copied first).
        """
        if self.state is State.CLOSED or self._pending_failure is not None:
            return
        if self._in:
            data = self._in + data
            self._in = b""
        pos = 0
        read = _read_messages
        if read is not None and not self._frame_remaining and self._message is None and self.state is _OPEN:
            # Whole, ordinary data frames in C, up to the first frame that is anything else.
            pos = read(data, 0, self._max_data_length, self._events)
            if pos == len(data):
                return
        if type(data) is not bytes:
            data = bytes(data[pos:])  # the parser below keeps pieces of what it reads
            pos = 0
        try:
            pos = self._parse(data, pos)
        except WebSocketError as exc:
            self._in = b""
            if self._events:
                self._pending_failure = exc  # deliver the messages before the fault first
            else:
                self.fail(exc.close_code, exc.reason)
            return
        if pos < len(data):  # _parse consumes everything once it has closed the connection
            self._in = data[pos:]

    def receive_eof(self) -> None:
        """The peer closed its side of TCP: without a close frame that is 1006 (§7.1.5)."""
        if self.state is State.CLOSED or self._pending_failure is not None:
            return
        self._finish(CloseCode.ABNORMAL, "", by_peer=True)

    def receive_buffer(self) -> memoryview | None:
        """Where the driver may read the next bytes into, if a large payload is arriving; else None.

        Always None while ``receiving_payload`` is False.

        The view covers exactly the rest of the frame's payload, so nothing past the frame lands in it. It is
        valid until the next call on this connection; report what was read with ``receive_buffer_updated``.
        The message's bytes are allocated on the first call for a frame, so a driver that never asks keeps
        the path that unmasks a frame once it is complete.
        """
        # A failure or close clears both frame fields (``_finish``), and nothing fails in the middle of a
        # binary uncompressed payload, so a closed or failing connection never gets here with one set.
        dest = self._frame_dest
        if dest is None:
            raw = self._frame_raw
            if raw is None or PayloadBuffer is None:
                return None  # the common case: no binary payload is arriving
            size = self._frame_offset + self._frame_remaining
            if size < _LARGE:
                return None
            if self._unbounded and size > 2 * self._frame_offset + _LARGE:
                # No limit bounds the declared length: allocate only once half of it has arrived.
                return None
            dest = self._frame_dest = PayloadBuffer(size, self._frame_mask)
            for piece in raw:
                dest.write(piece)
            self._frame_raw = None
        return memoryview(dest)

    def receive_buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the view from ``receive_buffer`` (and nowhere else)."""
        dest = self._frame_dest
        if dest is None:
            raise RuntimeError("receive_buffer_updated without a receive buffer")
        dest.advance(nbytes)
        self._frame_offset += nbytes
        self._frame_remaining -= nbytes
        if not self._frame_remaining:
            self._frame_done()

    def events_received(self) -> list[Event]:
        """Events produced since the last call, oldest first; call again until it returns ``[]``."""
        events = self._events
        if events:
            self._events = []
            return events
        failure = self._pending_failure
        if failure is not None:
            self._pending_failure = None
            self.fail(failure.close_code, failure.reason)
            events = self._events
            self._events = []
        return events

    def _parse(self, data: bytes, pos: int) -> int:
        """Consume as much of ``data`` from ``pos`` as makes progress; return how far it got.

        The compiled reader, if any, has just been tried at ``pos``; it is tried again wherever a new
        message may begin further on (after a control frame or a fragmented message).
        """
        n = len(data)
        tried = pos
        events = self._events
        while True:
            remaining = self._frame_remaining
            if remaining:
                # The rest of a data frame's payload, as far as it has arrived.
                take = n - pos
                if take <= 0:
                    return pos
                if take > remaining:
                    take = remaining
                piece = memoryview(data)[pos : pos + take]
                if self._frame_dest is not None:
                    self._frame_dest.write(piece)
                elif self._frame_raw is not None:
                    raw = self._frame_raw
                    if take >= _LARGE and take * 4 >= n * 3:
                        raw.append(piece)  # a view keeps its whole read alive: only when mostly this piece
                    elif raw and type(raw[-1]) is bytearray:
                        raw[-1] += piece
                    else:
                        raw.append(bytearray(piece))
                else:
                    assert self._message is not None
                    self._message.add_payload(apply_mask(piece, self._frame_mask, self._frame_offset))
                pos += take
                self._frame_offset += take
                self._frame_remaining = remaining = remaining - take
                if remaining == 0:
                    self._frame_done()
                continue

            if pos != tried and _read_messages is not None and self._message is None and self.state is _OPEN:
                tried = pos = _read_messages(data, pos, self._max_data_length, events)

            # RFC 6455 §5.2: the first two bytes say enough to reject most bad frames at once.
            if n - pos < 2:
                return pos
            b0 = data[pos]
            b1 = data[pos + 1]
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            if b0 & 0x70:
                # §5.2 RSV1-3: must be 0 unless an extension defines them; RFC 7692 §6 defines RSV1 on the
                # first frame of a data message only.
                if b0 & 0x30 or self.deflate is None or opcode not in (_TEXT, _BINARY):
                    raise ProtocolError("reserved bits set")
            if opcode not in KNOWN_OPCODES:
                raise ProtocolError("reserved opcode")
            if not b1 & 0x80:
                raise ProtocolError("client frame not masked")  # §5.1
            length = b1 & 0x7F
            if opcode >= 8:
                if not fin:
                    raise ProtocolError("fragmented control frame")  # §5.5
                if length > 125:
                    raise ProtocolError("control frame too long")  # §5.5
            elif opcode == _CONT:
                if self._message is None:
                    raise ProtocolError("continuation without a message")  # §5.4
            elif self._message is not None:
                raise ProtocolError("new message inside a fragmented message")  # §5.4

            if length < 126:
                header = 6
                if n - pos < header:
                    return pos
            elif length == 126:
                header = 8
                if n - pos < header:
                    return pos
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                if length < 126:
                    raise ProtocolError("length not minimally encoded")  # §5.2
            else:
                header = 14
                if n - pos < header:
                    return pos
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise ProtocolError("length with the top bit set")  # §5.2
                if length < 0x10000:
                    raise ProtocolError("length not minimally encoded")  # §5.2
            mask = data[pos + header - 4 : pos + header]

            if opcode >= 8:
                # Control frames are small (≤125 bytes) and handled whole.
                end = pos + header + length
                if end > n:
                    return pos
                payload = apply_mask(data[pos + header : end], mask)
                pos = end
                self._control(opcode, payload)
                if self.state is State.CLOSED:
                    return n
                continue

            # Limits are checked on the declared length, before any payload is buffered.
            if length > self._max_frame_size:
                raise MessageTooBig("frame too big")
            message = self._message
            if message is None:
                compressed = bool(b0 & 0x40)
                if not compressed and length > self._max_message_size:
                    raise MessageTooBig("message too big")
            else:
                compressed = message.compressed
                if not compressed and message.size + length > self._max_message_size:
                    raise MessageTooBig("message too big")
            pos += header

            if opcode and fin and not compressed and n - pos >= length:
                # Fast path: a whole unfragmented, uncompressed message is in the input.
                if length < _SMALL:
                    # The pure-Python XOR inline: this is the pure path's message path (with the
                    # accelerator, whole frames like this one are read in C unless the state is CLOSING).
                    payload = (
                        int.from_bytes(data[pos : pos + length], "little")
                        ^ int.from_bytes((mask * ((length >> 2) + 1))[:length], "little")
                    ).to_bytes(length, "little")
                elif length < _LARGE:
                    payload = apply_mask(data[pos : pos + length], mask)
                else:
                    payload = apply_mask(memoryview(data)[pos : pos + length], mask)
                pos += length
                if self.state is State.OPEN:
                    if opcode == _TEXT:
                        try:
                            events.append(TextMessage(payload.decode("utf-8")))
                        except UnicodeDecodeError:
                            raise InvalidUTF8("invalid UTF-8 in text") from None
                    else:
                        events.append(BinaryMessage(payload))
                continue

            if message is None:
                message = self._message = MessageAssembler(
                    opcode,
                    self.deflate if compressed else None,
                    self._max_message_size,
                    self._max_compressed,
                )
            else:
                message.frames += 1
                if message.frames > self._max_frame_count:
                    raise MessageTooBig("too many frames in one message")
            self._frame_fin = bool(fin)
            self._frame_mask = mask
            self._frame_offset = 0
            self._frame_remaining = length
            if length and message.opcode == _BINARY and not compressed:
                self._frame_raw = []
                self.receiving_payload = True
            if length == 0:
                message.add_payload(b"")
                if fin:
                    self._end_message()

    def _frame_done(self) -> None:
        """The current data frame's payload is all in."""
        message = self._message
        assert message is not None
        self.receiving_payload = False
        dest = self._frame_dest
        if dest is not None:
            self._frame_dest = None
            message.add(dest.take())
        elif self._frame_raw is not None:
            raw = self._frame_raw
            self._frame_raw = None
            message.add(unmask_chunks(raw, self._frame_mask))
        if self._frame_fin:
            self._end_message()

    def _end_message(self) -> None:
        message = self._message
        assert message is not None
        event = message.finish()
        self._message = None
        if self.state is State.OPEN:  # §7.1.2: after sending close, data is discarded
            self._events.append(event)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == _PING:
            if self.state is State.OPEN:
                self._out.append(encode_frame(_PONG, payload))  # §5.5.2: pong with the same payload
                self._events.append(PingReceived(payload))
        elif opcode == _PONG:
            if self.state is State.OPEN:
                self._events.append(PongReceived(payload))
        else:
            code, reason = _parse_close(payload)
            if self.state is State.OPEN or self._later is not None:  # we have not sent a close frame yet
                self._steps = self._later = None  # the peer reads no more data (§5.5.1)
                self.compressing = False
                # §5.5.1: answer with a close frame, echoing the code.
                self._out.append(
                    encode_frame(_CLOSE, encode_close_payload(None if code == CloseCode.NO_STATUS else code))
                )
                self._finish(code, reason, by_peer=True)
            else:
                self._finish(code, reason, by_peer=False)

    # ----------------------------------------------------------------- output

    def data_to_send(self) -> bytes:
        """Bytes to write to the transport now (``b""`` if none)."""
        return b"".join(self.chunks_to_send())

    def chunks_to_send(self) -> list[bytes]:
        """The same bytes as ``data_to_send``, with each large payload as a chunk of its own.

        Writing a large payload by itself lets the transport send it without first copying it into a join.
        """
        out = self._out
        if not out:
            return out
        self._out = []
        if len(out) == 1 or self._out_large:
            self._out_large = False
            return out
        return [b"".join(out)]

    def encode_message(
        self, opcode: int, data: bytes, *, frame_size: int | None = None, compress: bool = True
    ) -> bytes:
        """A data message as wire bytes, compressed if agreed and worth it; queues nothing.

        With context takeover the compressor's state advances, so the bytes are for this connection only.
        """
        rsv1 = False
        deflate = self.deflate
        if compress and deflate is not None and len(data) >= deflate.min_size:
            data = deflate.compress(data)
            rsv1 = True
        if frame_size is None or len(data) <= frame_size:
            return encode_frame(opcode, data, True, rsv1)
        return b"".join(fragment(opcode, data, frame_size, rsv1))

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Queue a text message; dropped if the connection is no longer open."""
        if self.state is _OPEN:
            if frame_size is None and self.deflate is None and len(text) < _LARGE:
                self._out.append(encode_text_frame(text))
            else:
                self._queue(_TEXT, text.encode("utf-8"), frame_size, compress)

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Queue a binary message; dropped if the connection is no longer open."""
        if self.state is _OPEN:
            if type(data) is bytes and frame_size is None and self.deflate is None and len(data) < _LARGE:
                self._out.append(encode_frame(_BINARY, data))
            else:
                self._queue(_BINARY, bytes(data), frame_size, compress)

    def _queue(self, opcode: int, data: bytes, frame_size: int | None, compress: bool) -> None:
        if self._later is not None:
            self._later.append((opcode, data, frame_size, compress))  # behind a message still compressing
        elif frame_size is None and len(data) >= _LARGE and (not compress or self.deflate is None):
            self._out.append(encode_header(opcode, len(data)))
            self._out.append(data)
            self._out_large = True
        elif frame_size is None and len(data) >= _STEPPED and compress and self.deflate is not None:
            self._steps = self.deflate.compress_steps(data)
            self._steps_opcode = opcode
            self._later = []
            self.compressing = True
        else:
            self._out.append(self.encode_message(opcode, data, frame_size=frame_size, compress=compress))

    def compress_step(self) -> None:
        """Compress the next ``COMPRESS_STEP`` bytes of the large message and queue their frame (RSV1 on the
        first only, §7.2.1; FIN on the last). After its last frame, queue what waited behind it, in order."""
        steps = self._steps
        if steps is None:
            return
        piece, last = next(steps)
        if piece or last:
            opcode = self._steps_opcode
            self._out.append(encode_frame(opcode, piece, last, opcode != _CONT))
            self._steps_opcode = _CONT
        if not last:
            return
        self._steps = None
        self.compressing = False
        later = self._later or []
        self._later = None
        for i, item in enumerate(later):
            if type(item) is tuple:
                self._queue(*item)
                if self._later is not None:  # another large one: the rest waits behind it
                    self._later.extend(later[i + 1 :])
                    return
            else:
                self._out.append(item)  # type: ignore[arg-type]

    def send_encoded(self, frame: bytes) -> None:
        """Queue bytes made by ``encode_message`` of a connection with the same ``framing_key``."""
        if self.state is State.OPEN:
            if self._later is not None:
                self._later.append(frame)
            else:
                self._out.append(frame)

    def send_ping(self, payload: bytes = b"") -> None:
        if len(payload) > 125:
            raise ValueError("ping payload must be at most 125 bytes")  # §5.5
        if self.state is State.OPEN:
            self._out.append(encode_frame(_PING, bytes(payload)))

    def send_pong(self, payload: bytes = b"") -> None:
        if len(payload) > 125:
            raise ValueError("pong payload must be at most 125 bytes")  # §5.5
        if self.state is State.OPEN:
            self._out.append(encode_frame(_PONG, bytes(payload)))

    def send_close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake (§7.1.2); the peer's close frame then finishes it."""
        check_close(code, reason)
        if self.state is State.OPEN:
            frame = encode_frame(_CLOSE, encode_close_payload(code, reason))
            if self._later is not None:
                self._later.append(frame)  # after the messages sent before it
            else:
                self._out.append(frame)
            self.state = State.CLOSING

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (§7.1.7): send a close frame if we still may, and finish now."""
        if self.state is State.CLOSED:
            return
        if self.state is State.OPEN or self._later is not None:  # our close frame was not sent yet
            self._steps = self._later = None  # §5.4: a close may end a fragmented message midway
            self.compressing = False
            reason = _truncate_reason(reason)
            self._out.append(encode_frame(_CLOSE, encode_close_payload(code, reason)))
        self._finish(code, reason, by_peer=False)

    def _finish(self, code: int, reason: str, *, by_peer: bool) -> None:
        self.state = State.CLOSED
        self.close_transport = True
        self._steps = self._later = None
        self.compressing = False
        self._in = b""
        self._frame_remaining = 0
        self._frame_raw = None
        self._frame_dest = None
        self.receiving_payload = False
        self._message = None
        self._events.append(CloseReceived(code, reason, by_peer))


def check_close(code: int, reason: str) -> None:
    """Raise ``ValueError`` unless ``code`` and ``reason`` may be sent in a close frame (§5.5.1, §7.4)."""
    if not is_valid_wire_close_code(code):
        raise ValueError(f"close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)")
    if len(reason.encode("utf-8")) > 123:
        raise ValueError("close reason must encode to at most 123 UTF-8 bytes")


def _truncate_reason(reason: str) -> str:
    data = reason.encode("utf-8")
    if len(data) <= 123:
        return reason
    return data[:123].decode("utf-8", "ignore")


def _parse_close(payload: bytes) -> tuple[int, str]:
    """Code and reason of a received close frame (§5.5.1, §7.4), failing on what the RFC forbids."""
    if not payload:
        return CloseCode.NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_wire_close_code(code):
        raise ProtocolError("invalid close code")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUTF8("invalid UTF-8 in close reason") from None
    return code, reason
