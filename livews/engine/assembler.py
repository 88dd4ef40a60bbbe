"""Assembling one data message that arrives in pieces (RFC 6455 §5.4, RFC 7692 §6.2), sans-I/O.

The connection's frame parser hands the assembler the unmasked payload of each frame of a message, or of each
piece of a frame still arriving; the assembler inflates it (if the message is compressed), keeps the message
within ``max_message_size`` and checks text as UTF-8 as it comes, so the first piece that breaks a rule
raises, and at the end makes the message's event. It knows nothing about frames, masks or close states.

A message that is whole in one frame and one read never comes here: the parser (or the compiled reader)
makes its event at once. So an assembler exists only while a fragmented, compressed or partly received
message is in flight, and an idle connection holds none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codes import Opcode
from .errors import MessageTooBig
from .events import BinaryMessage, TextMessage
from .utf8 import Utf8Decoder

if TYPE_CHECKING:
    from .deflate import PerMessageDeflate

__all__ = ["MessageAssembler"]

#: Received message pieces smaller than this are copied into one bytearray rather than kept one by one.
_COALESCE = 4 * 1024


class MessageAssembler:
    """One data message in flight: its opcode, its frames so far, and its bytes (or text) so far."""

    __slots__ = (
        "_deflate",
        "_max_compressed",
        "_max_size",
        "_parts",
        "_text",
        "_utf8",
        "compressed",
        "frames",
        "opcode",
        "size",
    )

    def __init__(
        self,
        opcode: int,
        deflate: PerMessageDeflate | None,
        max_size: int,
        max_compressed: int | None,
    ) -> None:
        #: ``Opcode.TEXT`` or ``Opcode.BINARY``, from the message's first frame.
        self.opcode = opcode
        #: The deflate context when the first frame had RSV1 (RFC 7692 §6), else None.
        self._deflate = deflate
        self.compressed = deflate is not None
        self._max_size = max_size
        self._max_compressed = max_compressed
        #: Frames of this message so far (the parser counts them against ``max_frame_count``).
        self.frames = 1
        #: Message bytes so far (inflated, if compressed).
        self.size = 0
        #: Large binary pieces as they are, the rest (and all text) coalesced.
        self._parts: list[bytes | bytearray] = []
        #: The text of the first piece, while it is the only one.
        self._text: str | None = None
        self._utf8 = Utf8Decoder() if opcode == Opcode.TEXT else None

    def add_payload(self, chunk: bytes) -> None:
        """One unmasked piece of a frame's payload: inflate, check, keep."""
        deflate = self._deflate
        if deflate is not None:
            chunk = deflate.inflate(chunk, self._max_size - self.size, self._max_compressed)
        self.add(chunk)

    def add(self, chunk: bytes) -> None:
        """Add a piece of (inflated) message data, checking the size limit and UTF-8 as it comes.

        Text is kept as its checked UTF-8 bytes, in one piece, and decoded once at the end: pieces of
        decoded text cost up to 4 bytes per character each, and their join as much again. (The first
        piece is decoded as it is checked and its text kept until a second piece arrives, so a message
        that comes in one piece, as a compressed one usually does, is decoded once.) Binary pieces
        below ``_COALESCE`` bytes are copied together into a bytearray, so a message that arrives in tiny
        pieces holds its bytes, not one object per piece.
        """
        size = len(chunk)
        self.size += size
        if self.size > self._max_size:
            raise MessageTooBig("message too big")
        parts = self._parts
        utf8 = self._utf8
        if utf8 is not None:
            if not parts:
                # Decoded at once in case it is the whole message (a compressed one usually is).
                self._text = utf8.decode(chunk)
                parts.append(chunk)
                return
            self._text = None
            utf8.check(chunk)
        elif size >= _COALESCE or not parts:
            parts.append(chunk)
            return
        last = parts[-1]
        if type(last) is bytearray:
            last += chunk
        elif utf8 is not None or len(last) < _COALESCE:
            parts[-1] = last = bytearray(last)
            last += chunk
        else:
            parts.append(bytearray(chunk))

    def finish(self) -> TextMessage | BinaryMessage:
        """The last frame is in: the message's event, once the tail of its compression and UTF-8 check out."""
        deflate = self._deflate
        if deflate is not None:
            tail = deflate.inflate_finish(self._max_size - self.size)
            if tail:
                self.add(tail)  # already inflated
        parts = self._parts
        self._parts = []
        utf8 = self._utf8
        if utf8 is not None:
            utf8.check(b"", True)
            text = self._text
            if text is None:
                text = parts[0].decode("utf-8") if parts else ""
            return TextMessage(text)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return BinaryMessage(data if type(data) is bytes else bytes(data))
