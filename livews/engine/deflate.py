"""permessage-deflate (RFC 7692): negotiate it from the client's offer, then inflate and compress messages.

Standard library ``zlib`` by default; ``zlib-ng`` or ``isal`` when configured or installed
(``zlib_backends.py`` says what each supports and costs). This module knows the extension's parameters and
the DEFLATE payload transformation; it does not know frames: the connection owns the RSV1 rules (RFC 7692
§6) and calls ``PerMessageDeflate`` once per chunk of a compressed message, once at its end, and once per
message it sends.

Decisions, each a promise the tests keep:

- **Negotiation** (§5, §7.1). The whole ``Sec-WebSocket-Extensions`` value is parsed with the RFC 7230 grammar
  RFC 6455 §9.1 asks for: a comma list (empty elements allowed, RFC 7230 §7) of tokens with ``;`` parameters,
  each with no value, a token or a quoted-string (unescaped before use). Optional whitespace is allowed around
  every separator. A header that does not fit the grammar is declined as a whole: compression is optional, so
  a garbled offer costs the client compression, never the connection. Names match exactly, as registered.
- The first acceptable ``permessage-deflate`` offer wins (§5.1). An offer with an unknown parameter, a
  parameter given twice, a value where none is allowed, or a window size that is not a decimal 8..15 without
  leading zeros is skipped (§7.1), and so is one we cannot honour. No acceptable offer: ``(None, None)``.
- The response states what was agreed, in the RFC's order: ``server_no_context_takeover``,
  ``client_no_context_takeover``, ``server_max_window_bits``, ``client_max_window_bits``. A client that offers
  ``client_no_context_takeover`` gets it confirmed (it lets us drop our inflater between messages).
  ``server_max_window_bits`` is sent when the client asked for it (§7.1.2.1: accepting means answering it) or
  when ours is below 15; ``client_max_window_bits`` only when the client offered it (§7.1.2.2) and the agreed
  value is below 15. Without that offer we cannot limit the client and inflate with a 15-bit window.
- **No 8-bit compression window.** zlib cannot make raw DEFLATE with a 256-byte window: since 1.2.9
  ``deflateInit2`` refuses it (Python: ``ValueError``); before, it silently used 512 bytes (madler/zlib#171).
  Answering ``server_max_window_bits=8`` and compressing with 9 would rest on an internal detail (zlib's
  deflate keeps distances within ``window - 262``, so its 9-bit output happens to fit 256 bytes) that no
  API promises and other builds need not keep; one distance past 256 and the peer's inflater fails the
  connection. So an offer that limits our window to 8 bits is skipped (the next offer may be
  acceptable), and ``DeflateConfig`` refuses 8 for our window. python-websockets decided the same (#1768).
  The client's window may be 8 if the client offers it: zlib inflates with a 256-byte window (and, by the
  detail above, understands a zlib client that compresses with 9 instead). We never impose 8 on a client:
  a zlib client cannot comply (websockets fails the handshake on such an answer).
- **Inflating** is bounded: output is produced in steps of at most 64 KiB and counted against the budget
  the connection passes, so a zip bomb fails with ``MessageTooBig`` (1009) after at most budget + one step
  of output, whatever the ratio. Input has a budget too (``compressed_budget``): every compressed byte and
  every final block (``STREAM_COST``) counts, so data that inflates to nothing, such as empty DEFLATE blocks
  (``03 00`` repeated), fails with 1009 too, and the work per input byte is constant (input reaches zlib in
  slices, so zlib's copies of unused input stay proportional to what was consumed). Corrupt DEFLATE data
  fails with 1007: the frames were fine, their payload was not valid data for the negotiated encoding,
  which is what RFC 6455 §7.4.1 (IANA: "Invalid frame payload data") says 1007 is for. RFC 7692 names no
  code. (wsproto, Node's ws and Autobahn use 1007; websockets uses 1002.)
- A DEFLATE block with BFINAL set ends zlib's stream but not the message (§7.2.3.4): the remaining bytes are
  inflated by a fresh inflater, and a message that ends with one needs no ``00 00 ff ff`` tail. Like other
  implementations we assume nothing after a final block refers back to data before it; a peer that does
  fails with 1007.
- **Compressing**: compress, ``Z_SYNC_FLUSH``, strip the ``00 00 ff ff`` tail (§7.2.1); an empty message
  becomes ``b"\\x00"`` (§7.2.3.6). Without server context takeover each message gets a fresh compressor that
  is dropped at once: ``compress`` then keeps no state between calls, so any codec with the same
  ``framing_key`` compresses a message to the same bytes, and broadcast may use any member's codec.
- **Memory**: zlib objects are made on first use, and dropped after each message when context takeover is
  off, so an idle connection that never compressed holds none. ``DeflateConfig`` lists what each costs.

Known limits, both zlib's: it does not say whether a message ended on a DEFLATE block boundary, so a payload
cut in the middle of a block is not always caught at its own end (its next message then usually fails with
1007); and it checks back-references against the window only when they reach into output of an earlier call,
so a client that exceeds its agreed window is caught when it refers into an earlier message or chunk, not
always within one.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

from .codes import CloseCode
from .errors import MessageTooBig, WebSocketError
from .zlib_backends import (
    AUTO,
    BACKEND_NAMES,
    Compressor,
    Decompressor,
    ZlibBackend,
    load_backend,
    resolve_backend,
)

__all__ = [
    "COMPRESS_STEP",
    "STREAM_COST",
    "DeflateConfig",
    "PerMessageDeflate",
    "compressed_budget",
    "negotiate",
]

_EXTENSION_NAME = "permessage-deflate"

#: Compressed bytes a message is charged for each DEFLATE stream it ends (a block with BFINAL set): a new
#: inflater costs about what inflating this much data does, so empty final blocks cannot buy CPU for free.
STREAM_COST = 1024
#: Bytes of a large message compressed per step of ``compress_steps``: about 6 ms at zlib level 6 on a loaded
#: 2-core machine, under 1 ms with isal, so a connection sending a large message holds the loop that long.
COMPRESS_STEP = 128 * 1024
#: Smallest and largest slice of compressed input given to zlib in one call (see ``_inflate``).
_SLICE_MIN = 64
_SLICE_MAX = 64 * 1024
#: RFC 7692 §7.2.1/§7.2.2: removed from the end of every compressed message, appended before inflating.
_TAIL = b"\x00\x00\xff\xff"
#: Largest piece of output one zlib call may produce while inflating; bounds overshoot past the budget.
_INFLATE_STEP = 64 * 1024
#: §7.1.2.1/§7.1.2.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}
#: zlib's smallest raw-deflate compression window (see the module docstring).
_MIN_COMPRESS_WBITS = 9

# RFC 7230 §3.2.6 token and quoted-string; OWS (spaces and tabs) is allowed around every separator.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"((?:[\t !\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"'
_NAME_RE = re.compile(rf"({_TOKEN})[ \t]*")
_PARAM_RE = re.compile(rf";[ \t]*({_TOKEN})[ \t]*(?:=[ \t]*(?:({_TOKEN})|{_QUOTED})[ \t]*)?")
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)

_Params = list[tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class DeflateConfig:
    """What the server is willing to agree to, and how it compresses. Memory figures are per connection,
    measured with ``tracemalloc`` on zlib 1.2.13 (zlib's own allocations included).

    enabled:
        Negotiate permessage-deflate at all. Default True.
    backend:
        The DEFLATE implementation: ``"zlib"`` (the standard library), ``"zlib-ng"``, ``"isal"`` (optional
        packages, ``pip install livews[deflate]``) or ``"auto"`` (default): zlib-ng when it is installed,
        else zlib. A named backend that is not installed is an ``ImportError`` here. On an 8 KiB JSON message
        at level 1, zlib-ng compresses about 1.5x and isal about 2x faster than zlib; both hold more memory
        per compressor (``livews.engine.zlib_backends``).
    level:
        Compression level, or None (default) for the backend's default: 6 for zlib and zlib-ng, 2 for isal.
        zlib and zlib-ng take 0..9; isal takes 0..3 only, and another level with ``backend="isal"`` is a
        ``ValueError`` (never mapped silently). With zlib, 6 sends about 20% fewer bytes than level 1 on
        small JSON messages for about 1.4 µs more per 350-byte message; lower it for large payloads where
        CPU matters more than bandwidth.
    mem_level:
        zlib ``memLevel``, 1..9: sizes the compressor's hash table and block buffer, ``1 << (mem_level + 9)``
        bytes together. Default 5 (16 KiB): on messages of a few KiB it compresses exactly as well as 8
        (128 KiB), so 8 would buy nothing but memory.
    server_max_window_bits:
        Our LZ77 window, 9..15 (8 is impossible with zlib, see the module docstring); a client may ask for
        less. The compressor costs ``(1 << (bits + 2)) + (1 << (mem_level + 9))`` bytes plus ~6 KiB of state.
        Default 12: 38 KiB with ``mem_level=5`` (15 would take 150 KiB), for about 15% more bytes than 15 on a
        stream of small JSON messages. Held while a message is compressed; held between messages only with
        server context takeover.
    client_max_window_bits:
        Largest window we let the client compress with, 9..15 (8 is refused: zlib clients cannot use it), or
        None for no limit (15). Only a client that offers ``client_max_window_bits`` can be limited; any
        other gets 15. Our inflater costs ~7.2 KiB of state plus ``1 << bits`` of window. Default 12: ~11 KiB
        instead of ~39 KiB at 15; it affects only how well client-to-server messages compress.
    server_no_context_takeover:
        Compress each message on its own. Costs ratio (small messages shrink far less), saves the compressor
        between messages, and lets broadcast compress a message once for every connection with the same
        settings (``framing_key``). Default False.
    client_no_context_takeover:
        Ask the client to compress each message on its own, so our inflater is freed between messages.
        Default False.
    min_size:
        Messages shorter than this many bytes are sent uncompressed. Default 32: below it the saving is a
        few bytes at best (and without context takeover the output is often larger than the input).

    With the defaults, a connection that has never compressed holds no zlib memory; one that has exchanged
    compressed messages with context takeover both ways holds about 38 KiB (compressor) + 11 KiB (inflater).
    """

    enabled: bool = True
    backend: str = AUTO
    level: int | None = None
    mem_level: int = 5
    server_max_window_bits: int = 12
    client_max_window_bits: int | None = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    min_size: int = 32

    def __post_init__(self) -> None:
        if self.backend != AUTO and self.backend not in BACKEND_NAMES:
            raise ValueError(
                f"unknown deflate backend {self.backend!r}: use one of {', '.join((AUTO, *BACKEND_NAMES))}"
            )
        if self.level is not None:
            if self.backend == AUTO:
                if not 0 <= self.level <= 9:
                    raise ValueError("level must be between 0 and 9")
            else:
                load_backend(self.backend).check_level(self.level)
        elif self.backend != AUTO:
            load_backend(self.backend)  # ImportError now, not at the first handshake
        if not 1 <= self.mem_level <= 9:
            raise ValueError("mem_level must be between 1 and 9")
        if not _MIN_COMPRESS_WBITS <= self.server_max_window_bits <= 15:
            raise ValueError("server_max_window_bits must be between 9 and 15 (zlib cannot compress with 8)")
        bits = self.client_max_window_bits
        if bits is not None and not _MIN_COMPRESS_WBITS <= bits <= 15:
            raise ValueError("client_max_window_bits must be None or between 9 and 15 (zlib cannot use 8)")
        if self.min_size < 0:
            raise ValueError("min_size must not be negative")


class PerMessageDeflate:
    """The agreed permessage-deflate parameters of one connection and its compression state.

    Made by ``negotiate``; may also be built directly (tests, clients of a fixed peer). The window sizes and
    context-takeover flags are the agreed ones, seen from the server: we compress with
    ``server_max_window_bits`` and inflate what the client compressed with ``client_max_window_bits``.
    """

    __slots__ = (
        "_backend",
        "_compressor",
        "_decompressor",
        "_inflate_cost",
        "_inflate_slice",
        "_inflate_wbits",
        "client_max_window_bits",
        "client_no_context_takeover",
        "framing_key",
        "level",
        "mem_level",
        "min_size",
        "server_max_window_bits",
        "server_no_context_takeover",
    )

    def __init__(
        self,
        *,
        server_max_window_bits: int = 15,
        client_max_window_bits: int = 15,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        level: int | None = None,
        mem_level: int = 5,
        min_size: int = 32,
        backend: ZlibBackend | str = "zlib",
    ) -> None:
        if isinstance(backend, str):
            backend = resolve_backend(backend)
        if level is None:
            level = backend.default_level
        backend.check_level(level)
        if not _MIN_COMPRESS_WBITS <= server_max_window_bits <= 15:
            raise ValueError("server_max_window_bits must be between 9 and 15 (zlib cannot compress with 8)")
        if not 8 <= client_max_window_bits <= 15:
            raise ValueError("client_max_window_bits must be between 8 and 15")
        if not 1 <= mem_level <= 9 or min_size < 0:
            raise ValueError("mem_level must be 1..9 and min_size not negative")
        self._backend = backend
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.level = level
        self.mem_level = mem_level
        #: Messages shorter than this are sent uncompressed (the connection checks it).
        self.min_size = min_size
        #: Equal non-None keys: ``compress(m)`` gives equal bytes and the connection compresses the same
        #: messages (``min_size``). None with server context takeover, where the bytes depend on history.
        self.framing_key: Hashable | None = (
            (_EXTENSION_NAME, backend.name, level, mem_level, server_max_window_bits, min_size)
            if server_no_context_takeover
            else None
        )
        self._inflate_wbits = client_max_window_bits
        self._compressor: Compressor | None = None
        self._decompressor: Decompressor | None = None
        #: Compressed bytes (and streams, ``STREAM_COST`` each) charged to the message being inflated.
        self._inflate_cost = 0
        self._inflate_slice = _SLICE_MIN

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(server_max_window_bits={self.server_max_window_bits}, "
            f"client_max_window_bits={self.client_max_window_bits}, "
            f"server_no_context_takeover={self.server_no_context_takeover}, "
            f"client_no_context_takeover={self.client_no_context_takeover}, "
            f"level={self.level}, mem_level={self.mem_level}, min_size={self.min_size}, "
            f"backend={self._backend.name!r})"
        )

    # ---------------------------------------------------------------- inflate

    def inflate(
        self, data: bytes | bytearray | memoryview, max_length: int | None, max_input: int | None = None
    ) -> bytes:
        """Inflate one chunk of a compressed message's payload (any split, even mid-block).

        ``max_length`` is what is left of the message's budget (None: no limit). Raises ``MessageTooBig`` as
        soon as the output passes it, having produced at most one 64 KiB step beyond it; raises
        ``WebSocketError`` with close code 1007 on data that is not valid DEFLATE.

        ``max_input`` is the whole message's budget of compressed bytes (None: no limit): every byte given
        here counts against it, and so does every DEFLATE stream the message ends (``STREAM_COST`` each), so
        data that inflates to nothing (empty blocks) still runs out of budget. Past it: ``MessageTooBig``.
        """
        return self._inflate(data, max_length, max_input)

    def inflate_finish(self, max_length: int | None) -> bytes:
        """End the current message: inflate the ``00 00 ff ff`` tail (§7.2.2) under the same budget.

        Without client context takeover the inflater is dropped here, so it holds no memory until the next
        compressed message.
        """
        try:
            if self._decompressor is None:
                return b""  # no stream is open: the message had no data or ended with a final block
            return self._inflate(_TAIL, max_length, None)
        finally:
            self._inflate_cost = 0
            if self.client_no_context_takeover:
                self._decompressor = None

    def _inflate(
        self, data: bytes | bytearray | memoryview, max_length: int | None, max_input: int | None
    ) -> bytes:
        # Input goes to zlib in slices, because zlib copies what it leaves unused (``unused_data`` after a
        # final block, ``unconsumed_tail`` after a full output step): a slice is at most twice what the
        # current stream has consumed (plus a minimum), so those copies cost a constant per input byte,
        # however many final blocks the data holds. A stream that keeps going grows its slice to the cap, so
        # the usual message, one stream with context takeover, takes one zlib call per chunk.
        if max_input is not None:
            self._inflate_cost += len(data)
            if self._inflate_cost > max_input:
                self._reset_inflate()
                raise MessageTooBig("compressed message too big")
        decompressor = self._decompressor
        remaining = -1 if max_length is not None and max_length < 0 else max_length
        parts: list[bytes] = []
        end = len(data)
        pos = 0
        view = memoryview(data) if end > self._inflate_slice else data
        try:
            while True:
                size = self._inflate_slice
                piece = view[pos : pos + size] if pos or end > size else view
                taken = len(piece)
                pos += taken
                if decompressor is None:
                    if not piece:
                        break
                    decompressor = self._decompressor = self._backend.decompressor(self._inflate_wbits)
                while True:
                    # One step of output; ``remaining + 1`` makes "one byte too many" visible without a guess.
                    if remaining is None or remaining >= _INFLATE_STEP:
                        step = _INFLATE_STEP
                    else:
                        step = max(remaining + 1, 1)
                    chunk = decompressor.decompress(piece, step)
                    if chunk:
                        if remaining is not None:
                            remaining -= len(chunk)
                            if remaining < 0:
                                raise MessageTooBig("message too big")
                        parts.append(chunk)
                    if decompressor.eof:
                        # §7.2.3.4: a block with BFINAL set ended zlib's stream, not the message.
                        pos -= len(decompressor.unused_data)
                        if max_input is not None:
                            self._inflate_cost += STREAM_COST
                            if self._inflate_cost > max_input:
                                raise MessageTooBig("compressed message too big")
                        decompressor = self._decompressor = None
                        self._inflate_slice = _SLICE_MIN
                        break
                    piece = decompressor.unconsumed_tail
                    if not piece and len(chunk) < step:
                        if taken == size < _SLICE_MAX:
                            self._inflate_slice = size * 2  # a whole slice went into this stream
                        break
                if pos >= end:
                    break
        except self._backend.error:
            self._reset_inflate()
            raise WebSocketError("invalid compressed data", CloseCode.INVALID_DATA) from None
        except MessageTooBig:
            self._reset_inflate()
            raise
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _reset_inflate(self) -> None:
        self._decompressor = None
        self._inflate_cost = 0
        self._inflate_slice = _SLICE_MIN

    # --------------------------------------------------------------- compress

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """The payload of one whole message, compressed, with the ``00 00 ff ff`` tail removed (§7.2.1).

        Without server context takeover this uses a fresh compressor that is dropped before returning, so it
        keeps no state and gives the same bytes on every codec with the same ``framing_key``.
        """
        compressor = self._compressor
        if compressor is None:
            compressor = self._new_compressor()
            if not self.server_no_context_takeover:
                self._compressor = compressor
        out = compressor.compress(data) + compressor.flush(self._backend.sync_flush)
        # A sync flush always ends with an empty stored block; an empty message leaves b"\x00" with zlib
        # (§7.2.3.6) and an empty fixed-Huffman block (b"\x02\x00") with isal, both valid.
        if out.endswith(_TAIL):
            return out[:-4]
        return out  # pragma: no cover - zlib always ends a sync flush with the tail

    def compress_steps(self, data: bytes | bytearray | memoryview) -> Iterator[tuple[bytes, bool]]:
        """``compress(data)`` in steps of ``COMPRESS_STEP`` input bytes: yields ``(piece, last)`` pairs whose
        pieces joined are what ``compress`` returns, so each may be sent as a frame of a fragmented message
        (§7.2.1: RSV1 on the first frame only). Other messages must not be compressed before the last piece.
        """
        compressor = self._compressor
        if compressor is None:
            compressor = self._new_compressor()
            if not self.server_no_context_takeover:
                self._compressor = compressor
        view = memoryview(data)
        pos = 0
        while len(view) - pos > COMPRESS_STEP:
            yield compressor.compress(view[pos : pos + COMPRESS_STEP]), False
            pos += COMPRESS_STEP
        out = compressor.compress(view[pos:]) + compressor.flush(self._backend.sync_flush)
        yield out[:-4] if out.endswith(_TAIL) else out, True

    @property
    def backend(self) -> str:
        """The name of the DEFLATE implementation this codec uses (``zlib_backends``)."""
        return self._backend.name

    def _new_compressor(self) -> Compressor:
        return self._backend.compressor(self.level, self.server_max_window_bits, self.mem_level)


def compressed_budget(max_message_size: int | None) -> int | None:
    """The compressed bytes one message may use, given its inflated ``max_message_size`` (None: no limit).

    DEFLATE can expand data only a little (stored blocks: 5 bytes per 64 KiB; zlib's ``deflateBound`` is
    about n + n/3000), so a message that fits ``max_message_size`` inflated also fits this compressed, even
    sent one flushed fragment at a time, with room for a few final blocks (``STREAM_COST`` each).
    """
    if max_message_size is None:
        return None
    return max_message_size + (max_message_size >> 10) + 4 * STREAM_COST


# ------------------------------------------------------------------- negotiation


def negotiate(offer_header: str | None, config: DeflateConfig) -> tuple[str | None, PerMessageDeflate | None]:
    """Answer a ``Sec-WebSocket-Extensions`` request header (all its values joined with ", ").

    Returns the response header value and the codec for the first acceptable permessage-deflate offer, or
    ``(None, None)`` to decline: compression disabled, no header, no acceptable offer, or a malformed header.
    Never raises for anything the client sent.
    """
    if not config.enabled or not offer_header:
        return None, None
    extensions = _parse_extensions(offer_header)
    if extensions is None:
        return None, None
    for name, params in extensions:
        if name == _EXTENSION_NAME:
            accepted = _accept_offer(params, config)
            if accepted is not None:
                return accepted
    return None, None


def _parse_extensions(header: str) -> list[tuple[str, _Params]] | None:
    """RFC 6455 §9.1 ``extension-list`` as (name, [(param, value or None)]); None if it does not parse."""
    extensions: list[tuple[str, _Params]] = []
    pos = 0
    end = len(header)
    while True:
        while pos < end and header[pos] in " \t":
            pos += 1
        if pos == end:
            break
        if header[pos] == ",":  # RFC 7230 §7: empty list elements are allowed
            pos += 1
            continue
        match = _NAME_RE.match(header, pos)
        if match is None:
            return None
        name = match.group(1)
        pos = match.end()
        params: _Params = []
        while (match := _PARAM_RE.match(header, pos)) is not None:
            param, token, quoted = match.groups()
            if token is not None:
                value: str | None = token
            elif quoted is not None:
                value = _QUOTED_PAIR_RE.sub(r"\1", quoted)
            else:
                value = None
            params.append((param, value))
            pos = match.end()
        extensions.append((name, params))
        if pos == end:
            break
        if header[pos] != ",":
            return None
        pos += 1
    return extensions or None


def _accept_offer(params: _Params, config: DeflateConfig) -> tuple[str, PerMessageDeflate] | None:
    """The response and codec for one permessage-deflate offer, or None if it is not acceptable (§7.1)."""
    seen: set[str] = set()
    server_no_context_takeover = False
    client_no_context_takeover = False
    server_bits: int | None = None
    client_bits: int | None = None
    client_bits_offered = False
    for name, value in params:
        if name in seen:
            return None  # §7.1: a parameter given twice makes the offer invalid
        seen.add(name)
        if name == "server_no_context_takeover":  # §7.1.1.1: no value
            if value is not None:
                return None
            server_no_context_takeover = True
        elif name == "client_no_context_takeover":  # §7.1.1.2: no value
            if value is not None:
                return None
            client_no_context_takeover = True
        elif name == "server_max_window_bits":  # §7.1.2.1: a value is required
            if value not in _WINDOW_BITS:
                return None
            server_bits = _WINDOW_BITS[value]
        elif name == "client_max_window_bits":  # §7.1.2.2: the value is optional
            if value is not None:
                if value not in _WINDOW_BITS:
                    return None
                client_bits = _WINDOW_BITS[value]
            client_bits_offered = True
        else:
            return None  # §7.1: an unknown parameter makes the offer invalid

    server_no_context_takeover = server_no_context_takeover or config.server_no_context_takeover
    client_no_context_takeover = client_no_context_takeover or config.client_no_context_takeover
    # §7.1.2.1: answer with the offered value or less; below 9 we cannot compress (module docstring).
    server_wbits = min(server_bits or 15, config.server_max_window_bits)
    if server_wbits < _MIN_COMPRESS_WBITS:
        return None
    # §7.1.2.2: the client can only be limited if it offered the parameter.
    client_wbits = 15
    if client_bits_offered:
        client_wbits = min(client_bits or 15, config.client_max_window_bits or 15)

    response = [_EXTENSION_NAME]
    if server_no_context_takeover:
        response.append("server_no_context_takeover")
    if client_no_context_takeover:
        response.append("client_no_context_takeover")
    if server_bits is not None or server_wbits < 15:
        response.append(f"server_max_window_bits={server_wbits}")
    if client_bits_offered and client_wbits < 15:
        response.append(f"client_max_window_bits={client_wbits}")
    codec = PerMessageDeflate(
        server_max_window_bits=server_wbits,
        client_max_window_bits=client_wbits,
        server_no_context_takeover=server_no_context_takeover,
        client_no_context_takeover=client_no_context_takeover,
        level=config.level,
        mem_level=config.mem_level,
        min_size=config.min_size,
        backend=config.backend,
    )
    return "; ".join(response), codec
