"""Incremental UTF-8 validation that fails at the first byte that can no longer be valid.

RFC 6455 §8.1 lets an endpoint fail a text message as soon as its bytes cannot be UTF-8; we always do, even
inside a frame, so a peer never makes us buffer a message that is already known to be invalid.

CPython's incremental decoder already fails early on every invalid prefix except one: the lead bytes
``ED A0..ED BF`` of a UTF-16 surrogate stay "pending" until the third byte arrives. ``Utf8Decoder`` checks
that tail itself, so the whole check is fail-fast.
"""

from __future__ import annotations

import codecs

from .errors import InvalidUTF8

__all__ = ["Utf8Decoder"]

_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


#: ``check`` decodes at most this many bytes at a time, so the text it throws away stays small.
_CHECK_STEP = 64 * 1024


class Utf8Decoder:
    """Decodes one text message chunk by chunk; ``decode`` raises on the first chunk that is invalid.

    ``check`` validates the same way without keeping the text, for a caller that keeps the bytes and decodes
    the whole message once: text costs up to 4 bytes per character, its UTF-8 as little as one.
    """

    __slots__ = ("_decoder", "_pending")

    def __init__(self) -> None:
        self._decoder = _IncrementalDecoder("strict")
        self._pending = False  # the decoder holds the first bytes of a character

    def check(self, data: bytes | bytearray, final: bool = False) -> None:
        """Raise ``InvalidUTF8`` as soon as the bytes so far cannot begin a valid UTF-8 text (or, with
        ``final``, are not one). ASCII between complete characters is valid as it is and is not decoded."""
        if not self._pending and data.isascii():
            return
        view = memoryview(data)
        for start in range(0, max(len(view), 1), _CHECK_STEP):
            last = final and start + _CHECK_STEP >= len(view)
            self.decode(view[start : start + _CHECK_STEP], last)

    def decode(self, data: bytes | bytearray | memoryview, final: bool = False) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise InvalidUTF8("invalid UTF-8 in text") from None
        if not final:
            pending = self._decoder.getstate()[0]
            self._pending = bool(pending)
            # ED A0..BF starts a UTF-16 surrogate (U+D800..U+DFFF), never valid UTF-8 (RFC 3629 §3).
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                raise InvalidUTF8("invalid UTF-8 in text")
        return text
