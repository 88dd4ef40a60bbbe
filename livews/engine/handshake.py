"""The opening handshake (RFC 6455 §4.1-§4.2; hybi drafts 07 and 08): parse the upgrade request, answer it.

Sans-I/O: ``parse_request`` takes the bytes read so far and returns ``None`` until the request head is
complete. Limits on the request line, on each header line and on the number of headers are enforced on
incomplete input too, so a peer that never finishes its head is refused as soon as it goes past them.

Refusals are ``HandshakeError`` with an HTTP status; ``reject_response`` turns one into bytes. Reasons are
fixed strings chosen here, never echoes of client input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .errors import HandshakeError
from .limits import Limits

__all__ = [
    "SUPPORTED_VERSIONS",
    "Headers",
    "Request",
    "accept_key",
    "accept_response",
    "parse_request",
    "reject_response",
    "select_subprotocol",
]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SUPPORTED_VERSIONS = (13, 8, 7)
_VERSION_HEADER = ("Sec-WebSocket-Version", "13, 8, 7")
_SINGLE_VALUED = ("host", "sec-websocket-key", "sec-websocket-version")
_TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

_CONTROL_CHARS = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"

_PHRASES = {
    101: "Switching Protocols",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    426: "Upgrade Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Headers:
    """Request headers in arrival order, looked up without regard to case."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items = items or []

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._items:
            if key.lower() == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._items if key.lower() == name]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class Request:
    """A parsed, valid WebSocket upgrade request."""

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
    consumed: int = 0  # bytes of the request head; what follows is already WebSocket data


def parse_request(data: bytes | bytearray, limits: Limits) -> Request | None:
    """Parse the request head in ``data``, or return ``None`` if it is not complete yet."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    _check_sizes(head, limits)
    if end < 0:
        return None
    lines = bytes(head).split(b"\r\n")
    method, target = _parse_request_line(lines[0])
    headers = Headers(_parse_header_lines(lines[1:]))
    request = _validate(method, target, headers)
    request.consumed = end + 4
    return request


def _check_sizes(head: bytes | bytearray, limits: Limits) -> None:
    """Refuse oversized heads as early as possible (414/431), even before the head ends."""
    first = head.find(b"\r\n")
    request_line = len(head) if first < 0 else first
    if request_line > limits.max_request_line:
        raise HandshakeError(414, "request line too long")
    if first < 0:
        return
    # One CRLF follows the request line and every header line but the last: this counts header lines begun.
    if head.count(b"\r\n", first) > limits.max_header_count:
        raise HandshakeError(431, "too many headers")
    if len(head) - request_line > limits.max_header_count * (limits.max_header_size + 2):
        raise HandshakeError(431, "headers too large")
    pos = first + 2
    while True:
        nxt = head.find(b"\r\n", pos)
        stop = len(head) if nxt < 0 else nxt
        if stop - pos > limits.max_header_size:
            raise HandshakeError(431, "header line too long")
        if nxt < 0:
            return
        pos = nxt + 2


def _parse_request_line(line: bytes) -> tuple[str, str]:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise HandshakeError(400, "malformed request line")
    method, target, version = parts
    if not method or not set(method) <= _TOKEN_CHARS:
        raise HandshakeError(400, "malformed request line")
    if len(version) != 8 or not version.startswith(b"HTTP/1.") or version[7:] not in b"123456789":
        raise HandshakeError(400, "HTTP/1.1 or later is required")
    if method != b"GET":
        raise HandshakeError(405, "only GET can upgrade to WebSocket", [("Allow", "GET")])
    try:
        target_text = target.decode("ascii")
    except UnicodeDecodeError:
        raise HandshakeError(400, "request target is not ASCII") from None
    if not target_text or any(c <= " " or c == "\x7f" for c in target_text):
        raise HandshakeError(400, "malformed request target")
    return "GET", target_text


def _parse_header_lines(lines: list[bytes]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise HandshakeError(400, "obsolete header line folding")  # RFC 7230 §3.2.4
        name, sep, value = line.partition(b":")
        if not sep or not name or not set(name) <= _TOKEN_CHARS:
            raise HandshakeError(400, "malformed header line")
        value = value.strip(b" \t")
        if len(value.translate(None, _CONTROL_CHARS)) != len(value):
            raise HandshakeError(400, "control character in header value")
        items.append((name.decode("ascii"), value.decode("latin-1")))
    return items


def _tokens(value: str | None) -> list[str]:
    if not value:
        return []
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def _validate(method: str, target: str, headers: Headers) -> Request:
    """RFC 6455 §4.2.1: what the server must check before it may answer 101."""
    for name in _SINGLE_VALUED:
        if len(headers.get_all(name)) > 1:
            raise HandshakeError(400, f"duplicate {name} header")
    if headers.get("host") is None:
        raise HandshakeError(400, "missing Host header")
    upgrade = _tokens(", ".join(headers.get_all("upgrade")))
    if "websocket" not in upgrade:
        raise HandshakeError(
            426, "this is a WebSocket endpoint: connect with a WebSocket client", [("Upgrade", "websocket")]
        )
    if "upgrade" not in _tokens(", ".join(headers.get_all("connection"))):
        raise HandshakeError(400, "Connection header must contain 'upgrade'")
    raw_version = headers.get("sec-websocket-version")
    version = int(raw_version) if raw_version is not None and raw_version.isdigit() else -1
    if version not in SUPPORTED_VERSIONS:
        raise HandshakeError(426, "unsupported WebSocket version", [_VERSION_HEADER])
    key = headers.get("sec-websocket-key")
    if key is None:
        raise HandshakeError(400, "missing Sec-WebSocket-Key header")
    try:
        raw_key = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw_key = b""
    if len(raw_key) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    # hybi-07/08 clients send the origin in Sec-WebSocket-Origin; RFC 6455 clients in Origin.
    origin = headers.get("origin") if version == 13 else headers.get("sec-websocket-origin")
    if origin is None:
        origin = headers.get("sec-websocket-origin") if version == 13 else headers.get("origin")
    subprotocols = [
        token.strip() for value in headers.get_all("sec-websocket-protocol") for token in value.split(",")
    ]
    extensions = headers.get_all("sec-websocket-extensions")
    path, query_string = _split_target(target)
    return Request(
        method=method,
        target=target,
        path=path,
        query_string=query_string,
        headers=headers,
        version=version,
        key=key,
        origin=origin,
        subprotocols=[p for p in subprotocols if p],
        extensions=", ".join(extensions) if extensions else None,
    )


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of an origin-form target; an absolute-form ``ws://host/path`` gives its path."""
    if not target.startswith("/"):
        scheme, sep, rest = target.partition("://")
        if not sep or scheme.lower() not in ("ws", "wss", "http", "https"):
            raise HandshakeError(400, "malformed request target")
        slash = rest.find("/")
        target = "/" if slash < 0 else rest[slash:]
    path, _, query = target.partition("?")
    path = path.partition("#")[0]
    return path, query


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client key (§4.2.2 step 5.4)."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def accept_response(
    request: Request,
    *,
    subprotocol: str | None = None,
    extensions: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The 101 response that completes the handshake."""
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(request.key)),
    ]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    if extra_headers:
        headers.extend(extra_headers)
    return _response(101, headers, b"")


def reject_response(error: HandshakeError) -> bytes:
    """A short plain-text HTTP refusal that closes the connection."""
    body = (error.reason + "\n").encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *error.headers,
    ]
    return _response(error.status, headers, body)


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}"]
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def select_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first of the server's ``supported`` subprotocols that the client offered, if any."""
    for name in supported:
        if name in offered:
            return name
    return None
