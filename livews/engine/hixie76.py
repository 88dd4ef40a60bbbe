"""The legacy hixie-76 protocol, server side, sans-I/O.

draft-hixie-thewebsocketprotocol-76, identical to draft-ietf-hybi-thewebsocketprotocol-00. Very old clients
speak this pre-RFC draft. It is off by default: the server imports this module only when its
``legacy_hixie76`` switch is on, so it costs nothing otherwise. Nothing here knows about sockets or the
server.

What the draft gives, and how it maps onto the engine's RFC 6455 interface:

- Handshake (draft §5.1-§5.2): ``Sec-WebSocket-Key1``/``Key2`` carry a number hidden among digits and spaces,
  eight more bytes follow the request head, and the response ends with the MD5 of both numbers and those
  bytes. ``parse_request`` returns ``None`` until the head *and* the eight bytes have arrived.
- Framing (draft §5.3): text frames are ``0x00 <UTF-8> 0xFF``; a frame type with the high bit set is
  followed by a 7-bit-group length and its bytes are read and discarded, except ``0xFF 0x00``, the closing
  frame. Sentinel frames of a type other than ``0x00`` are discarded too. There are no binary messages, no
  ping/pong and no close codes.
- ``Hixie76Connection`` has the interface of ``livews.engine.connection.Connection``, with these documented
  differences: ``version`` is ``0`` (the hybi-00 entry of the IANA WebSocket version registry);
  ``send_binary`` raises ``TypeError``; ``send_ping``/``send_pong`` send nothing (keepalive must not wait for
  a pong: ``supports_ping`` is False); ``framing_key`` is ``"hixie76"``, so broadcast groups these clients on
  their own, and ``supports_binary`` is False, so a binary broadcast skips them; ``frame_size`` and
  ``compress`` are ignored.
- Errors close the transport without a closing frame (the draft has no way to say why), and
  ``CloseReceived`` carries the RFC 6455 code a handler would expect: 1007 for invalid UTF-8, 1009 for a
  limit, 1002 for an absurd length. A clean close started by the client reports 1005 (no status), as an
  RFC 6455 close frame without a code does.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Hashable
from dataclasses import dataclass, field

from .codes import CloseCode, Opcode
from .connection import State, check_close
from .errors import HandshakeError, InvalidUTF8, MessageTooBig, ProtocolError, WebSocketError
from .events import CloseReceived, Event, TextMessage
from .handshake import Headers
from .limits import HandshakeLimits, MessageLimits
from .utf8 import Utf8Decoder

__all__ = [
    "HIXIE76_FRAMING",
    "HIXIE76_VERSION",
    "Hixie76Connection",
    "Hixie76Request",
    "accept_response",
    "challenge_response",
    "is_hixie76",
    "is_hixie76_request",
    "key_number",
    "parse_request",
]

#: ``version`` of a hixie-76 connection: hybi-00 is entry 0 of the IANA WebSocket Version Number registry,
#: next to 7, 8 and 13.
HIXIE76_VERSION = 0
#: ``framing_key`` of every hixie-76 connection: they all encode a text message to the same bytes, and those
#: bytes differ from RFC 6455 frames.
HIXIE76_FRAMING = "hixie76"

_HEAD_LIMITS = HandshakeLimits()
_DEFAULT_LIMITS = MessageLimits()
_UNLIMITED = sys.maxsize
_KEY3_SIZE = 8
_MAX_KEY_NUMBER = 0xFFFFFFFF
_MAX_DECLARED_LENGTH = (1 << 63) - 1
_CLOSING_FRAME = b"\xff\x00"
_STATUS_LINE = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
_pack_key_numbers = struct.Struct(">II").pack
_CONTROL_BYTES = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"  # CTLs a header value may not hold
_NOT_VISIBLE_ASCII = bytes(range(0x21)) + b"\x7f" + bytes(range(0x80, 0x100))

# Where the frame parser is (draft §5.3 server steps).
_FRAME_TYPE = 0  # step 1: the next byte is a frame type
_IN_TEXT = 1  # a 0x00 frame: UTF-8 up to the 0xFF sentinel
_SKIP_SENTINEL = 2  # a sentinel frame of another type: discarded up to 0xFF
_LENGTH = 3  # high-bit frame type: 7-bit groups of the length
_SKIP_LENGTH = 4  # the declared bytes, discarded


# ---------------------------------------------------------------------------------------------- handshake


@dataclass(slots=True)
class Hixie76Request:
    """A hixie-76 opening handshake: the fields of ``interface.UpgradeRequest``, and the draft's keys.

    ``consumed`` counts the head and the eight key bytes; anything after them is frame data.
    """

    method: str
    target: str
    path: str
    query_string: str
    headers: Headers
    host: str
    origin: str | None
    key1: str
    key2: str
    key3: bytes
    subprotocols: list[str] = field(default_factory=list)
    consumed: int = 0
    version: int = HIXIE76_VERSION
    peer: str | None = None  # the client's address, set by the server


def is_hixie76(headers: Headers) -> bool:
    """A request is hixie-76 if it has both ``Sec-WebSocket-Key1`` and ``Key2`` and no version header."""
    return (
        "Sec-WebSocket-Key1" in headers
        and "Sec-WebSocket-Key2" in headers
        and "Sec-WebSocket-Version" not in headers
    )


def is_hixie76_request(data: bytes | bytearray, limits: HandshakeLimits = _HEAD_LIMITS) -> bool | None:
    """Whether the request head in ``data`` is a hixie-76 handshake; ``None`` if the head is not complete.

    A head too malformed to read is not hixie-76 (False): the caller keeps its own rejection for it.
    """
    try:
        head = _parse_head(data, limits)
    except HandshakeError:
        return False
    return None if head is None else is_hixie76(head[2])


def key_number(key: str) -> int:
    """The number hidden in ``Sec-WebSocket-Key1``/``Key2`` (draft §5.2): its digits divided by its spaces.

    Raises ``HandshakeError`` (400) where the draft says to abort: no spaces, digits over 2^32-1, or digits
    that are not a multiple of the spaces. A key without digits is not a number and is refused too.
    """
    digits = "".join(c for c in key if "0" <= c <= "9")
    spaces = key.count(" ")
    if not digits:
        raise HandshakeError(400, "invalid Sec-WebSocket-Key1/Key2")
    number = int(digits)
    if number > _MAX_KEY_NUMBER or spaces == 0 or number % spaces:
        raise HandshakeError(400, "invalid Sec-WebSocket-Key1/Key2")
    return number // spaces


def challenge_response(key1: str, key2: str, key3: bytes) -> bytes:
    """The 16 bytes that end the server's handshake: MD5 of both key numbers (big-endian 32-bit) and key3."""
    if len(key3) != _KEY3_SIZE:
        raise ValueError("key3 must be 8 bytes")
    return hashlib.md5(_pack_key_numbers(key_number(key1), key_number(key2)) + key3).digest()


def parse_request(data: bytes | bytearray, limits: HandshakeLimits = _HEAD_LIMITS) -> Hixie76Request | None:
    """Parse a hixie-76 opening handshake; ``None`` until the head and the eight key bytes have arrived.

    Raises ``HandshakeError``: 431 for a head over the limits, 405 for a method other than GET, 400 for
    anything else the draft's server steps refuse (including a request that is not hixie-76 at all). A request
    whose head is already wrong fails before its eight key bytes arrive.
    """
    head = _parse_head(data, limits)
    if head is None:
        return None
    method, target, headers, head_size = head
    if not is_hixie76(headers):
        raise HandshakeError(400, "not a hixie-76 handshake")
    if method != "GET":
        raise HandshakeError(405, "method not allowed", [("Allow", "GET")])
    if not target.startswith("/"):
        raise HandshakeError(400, "invalid request target")
    if (headers.get("Upgrade") or "").lower() != "websocket":
        raise HandshakeError(400, "missing Upgrade: WebSocket")
    connection = headers.get("Connection") or ""
    if "upgrade" not in (token.strip().lower() for token in connection.split(",")):
        raise HandshakeError(400, "missing Connection: Upgrade")
    host = headers.get("Host")
    if not host:
        raise HandshakeError(400, "missing Host")
    key1_values = headers.get_all("Sec-WebSocket-Key1")
    key2_values = headers.get_all("Sec-WebSocket-Key2")
    if len(key1_values) != 1 or len(key2_values) != 1:
        raise HandshakeError(400, "invalid Sec-WebSocket-Key1/Key2")
    key1, key2 = key1_values[0], key2_values[0]
    key_number(key1)
    key_number(key2)
    if len(data) < head_size + _KEY3_SIZE:
        return None
    key3 = bytes(data[head_size : head_size + _KEY3_SIZE])
    path, _, query_string = target.partition("?")
    protocol = headers.get("Sec-WebSocket-Protocol")
    subprotocols = [p.strip() for p in protocol.split(",") if p.strip()] if protocol else []
    return Hixie76Request(
        method=method,
        target=target,
        path=path,
        query_string=query_string,
        headers=headers,
        host=host,
        origin=headers.get("Origin"),
        key1=key1,
        key2=key2,
        key3=key3,
        subprotocols=subprotocols,
        consumed=head_size + _KEY3_SIZE,
    )


def accept_response(
    request: Hixie76Request,
    *,
    secure: bool = False,
    subprotocol: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The server's handshake (draft §5.2): the fixed first three lines, origin, location, protocol, MD5.

    ``secure`` picks ``wss://`` for the location (the connection came over TLS). ``Sec-WebSocket-Origin``
    echoes the request's ``Origin`` and is left out if there was none.
    """
    lines = [_STATUS_LINE.decode("ascii")]
    if request.origin is not None:
        lines.append(f"Sec-WebSocket-Origin: {request.origin}\r\n")
    scheme = "wss" if secure else "ws"
    lines.append(f"Sec-WebSocket-Location: {scheme}://{request.host}{request.target}\r\n")
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}\r\n")
    for name, value in extra_headers or ():
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    head = "".join(lines).encode("latin-1")
    return head + challenge_response(request.key1, request.key2, request.key3)


def _parse_head(data: bytes | bytearray, limits: HandshakeLimits) -> tuple[str, str, Headers, int] | None:
    """Method, target, headers and size of the request head; ``None`` until its blank line has arrived."""
    max_head = limits.max_request_line + limits.max_header_count * (limits.max_header_size + 2) + 4
    end = data.find(b"\r\n\r\n", 0, max_head)
    if end < 0:
        if len(data) >= max_head:
            raise HandshakeError(431, "request head too large")
        return None
    lines = bytes(data[:end]).split(b"\r\n")
    request_line = lines[0]
    if len(request_line) > limits.max_request_line:
        raise HandshakeError(414, "request line too long")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or not parts[0] or not parts[1]:
        raise HandshakeError(400, "malformed request line")
    method, target = parts[0], parts[1]
    if (
        method.translate(None, _NOT_VISIBLE_ASCII) != method
        or target.translate(None, _NOT_VISIBLE_ASCII) != target
    ):
        raise HandshakeError(400, "malformed request line")
    if len(lines) - 1 > limits.max_header_count:
        raise HandshakeError(431, "too many headers")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(line) > limits.max_header_size:
            raise HandshakeError(431, "header line too long")
        name, sep, value = line.partition(b":")
        if not sep or not name or name.translate(None, _NOT_VISIBLE_ASCII) != name:
            raise HandshakeError(400, "malformed header line")
        value = value.strip(b" \t")
        # Host and Origin are echoed in the response: a stray CR or LF must never reach it.
        if value.translate(None, _CONTROL_BYTES) != value:
            raise HandshakeError(400, "control character in header value")
        items.append((name.decode("latin-1"), value.decode("latin-1")))
    return method.decode("latin-1"), target.decode("latin-1"), Headers(items), end + 4


# ---------------------------------------------------------------------------------------------- connection


class Hixie76Connection:
    """One server-side hixie-76 connection after a successful opening handshake.

    Same interface as ``Connection``; see the module docstring for what differs and why.
    """

    __slots__ = (
        "_close_code",
        "_close_reason",
        "_events",
        "_frame_type",
        "_length",
        "_max_discard",
        "_max_text",
        "_out",
        "_parts",
        "_size",
        "_step",
        "_utf8",
        "close_transport",
        "deflate",
        "framing_key",
        "limits",
        "state",
        "version",
    )

    #: hixie-76 has no binary messages: ``send_binary`` raises, and broadcast skips this connection.
    supports_binary = False
    #: hixie-76 has no ping/pong: ``send_ping`` sends nothing, so keepalive must not wait for a pong.
    supports_ping = False
    #: hixie-76 has no compression, so nothing is ever compressed in steps (``compress_step``).
    compressing = False
    #: hixie-76 frames are text, checked as they come: never read straight into (``receive_buffer``).
    receiving_payload = False

    def __init__(self, limits: MessageLimits = _DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.deflate = None
        self.version = HIXIE76_VERSION
        self.state = State.OPEN
        #: True once the driver should flush ``data_to_send()`` and close the TCP connection.
        self.close_transport = False
        self.framing_key: Hashable | None = HIXIE76_FRAMING
        max_frame = limits.max_frame_size or _UNLIMITED
        # A text frame is a whole message, so both limits bound it; discarded frames hold no memory, but a
        # frame over max_frame_size is still refused, before its bytes are read when its length is declared.
        self._max_text = min(max_frame, limits.max_message_size or _UNLIMITED)
        self._max_discard = max_frame
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._step = _FRAME_TYPE
        self._frame_type = 0
        self._length = 0
        self._size = 0
        self._parts: list[str] = []
        self._utf8: Utf8Decoder | None = None
        self._close_code: int = CloseCode.NORMAL
        self._close_reason = ""

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport. Nothing is buffered but the text of the current frame."""
        if self.state is State.CLOSED or not data:
            return
        if type(data) is not bytes:
            data = bytes(data)  # the parser keeps pieces of what it reads
        try:
            self._parse(data)
        except WebSocketError as exc:
            self.fail(exc.close_code, exc.reason)

    def receive_buffer(self) -> None:
        """Never a buffer to read into: draft-76 frames are text, and text is checked as it comes."""
        return None

    def receive_buffer_updated(self, nbytes: int) -> None:
        """Never valid, as ``receive_buffer`` offers nothing (``Connection`` raises the same without one)."""
        raise RuntimeError("receive_buffer_updated without a receive buffer")

    def receive_eof(self) -> None:
        """The peer closed TCP without the closing frame: 1006, as in RFC 6455 §7.1.5."""
        if self.state is State.CLOSED:
            return
        self._finish(CloseCode.ABNORMAL, "", by_peer=True)

    def events_received(self) -> list[Event]:
        """Events produced since the last call, oldest first."""
        events = self._events
        if events:
            self._events = []
        return events

    def _parse(self, data: bytes) -> None:
        """Run the draft §5.3 server steps over ``data``; every state survives a split at any byte."""
        n = len(data)
        pos = 0
        while pos < n:
            step = self._step
            if step == _FRAME_TYPE:
                frame_type = data[pos]
                pos += 1
                if frame_type & 0x80:
                    self._frame_type = frame_type
                    self._length = 0
                    self._step = _LENGTH
                elif frame_type == 0x00:
                    # Fast path: the whole text frame is in the input.
                    limit = self._max_text
                    end = data.find(b"\xff", pos, pos + limit + 1 if limit < n else n)
                    if end >= 0:
                        if self.state is State.OPEN:
                            try:
                                text = data[pos:end].decode("utf-8")
                            except UnicodeDecodeError:
                                raise InvalidUTF8("invalid UTF-8 in text") from None
                            self._events.append(TextMessage(text))
                        pos = end + 1
                        continue
                    self._step = _IN_TEXT
                    self._size = 0
                    # §7.1.2 of RFC 6455, kept here: after our closing frame, data is discarded unchecked.
                    self._utf8 = Utf8Decoder() if self.state is State.OPEN else None
                else:
                    self._step = _SKIP_SENTINEL
                    self._size = 0
            elif step == _IN_TEXT or step == _SKIP_SENTINEL:
                end = data.find(b"\xff", pos)
                stop = n if end < 0 else end
                self._size += stop - pos
                if step == _IN_TEXT:
                    # Checked before the chunk is kept: an endless frame fails at the limit, not at OOM.
                    if self._size > self._max_text:
                        raise MessageTooBig("message too big")
                    if self._utf8 is not None:
                        self._parts.append(self._utf8.decode(data[pos:stop]))
                elif self._size > self._max_discard:
                    raise MessageTooBig("frame too big")
                if end < 0:
                    return
                pos = end + 1
                self._step = _FRAME_TYPE
                if step == _IN_TEXT:
                    self._end_text()
            elif step == _LENGTH:
                b = data[pos]
                pos += 1
                length = self._length * 128 + (b & 0x7F)
                if length > _MAX_DECLARED_LENGTH:
                    raise ProtocolError("frame length too long")
                if length > self._max_discard:
                    raise MessageTooBig("frame too big")
                self._length = length
                if b & 0x80:
                    continue
                if self._frame_type == 0xFF and length == 0:
                    self._closing_frame()
                    return
                self._step = _SKIP_LENGTH if length else _FRAME_TYPE
            else:
                take = min(n - pos, self._length)
                pos += take
                self._length -= take
                if not self._length:
                    self._step = _FRAME_TYPE

    def _end_text(self) -> None:
        utf8 = self._utf8
        parts = self._parts
        self._utf8 = None
        self._parts = []
        if utf8 is None:
            return
        parts.append(utf8.decode(b"", True))
        if self.state is State.OPEN:
            self._events.append(TextMessage("".join(parts)))

    def _closing_frame(self) -> None:
        """``0xFF 0x00`` arrived (draft §5.3 step 2.8)."""
        if self.state is State.OPEN:
            # The client started the closing handshake: answer it, then close the connection.
            self._out.append(_CLOSING_FRAME)
            self._finish(CloseCode.NO_STATUS, "", by_peer=True)
        else:
            # The answer to ours: report the code and reason the server closed with.
            self._finish(self._close_code, self._close_reason, by_peer=False)

    # ----------------------------------------------------------------- output

    def data_to_send(self) -> bytes:
        """Bytes to write to the transport now (``b""`` if none)."""
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

    def chunks_to_send(self) -> list[bytes]:
        """The same bytes as ``data_to_send``, as a list (text frames here are never large and split)."""
        data = self.data_to_send()
        return [data] if data else []

    def compress_step(self) -> None:
        """Nothing to do: see ``compressing``."""

    def encode_message(
        self, opcode: int, data: bytes, *, frame_size: int | None = None, compress: bool = True
    ) -> bytes:
        """A text message as one ``0x00 … 0xFF`` frame; the draft has no fragments and no compression.

        Raises ``TypeError`` for a binary message and ``ValueError`` for text bytes containing 0xFF (never
        valid UTF-8, and it would end the frame early).
        """
        if opcode != Opcode.TEXT:
            raise TypeError("hixie-76 clients cannot receive binary messages")
        if b"\xff" in data:
            raise ValueError("text for a hixie-76 frame must be UTF-8 (0xFF found)")
        return b"\x00" + bytes(data) + b"\xff"

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Queue a text message; dropped if the connection is no longer open."""
        if self.state is State.OPEN:
            self._out.append(b"\x00" + text.encode("utf-8") + b"\xff")

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Always raises ``TypeError``: the draft has no binary frames a client would deliver."""
        raise TypeError("hixie-76 clients cannot receive binary messages")

    def send_encoded(self, frame: bytes) -> None:
        """Queue bytes made by ``encode_message`` of a connection with the same ``framing_key``."""
        if self.state is State.OPEN:
            self._out.append(frame)

    def send_ping(self, payload: bytes = b"") -> None:
        """Sends nothing: the draft has no ping. Arguments are checked as ``Connection`` checks them."""
        if len(payload) > 125:
            raise ValueError("ping payload must be at most 125 bytes")

    def send_pong(self, payload: bytes = b"") -> None:
        """Sends nothing: the draft has no pong."""
        if len(payload) > 125:
            raise ValueError("pong payload must be at most 125 bytes")

    def send_close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake with ``0xFF 0x00``; the client's ``0xFF 0x00`` finishes it.

        ``code`` and ``reason`` are checked as for RFC 6455 but cannot be sent; they are what
        ``CloseReceived`` reports when the client answers.
        """
        check_close(code, reason)
        if self.state is State.OPEN:
            self._out.append(_CLOSING_FRAME)
            self.state = State.CLOSING
            self._close_code = code
            self._close_reason = reason

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection: close the transport at once (the draft has no frame to say why)."""
        if self.state is State.CLOSED:
            return
        self._finish(code, reason, by_peer=False)

    def _finish(self, code: int, reason: str, *, by_peer: bool) -> None:
        self.state = State.CLOSED
        self.close_transport = True
        self._parts = []
        self._utf8 = None
        self._events.append(CloseReceived(code, reason, by_peer))
