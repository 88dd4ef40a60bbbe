"""RFC 6455 §4.1-§4.2 (and hybi drafts 07/08): what the server accepts, refuses, and how it answers."""

from __future__ import annotations

import pytest

from livews.engine import HandshakeError, Limits
from livews.engine.handshake import (
    accept_key,
    accept_response,
    parse_request,
    reject_response,
    select_subprotocol,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = (
    b"GET /chat?room=1 HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def refused(data: bytes, limits: Limits | None = None) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        parse_request(data, limits or Limits())
    return info.value


def replace(old: bytes, new: bytes) -> bytes:
    assert old in GOOD
    return GOOD.replace(old, new)


def test_accept_key_of_the_rfc_example() -> None:
    assert accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


def test_valid_request_is_parsed_with_every_fact() -> None:
    request = parse_request(GOOD + b"\x81\x80", Limits())
    assert request is not None
    assert (request.path, request.query_string, request.version) == ("/chat", "room=1", 13)
    assert request.origin == "http://example.com"
    assert request.subprotocols == ["chat", "superchat"]
    assert request.extensions == "permessage-deflate; client_max_window_bits"
    assert request.headers.get("HOST") == "server.example.com"
    assert request.consumed == len(GOOD)  # the frame bytes after the head are not consumed


@pytest.mark.parametrize("split", range(len(GOOD)))
def test_incomplete_head_needs_more_bytes_at_every_boundary(split: int) -> None:
    assert parse_request(GOOD[:split], Limits()) is None


def test_response_is_a_101_with_the_accept_key_subprotocol_and_extensions() -> None:
    request = parse_request(GOOD, Limits())
    assert request is not None
    response = accept_response(request, subprotocol="chat", extensions="permessage-deflate")
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    assert b"\r\nSec-WebSocket-Protocol: chat\r\n" in response
    assert b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" in response
    assert response.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("version", [b"8", b"7"])
def test_hybi_drafts_are_accepted_and_take_the_origin_from_sec_websocket_origin(version: bytes) -> None:
    data = replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: " + version).replace(
        b"Origin: http://example.com", b"Sec-WebSocket-Origin: http://draft.example"
    )
    request = parse_request(data, Limits())
    assert request is not None and request.version == int(version)
    assert request.origin == "http://draft.example"


@pytest.mark.parametrize("version", [b"12", b"6", b"0", b"14", b"abc", b""])
def test_unsupported_version_is_refused_with_426_and_the_supported_versions(version: bytes) -> None:
    error = refused(replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: " + version))
    assert error.status == 426
    assert ("Sec-WebSocket-Version", "13, 8, 7") in error.headers


def test_missing_version_is_refused_with_426() -> None:
    assert refused(replace(b"Sec-WebSocket-Version: 13\r\n", b"")).status == 426


def test_method_other_than_get_is_refused_with_405() -> None:
    error = refused(replace(b"GET /chat", b"POST /chat"))
    assert error.status == 405 and ("Allow", "GET") in error.headers


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"HTTP/1.1\r\n", b"HTTP/1.0\r\n"),
        (b"Host: server.example.com\r\n", b""),
        (b"Connection: Upgrade", b"Connection: keep-alive"),
        (b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""),
        (b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhlIHNhbXBsZQ=="),  # 11 bytes, not 16
        (b"dGhlIHNhbXBsZSBub25jZQ==", b"not base64!!"),
        (b"Host: server.example.com\r\n", b"Host: a\r\nHost: b\r\n"),
        (b"Upgrade: websocket\r\n", b"Upgrade: websocket\r\n continued\r\n"),
        (b"Origin: http", b"Ori gin: http"),
        (b"GET /chat?room=1 HTTP/1.1", b"GET  /chat HTTP/1.1"),
    ],
)
def test_malformed_requests_are_refused_with_400(old: bytes, new: bytes) -> None:
    assert refused(replace(old, new)).status == 400


def test_request_without_upgrade_websocket_is_told_to_upgrade_with_426() -> None:
    error = refused(replace(b"Upgrade: websocket\r\n", b""))
    assert error.status == 426 and ("Upgrade", "websocket") in error.headers


def test_connection_and_upgrade_tokens_are_case_insensitive_lists() -> None:
    data = replace(b"Connection: Upgrade", b"Connection: keep-alive, UPGRADE").replace(
        b"Upgrade: websocket", b"Upgrade: WebSocket"
    )
    assert parse_request(data, Limits()) is not None


def test_request_line_over_the_limit_is_refused_before_it_ends() -> None:
    assert refused(b"GET /" + b"a" * 100, Limits(max_request_line=64)).status == 414


def test_header_line_over_the_limit_is_refused_before_it_ends() -> None:
    data = b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 200
    assert refused(data, Limits(max_header_size=100)).status == 431


def test_too_many_headers_are_refused_before_the_head_ends() -> None:
    data = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20
    assert refused(data, Limits(max_header_count=10)).status == 431


def test_absolute_form_target_gives_its_path() -> None:
    request = parse_request(
        replace(b"GET /chat?room=1 ", b"GET ws://server.example.com/chat?room=1 "), Limits()
    )
    assert request is not None and (request.path, request.query_string) == ("/chat", "room=1")


def test_refusal_is_a_short_plain_text_response_that_closes() -> None:
    response = reject_response(HandshakeError(403, "origin not allowed"))
    head, body = response.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close" in head and b"Content-Length: 19" in head
    assert body == b"origin not allowed\n"


def test_response_header_with_a_line_break_is_refused() -> None:
    request = parse_request(GOOD, Limits())
    assert request is not None
    with pytest.raises(ValueError):
        accept_response(request, subprotocol="chat\r\nX-Injected: 1")


def test_subprotocol_selection_follows_the_servers_preference() -> None:
    assert select_subprotocol(["a", "b"], ["b", "a"]) == "b"
    assert select_subprotocol(["a"], ["c"]) is None
    assert select_subprotocol([], ["c"]) is None
