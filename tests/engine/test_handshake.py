"""livews.engine.handshake beyond the RFC 6455 rules: incremental parsing, limits on incomplete heads,
HTTP/1.1 header syntax, line ends, the Headers view and the bytes of responses."""

from __future__ import annotations

import pytest

from livews.engine import HandshakeError, HandshakeLimits, deflate, handshake
from livews.engine.handshake import (
    Headers,
    HeadReader,
    Request,
    accept_response,
    parse_request,
    reject_response,
)

REQUEST_LINE = b"GET /chat?room=1 HTTP/1.1"
HEADER_LINES = [
    b"Host: server.example.com",
    b"Upgrade: websocket",
    b"Connection: Upgrade",
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    b"Origin: http://example.com",
    b"Sec-WebSocket-Protocol: chat, superchat",
    b"Sec-WebSocket-Version: 13",
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
]
SAMPLE = REQUEST_LINE + b"\r\n" + b"".join(line + b"\r\n" for line in HEADER_LINES) + b"\r\n"
DEFAULT = HandshakeLimits()
# HandshakeLimits the sample meets exactly: one byte or one header more breaks each of them.
EXACT = HandshakeLimits(
    max_request_line=len(REQUEST_LINE),
    max_header_count=len(HEADER_LINES),
    max_header_size=max(map(len, HEADER_LINES)),
)


def with_headers(*lines: bytes, request_line: bytes = REQUEST_LINE, eol: bytes = b"\r\n") -> bytes:
    """The sample request with ``lines`` added after its headers."""
    return request_line + eol + b"".join(line + eol for line in [*HEADER_LINES, *lines]) + eol


def refusal(data: bytes | bytearray, limits: HandshakeLimits = DEFAULT) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        parse_request(data, limits)
    return info.value


def parsed(data: bytes | bytearray, limits: HandshakeLimits = DEFAULT) -> Request:
    request = parse_request(data, limits)
    assert request is not None
    return request


# ------------------------------------------------------------------------------------ incremental parsing


@pytest.mark.parametrize("limits", [HandshakeLimits(), EXACT], ids=["default_limits", "exact_limits"])
def test_head_split_at_every_byte_is_incomplete_until_its_last_byte(limits: HandshakeLimits) -> None:
    for size in range(len(SAMPLE)):
        assert parse_request(SAMPLE[:size], limits) is None, size
    request = parsed(SAMPLE, limits)
    assert request.consumed == len(SAMPLE)
    assert request.path == "/chat"


def test_head_fed_in_growing_bytearray_gives_the_same_request_as_bytes() -> None:
    buffer = bytearray()
    results = []
    for byte in SAMPLE:
        buffer.append(byte)
        results.append(parse_request(buffer, HandshakeLimits()))
    assert results[:-1] == [None] * (len(SAMPLE) - 1)
    assert results[-1] == parsed(SAMPLE)


def test_bytes_after_the_head_are_not_consumed() -> None:
    frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    request = parsed(SAMPLE + frame + b"\r\n\r\n")
    assert request.consumed == len(SAMPLE)


# ------------------------------------------------------------------------------------ line ends


def test_head_with_bare_lf_line_ends_is_accepted() -> None:
    data = with_headers(eol=b"\n")
    request = parsed(data + b"rest")
    assert request.consumed == len(data)
    assert request.headers.get("Sec-WebSocket-Version") == "13"


def test_head_with_mixed_line_ends_is_accepted() -> None:
    data = REQUEST_LINE + b"\n" + b"".join(line + b"\r\n" for line in HEADER_LINES) + b"\n"
    assert parsed(data + b"rest").consumed == len(data)
    data = REQUEST_LINE + b"\r\n" + b"".join(line + b"\n" for line in HEADER_LINES) + b"\r\n"
    assert parsed(data + b"rest").consumed == len(data)


def test_bare_lf_head_split_at_every_byte_is_incomplete_until_its_last_byte() -> None:
    data = with_headers(eol=b"\n")
    for size in range(len(data)):
        assert parse_request(data[:size], EXACT) is None, size
    assert parsed(data, EXACT).consumed == len(data)


def test_bare_cr_inside_a_header_line_is_refused_with_400() -> None:
    assert refusal(with_headers(b"X-A: 1\rX-B: 2")).status == 400


def test_bare_cr_ending_a_line_is_refused_with_400() -> None:
    assert refusal(with_headers(b"X-A: 1\r")).status == 400


# ------------------------------------------------------------------------------------ limits, complete heads


def test_head_meeting_every_limit_exactly_is_accepted() -> None:
    assert parsed(SAMPLE, EXACT).version == 13


def test_request_line_one_byte_over_the_limit_is_refused_with_414() -> None:
    data = with_headers(request_line=b"GET /chat?room=10 HTTP/1.1")
    assert refusal(data, EXACT).status == 414


def test_header_line_one_byte_over_the_limit_is_refused_with_431() -> None:
    assert refusal(with_headers(b"X: " + b"a" * (EXACT.max_header_size - 2)), EXACT).status == 431


def test_one_header_more_than_the_limit_is_refused_with_431() -> None:
    limits = HandshakeLimits(max_header_count=len(HEADER_LINES) + 1)
    assert parsed(with_headers(b"X-A: 1"), limits).version == 13
    assert refusal(with_headers(b"X-A: 1", b"X-B: 2"), limits).status == 431


def test_size_limit_counts_the_line_without_its_line_end() -> None:
    assert parsed(with_headers(eol=b"\n"), EXACT).version == 13


# ---------------------------------------------------------------------------------- limits, incomplete heads


def test_endless_request_line_is_refused_with_414_before_any_line_end() -> None:
    data = b"GET /" + b"a" * 100
    assert parse_request(data[: EXACT.max_request_line], EXACT) is None
    assert refusal(data[: EXACT.max_request_line + 1], EXACT).status == 414


def test_endless_header_line_is_refused_with_431_as_soon_as_it_passes_the_limit() -> None:
    start = REQUEST_LINE + b"\r\n" + HEADER_LINES[0] + b"\r\nX-Endless: "
    limit = len(HEADER_LINES[0]) + 4
    limits = HandshakeLimits(max_header_size=limit)
    line_start = len(start) - len(b"X-Endless: ")
    data = start + b"a" * 100
    assert parse_request(data[: line_start + limit], limits) is None
    assert refusal(data[: line_start + limit + 1], limits).status == 431


def test_endless_header_line_is_refused_even_when_the_head_is_small_overall() -> None:
    limits = HandshakeLimits(max_header_size=10)
    assert refusal(REQUEST_LINE + b"\r\nX-Endless: aaaa", limits).status == 431


def test_endless_stream_of_headers_is_refused_with_431_before_the_blank_line() -> None:
    limits = HandshakeLimits(max_header_count=3)
    data = REQUEST_LINE + b"\r\n" + b"X-A: 1\r\n" * 3
    assert parse_request(data, limits) is None
    assert parse_request(data + b"\r", limits) is None  # may still be the blank line
    assert refusal(data + b"X", limits).status == 431


def test_line_of_exactly_the_limit_followed_by_a_lone_cr_is_still_incomplete() -> None:
    assert parse_request(REQUEST_LINE + b"\r", EXACT) is None
    longest = max(HEADER_LINES, key=len)
    assert parse_request(REQUEST_LINE + b"\r\n" + longest + b"\r", EXACT) is None


def test_request_line_limit_is_checked_on_incomplete_head_with_headers_pending() -> None:
    assert refusal(b"GET /chat?room=10 HTTP/1.1\r\nHost: x", EXACT).status == 414


# ------------------------------------------------------------------------------------ header syntax


def test_obs_fold_continuation_line_is_refused_with_400() -> None:
    error = refusal(with_headers(b"X-Long: part one", b"  part two"))
    assert (error.status, error.reason) == (400, "obsolete line folding in headers")


def test_tab_continuation_line_is_refused_with_400() -> None:
    assert refusal(with_headers(b"X-Long: part one", b"\tpart two")).status == 400


def test_whitespace_before_the_first_header_is_refused_with_400() -> None:
    data = REQUEST_LINE + b"\r\n Host: x\r\n" + b"".join(line + b"\r\n" for line in HEADER_LINES) + b"\r\n"
    assert refusal(data).status == 400


@pytest.mark.parametrize(
    "line",
    [b"Host : x", b"X(A): 1", b"No colon here", b": empty name", b"X\x01: 1", b"X-\xe9: 1", b"X A: 1"],
)
def test_header_name_that_is_not_a_token_is_refused_with_400(line: bytes) -> None:
    assert refusal(with_headers(line)).status == 400


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x1bb", b"a\x7fb", b"a\x0bb"])
def test_control_character_in_a_header_value_is_refused_with_400(value: bytes) -> None:
    assert refusal(with_headers(b"X-A: " + value)).status == 400


def test_header_value_has_optional_whitespace_stripped_and_inner_tabs_kept() -> None:
    request = parsed(with_headers(b"X-A: \t a\tb  \t"))
    assert request.headers.get("x-a") == "a\tb"


def test_header_value_bytes_above_ascii_are_read_as_latin_1() -> None:
    assert parsed(with_headers(b"X-Name: caf\xe9")).headers.get("X-Name") == "caf\xe9"


def test_empty_header_value_is_kept_as_empty_string() -> None:
    assert parsed(with_headers(b"X-Empty:")).headers.get("X-Empty") == ""


def test_tab_in_the_request_target_is_refused_with_400() -> None:
    assert refusal(with_headers(request_line=b"GET /a\tb HTTP/1.1")).status == 400


def test_method_that_is_not_a_token_is_refused_with_400_not_405() -> None:
    assert refusal(with_headers(request_line=b"G(T /chat HTTP/1.1")).status == 400


# ------------------------------------------------------------------------------------ Headers


def test_headers_lookup_ignores_case_and_keeps_arrival_order() -> None:
    headers = Headers([("X-A", "1"), ("Host", "h"), ("x-a", "2")])
    assert headers.get("x-A") == "1"
    assert headers.get_all("X-a") == ["1", "2"]
    assert headers["HOST"] == "h"
    assert "host" in headers and "Origin" not in headers and 3 not in headers
    assert list(headers) == headers.items() == [("X-A", "1"), ("Host", "h"), ("x-a", "2")]
    assert len(headers) == 3


def test_headers_missing_name_gives_default_empty_list_or_key_error() -> None:
    headers = Headers()
    assert headers.get("Origin") is None
    assert headers.get("Origin", "none") == "none"
    assert headers.get_all("Origin") == []
    with pytest.raises(KeyError):
        headers["Origin"]


def test_headers_equal_when_their_pairs_are_equal_in_order() -> None:
    assert Headers([("A", "1"), ("B", "2")]) == Headers([("A", "1"), ("B", "2")])
    assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])
    assert Headers([("A", "1")]) != Headers([("a", "1")])


def test_headers_repr_shows_the_pairs() -> None:
    assert repr(Headers([("Host", "h")])) == "Headers([('Host', 'h')])"


def test_parsed_headers_keep_names_as_sent() -> None:
    request = parsed(with_headers(b"x-CUSTOM: v"))
    assert ("x-CUSTOM", "v") in request.headers.items()
    assert request.headers.get_all("X-Custom") == ["v"]


def test_get_all_returns_a_copy() -> None:
    headers = Headers([("X-A", "1")])
    headers.get_all("X-A").append("2")
    assert headers.get_all("X-A") == ["1"]


# ------------------------------------------------------------------------------------ responses


def test_reject_response_is_plain_text_with_length_and_connection_close() -> None:
    response = reject_response(HandshakeError(400, "missing Host header"))
    assert response == (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 20\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b"missing Host header\n"
    )


def test_reject_response_carries_the_errors_extra_headers() -> None:
    response = reject_response(refusal(with_headers(request_line=b"PUT /chat HTTP/1.1")))
    assert response.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"\r\nAllow: GET\r\n" in response


@pytest.mark.parametrize(
    ("status", "status_line"),
    [
        (414, b"HTTP/1.1 414 URI Too Long"),
        (426, b"HTTP/1.1 426 Upgrade Required"),
        (431, b"HTTP/1.1 431 Request Header Fields Too Large"),
        (599, b"HTTP/1.1 599 "),
    ],
)
def test_reject_response_uses_the_standard_reason_phrase(status: int, status_line: bytes) -> None:
    assert reject_response(HandshakeError(status, "x")).split(b"\r\n")[0] == status_line


def test_reject_response_body_length_counts_utf8_bytes() -> None:
    response = reject_response(HandshakeError(400, "caf\u00e9"))
    assert b"Content-Length: 6\r\n" in response
    assert response.endswith("caf\u00e9\n".encode())


def test_reject_reason_with_a_line_break_stays_in_the_body() -> None:
    head, body = reject_response(HandshakeError(400, "a\r\nSet-Cookie: x=1")).split(b"\r\n\r\n", 1)
    assert b"Set-Cookie" not in head
    assert body == b"a\r\nSet-Cookie: x=1\n"


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"<script>alert(1)</script>"),
        SAMPLE.replace(b"Version: 13", b"Version: <script>alert(1)</script>"),
        with_headers(request_line=b"GET /<script>alert(1)</script>#x HTTP/1.1"),
        with_headers(b"<script>alert(1)</script>: 1"),
        with_headers(b"Sec-WebSocket-Protocol: <script>alert(1)</script>"),
    ],
    ids=["key", "version", "target", "header_name", "subprotocol"],
)
def test_reject_response_never_echoes_client_input(data: bytes) -> None:
    assert b"script" not in reject_response(refusal(data))


def test_accept_response_appends_extra_headers_in_order() -> None:
    response = accept_response(parsed(SAMPLE), extra_headers=[("Server", "livews"), ("X-Id", "7")])
    assert response.endswith(b"\r\nServer: livews\r\nX-Id: 7\r\n\r\n")


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b"])
def test_accept_response_refuses_a_header_value_with_a_line_break_or_control(value: str) -> None:
    with pytest.raises(ValueError):
        accept_response(parsed(SAMPLE), extra_headers=[("X-A", value)])


def test_accept_response_refuses_extensions_with_a_line_break() -> None:
    with pytest.raises(ValueError):
        accept_response(parsed(SAMPLE), extensions="permessage-deflate\r\nX-Injected: 1")


@pytest.mark.parametrize("name", ["X A", "X:A", "", "X\r\nY"])
def test_accept_response_refuses_a_header_name_that_is_not_a_token(name: str) -> None:
    with pytest.raises(ValueError):
        accept_response(parsed(SAMPLE), extra_headers=[(name, "1")])


def test_accept_response_refuses_a_value_that_is_not_latin_1() -> None:
    with pytest.raises(ValueError):
        accept_response(parsed(SAMPLE), extra_headers=[("X-A", "\u2603")])


def test_reject_response_refuses_extra_headers_with_a_line_break() -> None:
    with pytest.raises(ValueError):
        reject_response(HandshakeError(400, "x", [("X-A", "1\r\nX-B: 2")]))


# ------------------------------------------------------------------------------ linear work, bounded heads


def test_head_fed_one_byte_at_a_time_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Re-parsing the whole head at every read made a dripped head cost time quadratic in its size.
    calls = []
    real = handshake._parse_head
    monkeypatch.setattr(handshake, "_parse_head", lambda *args: calls.append(1) or real(*args))
    reader = HeadReader(DEFAULT)
    head = with_headers(*[b"X-Pad-%d: %s" % (i, b"p" * 100) for i in range(100)])
    results = [reader.feed(head[i : i + 1]) for i in range(len(head))]
    assert results[:-1] == [None] * (len(head) - 1)
    assert results[-1] is not None and results[-1].consumed == len(head)
    assert len(calls) == 1


def test_head_reader_searches_each_byte_once_for_the_end_of_the_head() -> None:
    # Where the search stopped is remembered: after every piece it has reached the end of the bytes fed.
    reader = HeadReader(DEFAULT)
    fed = 0
    for i in range(0, len(SAMPLE) - 1, 3):
        piece = SAMPLE[i : min(i + 3, len(SAMPLE) - 1)]
        assert reader.feed(piece) is None
        fed += len(piece)
        assert reader._scan == fed == len(reader)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1000])
def test_head_reader_gives_the_same_request_however_the_head_is_split(size: int) -> None:
    data = SAMPLE + b"\x81\x80rest"
    reader = HeadReader(DEFAULT)
    request = None
    for i in range(0, len(data), size):
        request = reader.feed(data[i : i + size])
        if request is not None:
            break
    assert request is not None and request == parsed(data)
    assert bytes(reader.data[request.consumed :]) + data[i + size :] == b"\x81\x80rest"


def test_head_reader_refuses_a_dripped_head_as_soon_as_it_passes_max_head_size() -> None:
    limits = HandshakeLimits(max_head_size=len(SAMPLE) + 100)
    data = with_headers(b"X: " + b"a" * 200)
    reader = HeadReader(limits)
    for i in range(limits.max_head_size):
        assert reader.feed(data[i : i + 1]) is None
    with pytest.raises(HandshakeError) as info:
        reader.feed(data[limits.max_head_size : limits.max_head_size + 1])
    assert info.value.status == 431


def test_complete_head_of_exactly_max_head_size_is_accepted_and_one_byte_more_refused() -> None:
    pad = b"X-Pad: " + b"p" * 50
    data = with_headers(pad)
    assert parsed(data, HandshakeLimits(max_head_size=len(data))).consumed == len(data)
    assert refusal(data, HandshakeLimits(max_head_size=len(data) - 1)).status == 431


def test_default_head_limit_is_16_kib_in_total_not_a_product_of_line_limits() -> None:
    assert DEFAULT.max_head_size == 16 * 1024
    # Three header lines of 7 KiB each: every line is within max_header_size, the head is not.
    lines = [b"X-Big-%d: %s" % (i, b"b" * (7 * 1024)) for i in range(3)]
    assert refusal(with_headers(*lines)).status == 431
    assert refusal(with_headers(*lines)[:-2]).status == 431  # even before its blank line arrives


def test_a_head_with_a_hixie76_key_after_it_is_reparsed_only_from_the_stored_end() -> None:
    # A driver may go on feeding a refused head (the draft-76 fallback reads its 8 key bytes after it).
    reader = HeadReader(DEFAULT)
    data = with_headers(b"X: y").replace(b"Sec-WebSocket-Version: 13\r\n", b"")
    with pytest.raises(HandshakeError):
        reader.feed(data)
    with pytest.raises(HandshakeError) as info:
        reader.feed(b"\n\n\n\n\n\n\n\n")
    assert info.value.status == 426


@pytest.mark.parametrize(
    ("name", "element"),
    [
        (b"Connection", b"upgrade"),
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Protocol", b"chat"),
        (b"Sec-WebSocket-Extensions", b"x"),
    ],
)
def test_list_header_over_max_list_items_is_refused_with_400(name: bytes, element: bytes) -> None:
    limits = HandshakeLimits(max_list_items=20)
    base = [line for line in HEADER_LINES if not line.lower().startswith(name.lower() + b":")]

    def head(count: int) -> bytes:
        # Split over two lines: the limit counts every line of the header.
        first = b", ".join([element] * (count // 2))
        second = b", ".join([element] * (count - count // 2))
        lines = [*base, name + b": " + first, name + b": " + second]
        return REQUEST_LINE + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"

    assert parse_request(head(20), limits) is not None
    error = refusal(head(21), limits)
    assert error.status == 400 and name.decode() in error.reason


def test_extension_parameters_count_as_list_items() -> None:
    limits = HandshakeLimits(max_list_items=4)
    lines = [line for line in HEADER_LINES if not line.startswith(b"Sec-WebSocket-Extensions")]

    def head(offer: bytes) -> bytes:
        return REQUEST_LINE + b"\r\n" + b"".join(line + b"\r\n" for line in [*lines, offer]) + b"\r\n"

    assert parse_request(head(b"Sec-WebSocket-Extensions: permessage-deflate; a; b, x"), limits) is not None
    assert refusal(head(b"Sec-WebSocket-Extensions: permessage-deflate; a; b; c, x"), limits).status == 400


def test_a_long_extension_offer_list_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    # 950 KiB of "x, x, ..." used to be parsed into Python objects offer by offer (about half a second).
    parses = []
    monkeypatch.setattr(deflate, "_parse_extensions", lambda header: parses.append(header))
    limits = HandshakeLimits(max_header_size=2**20, max_head_size=2**21)
    offer = b"Sec-WebSocket-Extensions: " + b", ".join([b"x"] * 300_000)
    error = refusal(with_headers(offer), limits)
    assert error.status == 400 and not parses
