"""The opening handshake (RFC 6455 §4.1-§4.2; hybi drafts 07 and 08): parse the upgrade request, answer it.

Sans-I/O and standard library only: ``parse_request`` takes the bytes read so far and returns ``None`` until
the request head is complete. It knows nothing of resources, origins policies or sockets; the server decides
what to do with a valid ``Request`` and writes the bytes of ``accept_response`` or ``reject_response``.

Decisions, each a promise the tests keep:

- Lines end with CRLF (RFC 7230 §3.5); a bare LF is also accepted as a line end, as §3.5 allows, so a head
  typed into ``nc`` works. A bare CR anywhere in the head is refused (400).
- Limits are enforced on incomplete input too: a request line over ``max_request_line`` is refused with 414
  (RFC 7230 §3.1.1), a header line over ``max_header_size``, more than ``max_header_count`` header lines or
  a head over ``max_head_size`` bytes with 431 (RFC 6585 §5), as soon as the bytes that break the limit
  arrive. Line lengths exclude the line end; the head size includes every line end and the blank line.
- ``HeadReader`` takes the head in pieces and never rescans: the work per byte received is constant, so a
  client dripping its head one byte at a time costs what one sending it at once does.
- Two shortcuts serve the usual head (one read, CRLF lines, each header once): the reader skips its walk
  line by line when the head is too short to break a limit, and ``_parse_usual_head`` reads it with a few
  string methods instead of the full parse. Each answers only what the full code would (the tests compare
  them on generated heads) and declines everything else, so every refusal comes from the full code.
- ``path`` and ``query_string`` are kept exactly as sent (still percent-encoded); routing decodes if it wants.
  An absolute-form target (``ws://host/path?q``) gives its path and query; the Host header is left as sent.
- Header names must be RFC 7230 tokens; values are stripped of optional whitespace and decoded as latin-1
  (so obs-text bytes survive without an error), and may hold no control character but HTAB. Obs-fold
  continuation lines are refused (400, RFC 7230 §3.2.4).
- A GET without any ``Upgrade`` header (a browser opening the URL) gets 426 with ``Upgrade: websocket`` and a
  sentence saying this is a WebSocket endpoint; an ``Upgrade`` header without ``websocket`` gets 400.
- Host, Sec-WebSocket-Key, Sec-WebSocket-Version, Origin and Sec-WebSocket-Origin may appear once (400
  otherwise): the last two feed the origin policy, so two answers to "who is asking" are refused too.
- Connection, Upgrade, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions (offers and parameters) may hold
  at most ``max_list_items`` elements over all their lines (400 otherwise), counted from their separators
  before anything is split, so no list costs more objects than the limit.

Refusals are ``HandshakeError`` with an HTTP status; ``reject_response`` turns one into bytes. Reasons are
fixed strings chosen here, never echoes of client input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

from .errors import HandshakeError
from .limits import HandshakeLimits

__all__ = [
    "SUPPORTED_VERSIONS",
    "HeadReader",
    "Headers",
    "Request",
    "accept_key",
    "accept_response",
    "parse_request",
    "reject_response",
    "select_subprotocol",
]

SUPPORTED_VERSIONS = (13, 8, 7)
"""Sec-WebSocket-Version values accepted: RFC 6455, hybi-08 (also hybi-09 to -12), hybi-07."""

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_VERSIONS = {"13": 13, "8": 8, "7": 7}
_VERSION_HEADER = ("Sec-WebSocket-Version", "13, 8, 7")  # RFC 6455 §4.4
_SINGLE_VALUED = {
    "host": "Host",
    "sec-websocket-key": "Sec-WebSocket-Key",
    "sec-websocket-version": "Sec-WebSocket-Version",
    "origin": "Origin",
    "sec-websocket-origin": "Sec-WebSocket-Origin",
}
#: Headers that hold comma-separated lists (RFC 7230 §7), bounded by ``HandshakeLimits.max_list_items``.
_LIST_VALUED = {
    "connection": "Connection",
    "upgrade": "Upgrade",
    "sec-websocket-protocol": "Sec-WebSocket-Protocol",
    "sec-websocket-extensions": "Sec-WebSocket-Extensions",
}
_NOT_WEBSOCKET = "this URL is a WebSocket endpoint: connect to it with a WebSocket client"

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 7230 §3.2.6
_is_token = re.compile(_TOKEN).fullmatch
_is_token_bytes = re.compile(_TOKEN.encode("ascii")).fullmatch
# One "name: value" line each (value not yet right-stripped); lines that do not match are skipped, so the
# caller compares the count with the number of lines.
_header_fields = re.compile(rb"(?m)^(" + _TOKEN.encode("ascii") + rb"):[ \t]*([^\n]*)\n").findall
_http_version = re.compile(rb"HTTP/([0-9])\.([0-9])").fullmatch
# Controls that may not appear in a head whose line ends are already LF: everything below SP but HTAB and LF.
_find_head_control = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]").search
_find_value_control = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search
#: Every control but HTAB (CR and LF too), for ``bytes.translate`` to delete: a head in CRLF lines without
#: any other control loses exactly its line ends.
_CONTROLS = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
#: Sec-WebSocket-Key as RFC 6455 §4.1 asks (base64 of 16 bytes); ``_is_valid_key`` is the definition.
_is_usual_key = re.compile(r"[A-Za-z0-9+/]{22}==").fullmatch
#: Header names as browsers and clients spell them: the name as sent and its lowercase, without decoding
#: or a token check (each is a token). Any other name is checked and decoded.
_USUAL_NAMES = {
    spelling.encode("ascii"): (spelling, spelling.lower())
    for name in (
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
        "Origin",
        "User-Agent",
        "Pragma",
        "Cache-Control",
        "Accept-Encoding",
        "Accept-Language",
        "Cookie",
        "Authorization",
    )
    for spelling in (name, name.lower())
}

_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_PHRASES[414] = "URI Too Long"  # RFC 9110 §15.5.15 (older Pythons say "Request-URI Too Long")
_PLAIN_ACCEPT = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
)


class Headers:
    """Request headers in arrival order, looked up without regard to case.

    Iterating gives ``(name, value)`` pairs as received; ``get`` gives the first value of a name and
    ``get_all`` every value, in order. Read-only once built.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = list(items) if items is not None else []
        index: dict[str, list[str]] = {}
        for name, value in self._items:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    @classmethod
    def _build(cls, items: list[tuple[str, str]], index: dict[str, list[str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = index
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._index.get(name.lower(), ()))

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> str:
        values = self._index.get(name.lower())
        if not values:
            raise KeyError(name)
        return values[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class Request:
    """A parsed, valid WebSocket upgrade request.

    ``origin`` comes from ``Origin`` for version 13 and from ``Sec-WebSocket-Origin`` for versions 7 and 8
    (each falls back to the other header). ``subprotocols`` lists every offered token in order, across
    headers. ``extensions`` joins every ``Sec-WebSocket-Extensions`` value with ", " (``None`` if there is
    none). ``consumed`` is the size of the head: bytes after it are already WebSocket data. ``peer`` is the
    client's address, which the engine never sees: the server fills it in before ``on_connect`` runs (the
    address a trusted proxy reports, else the socket's peer).
    """

    method: str
    target: str
    path: str
    query_string: str
    headers: Headers
    version: int
    key: str
    origin: str | None
    subprotocols: list[str] = field(default_factory=list)
    extensions: str | None = None
    consumed: int = 0
    peer: str | None = None


# ------------------------------------------------------------------------------------------------ parsing


def parse_request(data: bytes | bytearray, limits: HandshakeLimits) -> Request | None:
    """Parse the request head at the start of ``data``; ``None`` if its blank line has not arrived yet.

    Raises ``HandshakeError``: 414 or 431 for a head over ``limits`` (even an incomplete one), 405 (with
    ``Allow: GET``) for another method, 426 (with ``Sec-WebSocket-Version: 13, 8, 7``) for a missing or
    unsupported version, 426 (with ``Upgrade: websocket``) for a plain GET, 400 for anything else malformed.
    This reads ``data`` from the start: a driver that receives the head in pieces feeds a ``HeadReader``.
    """
    return HeadReader(limits).feed(data)


class HeadReader:
    """The request head of one connection, fed as it arrives; parsed once, when its blank line is in.

    Each byte is looked at once while the end of the head is searched for (the search resumes where it
    stopped, like h11's receive buffer), and the limits are checked line by line as lines end, so a head
    dripped one byte at a time costs time linear in its size, and memory at most ``max_head_size``.
    ``data`` holds every byte fed so far (the head, then whatever followed it); ``len()`` is its size.
    """

    __slots__ = ("_end", "_headers", "_limits", "_line", "_scan", "data")

    def __init__(self, limits: HandshakeLimits) -> None:
        self._limits = limits
        self.data = bytearray()
        self._scan = 0  # where the search for the next LF resumes
        self._line = 0  # where the current line starts
        self._headers = -1  # header lines ended so far (-1: the request line has not ended)
        self._end: tuple[int, int] | None = None  # once the blank line is in: where the head ends

    def __len__(self) -> int:
        return len(self.data)

    def feed(self, data: bytes | bytearray) -> Request | None:
        """Add bytes; the ``Request`` once the head is complete (``consumed`` is its size), else ``None``.

        Raises ``HandshakeError`` as ``parse_request`` does, as soon as the bytes that break a limit arrive.
        """
        buf = self.data
        buf += data
        limits = self._limits
        if self._end is not None:
            # Complete already (a caller that reads on past a refused head, as the draft-76 fallback does).
            return _parse_head(buf, *self._end, limits)
        if not self._scan:
            # The first bytes. A head that arrives whole, in CRLF lines, shorter than a line may be and
            # within the head limits cannot break a limit on the way to its blank line: it skips the walk
            # line by line below, which would find the same end and raise nothing.
            end = buf.find(b"\r\n\r\n")
            if (
                0 <= end < limits.max_request_line
                and end < limits.max_header_size
                and end + 4 <= limits.max_head_size
                and buf.count(b"\n", 0, end) == buf.count(b"\r\n", 0, end) <= limits.max_header_count
            ):
                self._end = (end + 1, end + 4)
                return _parse_head(buf, end + 1, end + 4, limits)
        size = len(buf)
        find = buf.find
        while True:
            lf = find(b"\n", self._scan)
            if lf < 0:
                break
            start = self._line
            length = lf - start - (lf > start and buf[lf - 1] == 0x0D)
            self._line = self._scan = lf + 1
            if self._headers < 0:
                if length > limits.max_request_line:
                    raise HandshakeError(414, "request line too long")
                self._headers = 0
            elif length == 0:
                # The blank line: the head ends here (CRLF or bare LF, RFC 7230 §3.5).
                if lf + 1 > limits.max_head_size:
                    raise HandshakeError(431, "request head too large")
                self._end = (start - 1, lf + 1)
                return _parse_head(buf, start - 1, lf + 1, limits)
            else:
                if length > limits.max_header_size:
                    raise HandshakeError(431, "header line too long")
                self._headers += 1
                if self._headers > limits.max_header_count:
                    raise HandshakeError(431, "too many header lines")
        self._scan = size
        # The line still arriving; a trailing CR may be half of its line end, so it does not count.
        start = self._line
        length = size - start - (size > start and buf[size - 1] == 0x0D)
        if self._headers < 0:
            if length > limits.max_request_line:
                raise HandshakeError(414, "request line too long")
        elif length > 0:
            if length > limits.max_header_size:
                raise HandshakeError(431, "header line too long")
            if self._headers + 1 > limits.max_header_count:
                raise HandshakeError(431, "too many header lines")
        if size > limits.max_head_size:
            raise HandshakeError(431, "request head too large")
        return None


def _parse_head(data: bytes | bytearray, end: int, consumed: int, limits: HandshakeLimits) -> Request:
    """The complete head ``data[: end + 1]`` (through the LF before its blank line), parsed and checked."""
    return _parse_usual_head(data, end, consumed, limits) or _parse_any_head(data, end, consumed, limits)


def _parse_usual_head(
    data: bytes | bytearray, end: int, consumed: int, limits: HandshakeLimits
) -> Request | None:
    """The request of a head in the usual shape, or ``None`` for ``_parse_any_head`` to decide.

    The usual shape: CRLF line ends, ``GET <origin-form target> HTTP/1.1``, no control but HTAB, every
    header name at most once, fewer commas and semicolons than could break ``max_list_items``, and every
    check of ``_validate`` passed without its general-case work. Whatever is outside it (a bare LF, a
    repeated header, a malformed line, a refusal of any kind) gets ``None``, never an error, so every
    refusal and its reason come from the one full parser; a head in the usual shape gives the same
    ``Request`` as that parser (a property the tests check). It does a fraction of the full parse's work:
    one pass of C string methods over the head, then a few operations per header line.
    """
    if end < 1 or data[end - 1] != 0x0D:
        return None
    head = bytes(data[: end - 1])  # without the line end of the last header line
    lines = head.split(b"\r\n")
    if len(head.translate(None, _CONTROLS)) != len(head) - 2 * len(lines) + 2:
        return None  # a control, a bare CR or a bare LF
    line = lines[0]
    if line[:4] != b"GET " or line[-9:] != b" HTTP/1.1":
        return None
    raw_target = line[4:-9]
    if (
        not raw_target.startswith(b"/")
        or b" " in raw_target
        or b"\t" in raw_target
        or not raw_target.isascii()
    ):
        return None
    del lines[0]
    if len(lines) + head.count(b",") + head.count(b";") > limits.max_list_items:
        return None
    items: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    for line in lines:
        raw_name, colon, raw_value = line.partition(b":")
        if not colon:
            return None
        known = _USUAL_NAMES.get(raw_name)
        if known is None:
            if not _is_token_bytes(raw_name):
                return None
            name = raw_name.decode("ascii")
            key = name.lower()
        else:
            name, key = known
        if key in index:
            return None
        value = raw_value.strip(b" \t").decode("latin-1")
        items.append((name, value))
        index[key] = [value]
    if not index.get("host", ("",))[0]:
        return None
    upgrade = index.get("upgrade")
    if upgrade is None or (upgrade[0].lower() != "websocket" and "websocket" not in _tokens(upgrade)):
        return None
    connection = index.get("connection")
    if connection is None or (connection[0].lower() != "upgrade" and "upgrade" not in _tokens(connection)):
        return None
    version = _VERSIONS.get(index.get("sec-websocket-version", ("",))[0])
    if version is None:
        return None
    key = index.get("sec-websocket-key", ("",))[0]
    if not _is_usual_key(key):
        return None
    if version == 13:
        origin_values = index.get("origin") or index.get("sec-websocket-origin")
    else:
        origin_values = index.get("sec-websocket-origin") or index.get("origin")
    offered = index.get("sec-websocket-protocol")
    subprotocols: list[str] = []
    if offered is not None:
        for token in offered[0].split(","):
            token = token.strip(" \t")
            if token:
                if not _is_token(token):
                    return None
                subprotocols.append(token)
    extensions = index.get("sec-websocket-extensions")
    target = raw_target.decode("ascii")
    if "#" in target:
        return None
    path, _, query_string = target.partition("?")
    return Request(
        "GET",
        target,
        path,
        query_string,
        Headers._build(items, index),
        version,
        key,
        origin_values[0] if origin_values else None,
        subprotocols,
        extensions[0] or None if extensions else None,
        consumed,
    )


def _parse_any_head(data: bytes | bytearray, end: int, consumed: int, limits: HandshakeLimits) -> Request:
    """Any complete head, every rule checked in the order the refusals are promised."""
    head = bytes(data[: end + 1]).replace(b"\r\n", b"\n")
    lines = head.split(b"\n")  # the request line, the header lines, and b"" after the last LF
    _check_lines(lines, limits)
    if _find_head_control(head):
        raise HandshakeError(400, "control character in request head")
    target = _parse_request_line(lines[0])
    headers = _parse_header_lines(head, lines)
    return _validate(target, headers, consumed, limits)


def _check_lines(lines: list[bytes], limits: HandshakeLimits) -> None:
    """Limits on a complete head: request line (414), header count and header line length (431)."""
    if len(lines[0]) > limits.max_request_line:
        raise HandshakeError(414, "request line too long")
    if len(lines) - 2 > limits.max_header_count:
        raise HandshakeError(431, "too many header lines")
    if sum(map(len, lines)) - len(lines[0]) > limits.max_header_size and (
        max(map(len, lines[1:])) > limits.max_header_size
    ):
        raise HandshakeError(431, "header line too long")


def _parse_request_line(line: bytes) -> str:
    """RFC 7230 §3.1.1 request line; returns the target. Only GET over HTTP/1.1 or later may upgrade."""
    parts = line.split(b" ")
    if len(parts) != 3 or not _is_token_bytes(parts[0]) or not parts[1]:
        raise HandshakeError(400, "malformed request line")
    method, target, version = parts
    match = _http_version(version)
    if match is None:
        raise HandshakeError(400, "malformed request line")
    if match[1] != b"1" or match[2] == b"0":
        raise HandshakeError(400, "HTTP/1.1 is required")  # RFC 6455 §4.1
    if method != b"GET":
        raise HandshakeError(405, "only GET can open a WebSocket", [("Allow", "GET")])  # RFC 6455 §4.1
    if not target.isascii() or b"\t" in target:
        raise HandshakeError(400, "malformed request target")
    return target.decode("ascii")


def _parse_header_lines(head: bytes, lines: list[bytes]) -> Headers:
    """RFC 7230 §3.2 header fields of a head whose lines end with LF (``lines`` is ``head`` split)."""
    fields = _header_fields(head, len(lines[0]) + 1)
    if len(fields) != len(lines) - 2:  # some line is not "token:value"
        for line in lines[1:-1]:
            if line[:1] in (b" ", b"\t"):
                raise HandshakeError(400, "obsolete line folding in headers")  # RFC 7230 §3.2.4
        raise HandshakeError(400, "malformed header line")
    items: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    for raw_name, raw_value in fields:
        name = raw_name.decode("ascii")
        value = raw_value.rstrip(b" \t").decode("latin-1")
        items.append((name, value))
        key = name.lower()
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
    return Headers._build(items, index)


def _list_size(values: list[str], name: str) -> int:
    """How many elements a list header may hold at most, over its lines: one more than its separators.

    Extension parameters count as elements, so an offer list costs what its objects cost to build.
    """
    size = len(values)
    for value in values:
        size += value.count(",")
        if name == "sec-websocket-extensions":
            size += value.count(";")
    return size


def _tokens(values: list[str] | None) -> set[str]:
    """The lowercased elements of a comma-separated list header, over all its lines (RFC 7230 §7)."""
    if not values:
        return set()
    return {token.strip(" \t").lower() for value in values for token in value.split(",")}


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of an origin-form target; an absolute-form ``ws://host/path?q`` gives its own."""
    if "#" in target:
        raise HandshakeError(400, "fragment in request target")  # RFC 6455 §3
    if target[0] != "/":
        scheme, sep, rest = target.partition("://")
        if not sep or scheme.lower() not in ("ws", "wss", "http", "https"):
            raise HandshakeError(400, "malformed request target")
        cut = len(rest)
        for char in "/?":
            found = rest.find(char)
            if 0 <= found < cut:
                cut = found
        target = rest[cut:]
        if target[:1] != "/":
            target = "/" + target
    path, _, query_string = target.partition("?")
    return path, query_string


def _validate(target: str, headers: Headers, consumed: int, limits: HandshakeLimits) -> Request:
    """RFC 6455 §4.2.1: what the server must check before it may answer 101."""
    index = headers._index
    for name, display in _SINGLE_VALUED.items():
        values = index.get(name)
        if values is not None and len(values) > 1:
            raise HandshakeError(400, f"more than one {display} header")
    for name, display in _LIST_VALUED.items():
        values = index.get(name)
        # Separators bound the elements from above (a quoted comma counts too): checked before any split.
        if values is not None and _list_size(values, name) > limits.max_list_items:
            raise HandshakeError(400, f"too many elements in {display}")
    if not index.get("host", ("",))[0]:
        raise HandshakeError(400, "missing Host header")
    upgrade = index.get("upgrade")
    if upgrade is None:
        raise HandshakeError(426, _NOT_WEBSOCKET, [("Upgrade", "websocket")])
    if "websocket" not in _tokens(upgrade):
        raise HandshakeError(400, "Upgrade header must contain websocket")
    if "upgrade" not in _tokens(index.get("connection")):
        raise HandshakeError(400, "Connection header must contain upgrade")
    version = _VERSIONS.get(index.get("sec-websocket-version", ("",))[0])
    if version is None:
        raise HandshakeError(426, "unsupported WebSocket version", [_VERSION_HEADER])  # RFC 6455 §4.4
    key = index.get("sec-websocket-key", ("",))[0]
    if not _is_valid_key(key):
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    # hybi-07/08 clients send the origin in Sec-WebSocket-Origin; RFC 6455 clients in Origin (§4.1 step 8).
    if version == 13:
        origin_values = index.get("origin") or index.get("sec-websocket-origin")
    else:
        origin_values = index.get("sec-websocket-origin") or index.get("origin")
    subprotocols: list[str] = []
    for value in index.get("sec-websocket-protocol", ()):
        for token in value.split(","):
            token = token.strip(" \t")
            if not token:
                continue  # RFC 7230 §7: empty list elements are ignored
            if not _is_token(token):
                raise HandshakeError(400, "Sec-WebSocket-Protocol must list tokens")  # RFC 6455 §4.1
            subprotocols.append(token)
    extensions = ", ".join(value for value in index.get("sec-websocket-extensions", ()) if value)
    path, query_string = _split_target(target)
    return Request(
        method="GET",
        target=target,
        path=path,
        query_string=query_string,
        headers=headers,
        version=version,
        key=key,
        origin=origin_values[0] if origin_values else None,
        subprotocols=subprotocols,
        extensions=extensions or None,
        consumed=consumed,
    )


def _is_valid_key(key: str) -> bool:
    """RFC 6455 §4.1 step 7: base64 of 16 bytes, so 24 characters ending in "=="."""
    if len(key) != 24 or not key.endswith("=="):
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:  # binascii.Error, or a non-ASCII str
        return False


# ---------------------------------------------------------------------------------------------- responses


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client key (RFC 6455 §4.2.2 step 5.4; same for hybi-07/08)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def accept_response(
    request: Request,
    *,
    subprotocol: str | None = None,
    extensions: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The 101 response that completes the handshake (RFC 6455 §4.2.2 step 5).

    Raises ``ValueError`` for a ``subprotocol`` the client did not offer (the client would fail the
    connection, §4.1), or a header name that is not a token or a value holding CR, LF or another control.
    """
    if subprotocol is None and not extensions and not extra_headers:
        # The usual answer: constant lines around the key's digest (the tests compare it with _response's).
        digest = hashlib.sha1(request.key.encode("ascii") + _GUID).digest()
        return _PLAIN_ACCEPT + binascii.b2a_base64(digest, newline=False) + b"\r\n\r\n"
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(request.key)),
    ]
    if subprotocol is not None:
        if subprotocol not in request.subprotocols:
            raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    if extra_headers:
        headers.extend(extra_headers)
    return _response(101, headers, b"")


def reject_response(error: HandshakeError) -> bytes:
    """A short plain-text HTTP refusal, ``Connection: close``, with the error's extra headers.

    The body is the error's reason and a newline; the reason never reaches a header.
    """
    body = (error.reason + "\n").encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *error.headers,
    ]
    return _response(error.status, headers, body)


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """Status line (with the standard reason phrase, or none for an unknown status), headers, body."""
    if not 100 <= status <= 999:
        raise ValueError(f"invalid HTTP status {status!r}")
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, '')}"]
    for name, value in headers:
        if not _is_token(name):
            raise ValueError(f"header name {name!r} is not a token")
        if _find_value_control(value):
            raise ValueError(f"header {name} has a line break or control character in its value")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1") + body


def select_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first of the server's ``supported`` subprotocols (server's order) that the client offered."""
    for name in supported:
        if name in offered:
            return name
    return None
