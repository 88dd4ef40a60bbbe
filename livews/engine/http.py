"""Plain HTTP/1.1 requests on the WebSocket port: parse a request head that is not an upgrade; cookies.

Sans-I/O and standard library only. The handshake parser (``handshake.py``) reads every request first and
refuses one without an ``Upgrade`` header (426) or with another method than GET (405), after it has checked
the head against the limits. Only then does the server ask ``parse_plain_request`` whether the same head is a
well-formed plain request it may answer itself (a health check, a small page, a 404). Anything doubtful
(an ``Upgrade`` header, another HTTP version, an asterisk or authority target, a malformed line) gives
``None``, and the handshake parser's refusal stays the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .handshake import Headers

__all__ = ["HttpRequest", "parse_cookies", "parse_plain_request"]

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 7230 §3.2.6
_request_line = re.compile(rb"(" + _TOKEN + rb") (/[!-~]*) HTTP/1\.[01]").fullmatch
_header_line = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*").fullmatch
_control = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search


@dataclass(slots=True)
class HttpRequest:
    """A plain (non-upgrade) request: what a ``http`` hook sees. ``path`` is as sent (percent-encoded)."""

    method: str
    target: str
    path: str
    query_string: str
    headers: Headers

    @property
    def cookies(self) -> dict[str, str]:
        """The ``Cookie`` header's pairs (see ``parse_cookies``)."""
        return parse_cookies(self.headers)

    @property
    def query_params(self) -> dict[str, str]:
        """Query parameters, percent-decoded; the first value wins for a repeated name."""
        params: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            params.setdefault(key, value)
        return params


def parse_plain_request(data: bytes | bytearray) -> HttpRequest | None:
    """The plain request whose complete head starts ``data``, or ``None`` if it is not one to answer.

    ``data`` must already have passed ``parse_request``'s limits (the server calls this only on a head that
    parser refused with 405 or 426, which it does after checking them).
    """
    end = data.find(b"\n\r\n")
    bare = data.find(b"\n\n", 0, end + 1 if end >= 0 else len(data))
    if bare >= 0:
        end = bare
    elif end < 0:
        return None
    lines = bytes(data[: end + 1]).replace(b"\r\n", b"\n").split(b"\n")[:-1]
    request_line = _request_line(lines[0])
    if request_line is None:
        return None
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        field = _header_line(line)
        if field is None or _control(field[2]):
            return None
        items.append((field[1].decode("ascii"), field[2].decode("latin-1")))
    headers = Headers(items)
    if "upgrade" in headers:
        return None  # an attempted upgrade: the handshake parser's refusal says what is wrong with it
    target = request_line[2].decode("ascii")
    if "#" in target:
        return None
    path, _, query_string = target.partition("?")
    return HttpRequest(request_line[1].decode("ascii"), target, path, query_string, headers)


def parse_cookies(headers: Headers) -> dict[str, str]:
    """Cookie name -> value from every ``Cookie`` header (RFC 6265 §5.4); the first of a repeated name wins.

    Values are kept as sent, but for one pair of surrounding double quotes (RFC 6265 §4.1.1); pairs without
    ``=`` or with an empty name are skipped.
    """
    cookies: dict[str, str] = {}
    for header in headers.get_all("cookie"):
        for pair in header.split(";"):
            name, sep, value = pair.partition("=")
            name = name.strip(" \t")
            if not sep or not name:
                continue
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name, value)
    return cookies
