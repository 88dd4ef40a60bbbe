"""Every shortcut of the opening handshake against the straightforward code it stands in for.

A shortcut may decline (and leave the work to the full code), but whatever it answers is what the full code
answers: the same ``Request``, the same refusal, the same bytes. Heads are generated around the usual shape
(what browsers and clients send) and then bent: other line ends, repeated or missing headers, bad names,
controls, odd targets, random bytes anywhere, tight limits.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livews.engine import HandshakeError, HandshakeLimits, handshake
from livews.engine.handshake import Headers, HeadReader, Request

BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
DEFAULT = HandshakeLimits()

TARGETS = [
    b"/",
    b"/echo",
    b"/chat?room=1&x=%20y",
    b"/a/b/c?",
    b"/x#frag",
    b"ws://host:1/p?q",
    b"*",
    b"/t\tab",
]
USUAL_REQUEST_LINES = [b"GET " + target + b" HTTP/1.1" for target in TARGETS[:4]]
REQUEST_LINES = [
    *(b"GET " + target + b" HTTP/1.1" for target in TARGETS),
    b"GET / HTTP/1.0",
    b"GET / HTTP/1.2",
    b"POST / HTTP/1.1",
    b"GET  HTTP/1.1",
    b"GET /a b HTTP/1.1",
    b"GET /\xe9 HTTP/1.1",
    b"get / HTTP/1.1",
    b"GET / HTTP/1.1 ",
]


def _spellings(name: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([name, name.lower(), name.upper(), name.swapcase()]).map(str.encode)


OWS = st.sampled_from([b"", b" ", b"  ", b"\t", b" \t "])
PLAIN_VALUE = st.binary(max_size=20).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F))

FIELDS: dict[str, st.SearchStrategy[bytes]] = {
    "Host": st.sampled_from([b"example.com", b"127.0.0.1:8765", b"", b"h\xe9"]),
    "Upgrade": st.sampled_from([b"websocket", b"WebSocket", b"h2c, websocket", b"h2c", b"", b"websocket,"]),
    "Connection": st.sampled_from([b"Upgrade", b"upgrade", b"keep-alive, Upgrade", b"close", b" ,upgrade"]),
    "Sec-WebSocket-Key": st.sampled_from(
        [
            KEY,
            b"AAAAAAAAAAAAAAAAAAAAAB==",
            b"AAAAAAAAAAAAAAAAAAAAA===",
            b"short==",
            KEY + b"x",
            b"",
            b"A" * 24,
        ]
    ),
    "Sec-WebSocket-Version": st.sampled_from([b"13", b"8", b"7", b"12", b"", b"13, 8"]),
    "Origin": st.sampled_from([b"http://example.com", b"null", b""]),
    "Sec-WebSocket-Origin": st.sampled_from([b"http://old.example.com"]),
    "Sec-WebSocket-Protocol": st.sampled_from(
        [b"chat", b"chat, superchat", b", chat,, v2 ", b"a b", b"", b"x@y"]
    ),
    "Sec-WebSocket-Extensions": st.sampled_from(
        [b"permessage-deflate; client_max_window_bits", b"", b"x, y; z", b"permessage-deflate"]
    ),
    "User-Agent": st.sampled_from(
        [b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"]
    ),
    "X-Custom_1": PLAIN_VALUE,
    "Cookie": st.sampled_from([b"a=1; b=2", b"s=\xe9t\xe9"]),
}

#: Values every one of which a server accepts (the fields missing here accept all of theirs).
USUAL_FIELDS: dict[str, st.SearchStrategy[bytes]] = {
    "Host": st.sampled_from([b"example.com", b"127.0.0.1:8765", b"h\xe9"]),
    "Upgrade": st.sampled_from([b"websocket", b"WebSocket", b"h2c, websocket", b"websocket,"]),
    "Connection": st.sampled_from([b"Upgrade", b"upgrade", b"keep-alive, Upgrade", b" ,upgrade"]),
    "Sec-WebSocket-Key": st.sampled_from([KEY, b"AAAAAAAAAAAAAAAAAAAAAB=="]),
    "Sec-WebSocket-Version": st.sampled_from([b"13", b"8", b"7"]),
    "Sec-WebSocket-Protocol": st.sampled_from([b"chat", b"chat, superchat", b", chat,, v2 ", b""]),
}


BAD_LINES = [
    b"NoColon",
    b"Host",
    b" folded",
    b"\tfolded",
    b"No colon",
    b"Bad name: x",
    b": x",
    b"X:\x00",
    b"X: \x7f",
    b"X: a\rb",
]


@st.composite
def heads(draw: st.DrawFn, *, bent: bool = True) -> bytes:
    """A request head in the usual shape; with ``bent``, then bent in up to three ways."""
    request_line = b"GET " + draw(st.sampled_from(TARGETS[:4])) + b" HTTP/1.1"
    required = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
    optional = [name for name in FIELDS if name not in required]
    names = draw(
        st.permutations(required + draw(st.lists(st.sampled_from(optional), max_size=4, unique=True)))
    )
    lines = []
    for name in names:
        value = draw(USUAL_FIELDS.get(name, FIELDS[name]))
        lines.append(draw(_spellings(name)) + b":" + draw(OWS) + value + draw(OWS))
    eols = [b"\r\n"] * (len(lines) + 2)
    for _ in range(draw(st.integers(1, 3)) if bent else 0):
        bend = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5, 6]))
        at = draw(st.integers(0, len(lines) - 1))
        if bend == 0:
            request_line = draw(st.sampled_from(REQUEST_LINES))
        elif bend == 1:  # another value, maybe one to refuse
            name = draw(st.sampled_from(list(FIELDS)))
            lines[at] = draw(_spellings(name)) + b":" + draw(OWS) + draw(FIELDS[name])
        elif bend == 2:  # a header twice
            lines.insert(at, lines[draw(st.integers(0, len(lines) - 1))])
            eols.append(b"\r\n")
        elif bend == 3 and len(lines) > 1:
            del lines[at]
            del eols[at]
        elif bend == 4:
            lines.insert(at, draw(st.sampled_from(BAD_LINES)))
            eols.append(b"\r\n")
        elif bend == 5:  # a bare LF
            eols[draw(st.integers(0, len(eols) - 1))] = b"\n"
        elif bend == 6:
            eols = [b"\n"] * len(eols)
    head = (
        request_line
        + eols[0]
        + b"".join(line + eol for line, eol in zip(lines, eols[1:-1], strict=True))
        + eols[-1]
    )
    if bent and draw(st.integers(0, 3)) == 0:  # a few random bytes anywhere
        at = draw(st.integers(0, len(head)))
        head = head[:at] + draw(st.binary(min_size=1, max_size=3)) + head[at + draw(st.integers(0, 2)) :]
    return head


def full_parse(data: bytes, limits: HandshakeLimits) -> Request | tuple[Any, ...]:
    """The straightforward parser's answer: a ``Request``, or the refusal as comparable values."""
    end = data.find(b"\n\r\n")
    bare = data.find(b"\n\n")
    end = min(i for i in (end, bare) if i >= 0) if max(end, bare) >= 0 else -1
    consumed = end + (3 if data[end + 1 : end + 2] == b"\r" else 2)
    try:
        return handshake._parse_any_head(data, end, consumed, limits)
    except HandshakeError as exc:
        return refused(exc)


def refused(exc: HandshakeError) -> tuple[Any, ...]:
    return ("refused", exc.status, exc.reason, list(exc.headers))


def read(pieces: list[bytes], limits: HandshakeLimits) -> Request | tuple[Any, ...] | None:
    reader = HeadReader(limits)
    try:
        for piece in pieces:
            request = reader.feed(piece)
            if request is not None:
                return request
    except HandshakeError as exc:
        return refused(exc)
    return None


# ------------------------------------------------------------------------------------------- the head


@BOUNDED
@given(heads(bent=False))
def test_a_head_in_the_usual_shape_takes_the_short_parse_and_gives_the_full_parsers_request(
    data: bytes,
) -> None:
    end = data.index(b"\r\n\r\n") + 1
    request = handshake._parse_usual_head(data, end, end + 3, HandshakeLimits())
    assert request is not None
    assert request == full_parse(data, HandshakeLimits())


@settings(BOUNDED, max_examples=1500)
@given(heads(), st.builds(HandshakeLimits, max_list_items=st.integers(1, 12)))
def test_the_short_parse_declines_or_agrees_with_the_full_parser(
    data: bytes, limits: HandshakeLimits
) -> None:
    if b"\n\r\n" not in data and b"\n\n" not in data:
        return
    full = full_parse(data, limits)
    end = min(i for i in (data.find(b"\n\r\n"), data.find(b"\n\n")) if i >= 0)
    consumed = end + (3 if data[end + 1 : end + 2] == b"\r" else 2)
    quick = handshake._parse_usual_head(data, end, consumed, limits)
    assert quick is None or quick == full


@st.composite
def limits_around(draw: st.DrawFn, data: bytes) -> HandshakeLimits:
    """Limits each of which ``data`` meets loosely, or meets or breaks by a byte or a line.

    Near: the whole head (the reader may treat it as one line), its request line, its longest line.
    """
    end = data.find(b"\r\n\r\n")
    size = len(data) if end < 0 else end
    lines = data[:size].split(b"\n")
    count = len(lines) - 1

    def near(*sizes: int) -> st.SearchStrategy[int]:
        return st.one_of(st.just(8192), *(st.integers(max(1, n - 1), n + 1) for n in sizes))

    return HandshakeLimits(
        max_request_line=draw(near(size, len(lines[0]))),
        max_header_count=draw(st.one_of(st.just(100), st.integers(max(0, count - 1), count + 1))),
        max_header_size=draw(near(size, max(map(len, lines)))),
        max_head_size=draw(st.one_of(st.just(16384), st.integers(max(1, size + 2), size + 6))),
        max_list_items=draw(st.one_of(st.just(64), st.integers(1, 12))),
    )


@BOUNDED
@given(st.data(), st.one_of(heads(bent=False), heads()), st.binary(max_size=8))
def test_a_head_read_whole_gives_what_the_line_by_line_walk_gives(
    data: st.DataObject, head: bytes, after: bytes
) -> None:
    # Fed whole, a fresh reader may skip its walk; after a first byte alone it never does.
    limits = data.draw(limits_around(head))
    head += after
    assert read([head], limits) == read([head[:1], head[1:]], limits)


@BOUNDED
@given(heads(bent=False), st.binary(max_size=8))
def test_a_head_read_whole_ends_where_the_walk_ends(data: bytes, after: bytes) -> None:
    whole, walked = HeadReader(HandshakeLimits()), HeadReader(HandshakeLimits())
    request = whole.feed(data + after)
    walked.feed(data[:1])
    assert request is not None and request == walked.feed(data[1:] + after)
    assert whole._end == walked._end and request.consumed == len(data)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="AQgwz09+/=-_ \xe9", min_size=20, max_size=26),
        st.binary(min_size=16, max_size=16).map(lambda b: __import__("base64").b64encode(b).decode()),
    )
)
def test_the_usual_key_check_is_the_base64_definition(key: str) -> None:
    assert bool(handshake._is_usual_key(key)) == handshake._is_valid_key(key)


# Deterministic cases for the rules each shortcut must not skip, whatever the generated heads reach.

USUAL = (
    b"Host: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n"
)


def _both(data: bytes, limits: HandshakeLimits = DEFAULT) -> tuple[object, object]:
    end = data.index(b"\r\n\r\n") + 1
    return handshake._parse_usual_head(data, end, end + 3, limits), full_parse(data, limits)


@pytest.mark.parametrize("request_line", REQUEST_LINES)
def test_every_request_line_is_read_by_the_short_parse_as_the_full_parser_reads_it(
    request_line: bytes,
) -> None:
    quick, full = _both(request_line + b"\r\n" + USUAL + b"\r\n")
    assert quick is None or quick == full
    assert (quick is None) == (request_line not in USUAL_REQUEST_LINES)


@pytest.mark.parametrize("line", BAD_LINES)
def test_a_malformed_header_line_is_left_to_the_full_parser_which_refuses_it(line: bytes) -> None:
    quick, full = _both(b"GET / HTTP/1.1\r\n" + USUAL + line + b"\r\n\r\n")
    assert quick is None and isinstance(full, tuple) and full[1] == 400


def test_a_bare_lf_blank_line_before_a_crlf_one_ends_the_head_where_the_walk_ends() -> None:
    data = b"GET / HTTP/1.1\r\n" + USUAL + b"X: 1\n\r\n" + b"X-After: 2\r\n\r\n"
    request = read([data], HandshakeLimits())
    assert isinstance(request, Request) and request == read([data[:1], data[1:]], HandshakeLimits())
    assert "X-After" not in request.headers and request.consumed == data.index(b"\n\r\n") + 3


def test_bare_lf_lines_count_against_max_header_count_when_read_whole() -> None:
    data = b"GET / HTTP/1.1\r\n" + USUAL + b"A: 1\nB: 2\nC: 3\r\n\r\n"
    limits = HandshakeLimits(max_header_count=7)
    assert (
        read([data], limits)
        == read([data[:1], data[1:]], limits)
        == ("refused", 431, "too many header lines", [])
    )


@pytest.mark.parametrize(
    ("limits", "status"),
    [
        (HandshakeLimits(max_request_line=len(b"GET / HTTP/1.1")), None),
        (HandshakeLimits(max_request_line=len(b"GET / HTTP/1.1") - 1), 414),
        (HandshakeLimits(max_header_count=5), None),
        (HandshakeLimits(max_header_count=4), 431),
        (HandshakeLimits(max_header_size=len(b"Sec-WebSocket-Key: " + KEY)), None),
        (HandshakeLimits(max_header_size=len(b"Sec-WebSocket-Key: " + KEY) - 1), 431),
        (HandshakeLimits(max_head_size=len(USUAL) + 18), None),
        (HandshakeLimits(max_head_size=len(USUAL) + 17), 431),
    ],
)
def test_a_usual_head_read_whole_meets_each_limit_exactly_or_is_refused(
    limits: HandshakeLimits, status: int | None
) -> None:
    data = b"GET / HTTP/1.1\r\n" + USUAL + b"\r\n"
    whole = read([data], limits)
    assert whole == read([data[:1], data[1:]], limits)
    assert isinstance(whole, Request) if status is None else whole[1] == status  # type: ignore[index]


# ---------------------------------------------------------------------------------------- the response


@BOUNDED
@given(
    st.binary(min_size=16, max_size=16),
    st.sampled_from([None, "chat"]),
    st.sampled_from([None, "", "permessage-deflate"]),
    st.sampled_from([None, [], [("Set-Cookie", "a=1")]]),
)
def test_the_usual_101_is_byte_identical_to_the_one_the_general_builder_makes(
    key: bytes, subprotocol: str | None, extensions: str | None, extra: list[tuple[str, str]] | None
) -> None:
    request = Request("GET", "/", "/", "", Headers(), 13, base64.b64encode(key).decode(), None, ["chat"])
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    headers.append(("Sec-WebSocket-Accept", handshake.accept_key(request.key)))
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    headers.extend(extra or [])
    made = handshake.accept_response(
        request, subprotocol=subprotocol, extensions=extensions, extra_headers=extra
    )
    assert made == handshake._response(101, headers, b"")
