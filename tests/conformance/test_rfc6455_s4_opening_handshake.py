"""RFC 6455 §4 (and hybi drafts 07/08): the server side of the opening handshake, checked by feeding bytes.

Each test names the rule it checks; the section is in the comment above each group. The status a refused
request gets is part of the rule: 400 for a malformed handshake, 405 for another method, 426 with the
versions we speak for an unsupported version.
"""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.protocol import State as ClientState
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

from livews.engine import HandshakeError, HandshakeLimits
from livews.engine.handshake import (
    Request,
    accept_key,
    accept_response,
    parse_request,
    reject_response,
    select_subprotocol,
)

# RFC 6455 §1.3: the sample handshake.
SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
SAMPLE_HEADERS = [
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", SAMPLE_KEY),
    ("Origin", "http://example.com"),
    ("Sec-WebSocket-Protocol", "chat, superchat"),
    ("Sec-WebSocket-Version", "13"),
]


def make_request(
    *changes: tuple[str, str | None],
    line: str = "GET /chat HTTP/1.1",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The §1.3 sample request. Each change replaces the header of that name (``None`` drops it) or is
    appended if the sample has no such header; ``extra`` headers are appended as they are."""
    headers = list(SAMPLE_HEADERS)
    for name, value in changes:
        position = next((i for i, (n, _) in enumerate(headers) if n.lower() == name.lower()), None)
        if position is None:
            if value is not None:
                headers.append((name, value))
        elif value is None:
            del headers[position]
        else:
            headers[position] = (name, value)
    headers.extend(extra)
    return (line + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n").encode("latin-1")


def parse(data: bytes) -> Request:
    request = parse_request(data, HandshakeLimits())
    assert request is not None
    return request


def refusal(data: bytes) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        parse_request(data, HandshakeLimits())
    return info.value


def response_headers(response: bytes) -> list[tuple[str, str]]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return [(name, value) for name, _, value in (line.partition(": ") for line in head.split("\r\n")[1:])]


# ------------------------------------------------------------------------------------ §1.3 / §4.2.2 accept


def test_sample_key_gives_the_sample_accept_value() -> None:
    assert accept_key(SAMPLE_KEY) == SAMPLE_ACCEPT


def test_sample_request_is_accepted_with_every_field_read() -> None:
    request = parse(make_request())
    assert request.method == "GET"
    assert request.target == request.path == "/chat"
    assert request.query_string == ""
    assert request.version == 13
    assert request.key == SAMPLE_KEY
    assert request.origin == "http://example.com"
    assert request.subprotocols == ["chat", "superchat"]
    assert request.extensions is None
    assert request.headers.get("host") == "server.example.com"


def test_frame_bytes_after_the_head_are_left_for_the_connection() -> None:
    data = make_request()
    assert parse(data + b"\x88\x80mask").consumed == len(data)


def test_accept_response_is_101_with_upgrade_connection_and_accept_headers() -> None:
    response = accept_response(parse(make_request()))
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"\r\n"
    )


def test_accept_response_names_the_selected_subprotocol_and_extensions() -> None:
    request = parse(make_request())
    response = accept_response(request, subprotocol="chat", extensions="permessage-deflate")
    assert response_headers(response)[3:] == [
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ]


def test_accept_response_without_a_selected_subprotocol_sends_no_protocol_header() -> None:
    response = accept_response(parse(make_request()), subprotocol=None)
    assert b"Sec-WebSocket-Protocol" not in response


def test_accept_response_refuses_a_subprotocol_the_client_did_not_offer() -> None:
    # §4.1: the client fails the connection if the server picks a protocol it did not offer.
    with pytest.raises(ValueError):
        accept_response(parse(make_request()), subprotocol="mqtt")
    with pytest.raises(ValueError):
        accept_response(parse(make_request()), subprotocol="chat\r\nX-Injected: 1")


def test_real_client_request_is_accepted_and_the_client_accepts_our_response() -> None:
    client = ClientProtocol(
        parse_uri("ws://localhost:8000/room/1?user=a%20b"),
        origin=Origin("http://localhost"),
        subprotocols=[Subprotocol("v2"), Subprotocol("v1")],
    )
    client.send_request(client.connect())
    data = b"".join(client.data_to_send())
    request = parse(data)
    assert (request.path, request.query_string) == ("/room/1", "user=a%20b")
    assert request.origin == "http://localhost"
    chosen = select_subprotocol(request.subprotocols, ["v1", "v2"])
    client.receive_data(accept_response(request, subprotocol=chosen))
    assert client.handshake_exc is None
    assert client.state is ClientState.OPEN
    assert client.subprotocol == "v1"


# ------------------------------------------------------------------------------------ §4.1 request line


def test_method_other_than_get_is_refused_with_405_and_allow_get() -> None:
    error = refusal(make_request(line="POST /chat HTTP/1.1"))
    assert error.status == 405
    assert ("Allow", "GET") in error.headers


def test_http_1_0_is_refused_with_400() -> None:
    assert refusal(make_request(line="GET /chat HTTP/1.0")).status == 400


def test_http_2_0_in_a_request_line_is_refused_with_400() -> None:
    assert refusal(make_request(line="GET /chat HTTP/2.0")).status == 400


def test_later_http_1_minor_version_is_accepted() -> None:
    assert parse(make_request(line="GET /chat HTTP/1.2")).path == "/chat"


@pytest.mark.parametrize(
    "line",
    [
        "GET /chat",
        "GET  /chat HTTP/1.1",
        "GET /chat HTTP/1.1 x",
        "GET /chat http/1.1",
        "GET /chat HTTP/11",
        "GARBAGE",
        "",
    ],
)
def test_malformed_request_line_is_refused_with_400(line: str) -> None:
    assert refusal(make_request(line=line)).status == 400


# ------------------------------------------------------------------------------------ §4.1 request target


def test_target_is_split_into_raw_path_and_raw_query_string() -> None:
    request = parse(make_request(line="GET /a%2Fb/c?x=1&y=%20z HTTP/1.1"))
    assert request.target == "/a%2Fb/c?x=1&y=%20z"
    assert request.path == "/a%2Fb/c"
    assert request.query_string == "x=1&y=%20z"


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("ws://server.example.com/chat?x=1", "/chat", "x=1"),
        ("wss://server.example.com:443/chat", "/chat", ""),
        ("http://server.example.com", "/", ""),
        ("ws://server.example.com?x=1", "/", "x=1"),
    ],
)
def test_absolute_form_target_gives_its_path_and_query(target: str, path: str, query: str) -> None:
    request = parse(make_request(line=f"GET {target} HTTP/1.1"))
    assert (request.target, request.path, request.query_string) == (target, path, query)


@pytest.mark.parametrize("target", ["*", "chat", "ftp://host/chat", "server.example.com:80"])
def test_target_that_is_neither_origin_form_nor_ws_absolute_form_is_refused_with_400(target: str) -> None:
    assert refusal(make_request(line=f"GET {target} HTTP/1.1")).status == 400


def test_target_with_a_fragment_is_refused_with_400() -> None:
    # §3: fragment identifiers MUST NOT be used on WebSocket URIs.
    assert refusal(make_request(line="GET /chat#top HTTP/1.1")).status == 400


def test_target_with_non_ascii_bytes_is_refused_with_400() -> None:
    assert refusal(make_request(line="GET /caf\xe9 HTTP/1.1")).status == 400


# ------------------------------------------------------------------------------------ §4.1/§4.2.1 headers


def test_missing_host_is_refused_with_400() -> None:
    assert refusal(make_request(("Host", None))).status == 400


def test_empty_host_is_refused_with_400() -> None:
    assert refusal(make_request(("Host", ""))).status == 400


def test_plain_get_without_upgrade_gets_426_naming_websocket_and_a_readable_reason() -> None:
    error = refusal(make_request(("Upgrade", None), ("Connection", "keep-alive")))
    assert error.status == 426
    assert ("Upgrade", "websocket") in error.headers
    assert b"WebSocket endpoint" in reject_response(error)


def test_upgrade_header_without_websocket_token_is_refused_with_400() -> None:
    assert refusal(make_request(("Upgrade", "h2c"))).status == 400


@pytest.mark.parametrize("value", ["WebSocket", "WEBSOCKET", "foo/2, websocket"])
def test_upgrade_websocket_token_is_case_insensitive_and_may_be_in_a_list(value: str) -> None:
    assert parse(make_request(("Upgrade", value))).version == 13


def test_missing_connection_header_is_refused_with_400() -> None:
    assert refusal(make_request(("Connection", None))).status == 400


@pytest.mark.parametrize("value", ["keep-alive", "Upgrade-Insecure-Requests", "close"])
def test_connection_without_upgrade_token_is_refused_with_400(value: str) -> None:
    assert refusal(make_request(("Connection", value))).status == 400


@pytest.mark.parametrize("value", ["keep-alive, Upgrade", "UPGRADE", "upgrade ,keep-alive"])
def test_connection_upgrade_token_is_case_insensitive_and_may_be_in_a_list(value: str) -> None:
    assert parse(make_request(("Connection", value))).version == 13


def test_connection_upgrade_token_may_come_in_a_second_connection_header() -> None:
    data = make_request(("Connection", "keep-alive"), extra=(("Connection", "Upgrade"),))
    assert parse(data).version == 13


# ------------------------------------------------------------------------------------ §4.1 key


@pytest.mark.parametrize(
    "key",
    [
        "dGhlIHNhbXBsZSBub25jZQ",  # no padding
        "dGhlIHNhbXBsZSBub25j",  # 15 bytes
        "dGhlIHNhbXBsZQ==",  # 11 bytes
        "dGhlIHNhbXBsZSBub25jZQ==" + "AA==",  # 19 bytes
        "dGhlIHNhbXBsZSBub25jZQE=",  # 17 bytes
        "dGhlIHNhbXBsZSBub25jZ!==",  # not base64
        "dGhlIHNhbXBsZSBub25jZ\xe9==",  # not ASCII
        "",
    ],
)
def test_key_that_is_not_base64_of_16_bytes_is_refused_with_400(key: str) -> None:
    assert refusal(make_request(("Sec-WebSocket-Key", key))).status == 400


def test_missing_key_is_refused_with_400() -> None:
    assert refusal(make_request(("Sec-WebSocket-Key", None))).status == 400


# ------------------------------------------------------------------------------------ §4.4 version


@pytest.mark.parametrize("version", ["13", "8", "7"])
def test_versions_13_8_and_7_are_accepted(version: str) -> None:
    assert parse(make_request(("Sec-WebSocket-Version", version))).version == int(version)


@pytest.mark.parametrize("version", ["12", "14", "6", "0", "013", "13, 8", "", "\xb2", "thirteen", None])
def test_unsupported_or_missing_version_gets_426_listing_13_8_7(version: str | None) -> None:
    error = refusal(make_request(("Sec-WebSocket-Version", version)))
    assert error.status == 426
    assert ("Sec-WebSocket-Version", "13, 8, 7") in error.headers
    assert b"\r\nSec-WebSocket-Version: 13, 8, 7\r\n" in reject_response(error)


# ------------------------------------------------------------------------------------ single-valued headers


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Host", "other.example.com"),
        ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="),
        ("Sec-WebSocket-Version", "13"),
        ("Origin", "http://evil.example.com"),
    ],
)
def test_single_valued_header_sent_twice_is_refused_with_400(name: str, value: str) -> None:
    assert refusal(make_request(extra=((name.upper(), value),))).status == 400


# ------------------------------------------------------------------------------------ §4.1 origin


def test_version_13_origin_comes_from_origin_header() -> None:
    data = make_request(("Sec-WebSocket-Origin", "http://other.example.com"))
    assert parse(data).origin == "http://example.com"


@pytest.mark.parametrize("version", ["8", "7"])
def test_hybi_07_and_08_origin_comes_from_sec_websocket_origin(version: str) -> None:
    data = make_request(
        ("Sec-WebSocket-Version", version),
        ("Origin", None),
        ("Sec-WebSocket-Origin", "http://hybi.example.com"),
    )
    request = parse(data)
    assert request.version == int(version)
    assert request.origin == "http://hybi.example.com"


def test_hybi_08_sec_websocket_origin_wins_over_origin() -> None:
    data = make_request(("Sec-WebSocket-Version", "8"), ("Sec-WebSocket-Origin", "http://hybi.example.com"))
    assert parse(data).origin == "http://hybi.example.com"


def test_request_without_origin_has_origin_none() -> None:
    assert parse(make_request(("Origin", None))).origin is None


def test_hybi_08_accept_value_is_computed_like_rfc_6455() -> None:
    request = parse(make_request(("Sec-WebSocket-Version", "8")))
    assert f"Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n".encode() in accept_response(request)


# ------------------------------------------------------------------------------------ §4.1 subprotocols


def test_subprotocols_are_collected_in_order_across_repeated_headers() -> None:
    data = make_request(extra=(("Sec-WebSocket-Protocol", "v3 , v4"),))
    assert parse(data).subprotocols == ["chat", "superchat", "v3", "v4"]


def test_empty_subprotocol_list_elements_are_ignored() -> None:
    assert parse(make_request(("Sec-WebSocket-Protocol", ", chat,,superchat ,"))).subprotocols == [
        "chat",
        "superchat",
    ]


def test_no_protocol_header_means_no_subprotocols() -> None:
    assert parse(make_request(("Sec-WebSocket-Protocol", None))).subprotocols == []


@pytest.mark.parametrize("value", ["chat room", "chat, [v2]", 'chat, "v2"'])
def test_subprotocol_that_is_not_a_token_is_refused_with_400(value: str) -> None:
    assert refusal(make_request(("Sec-WebSocket-Protocol", value))).status == 400


def test_select_subprotocol_follows_the_servers_order_not_the_clients() -> None:
    assert select_subprotocol(["chat", "superchat"], ["superchat", "chat"]) == "superchat"


def test_select_subprotocol_is_none_without_a_common_protocol() -> None:
    assert select_subprotocol(["chat"], ["mqtt"]) is None
    assert select_subprotocol([], ["mqtt"]) is None


def test_select_subprotocol_matches_case_sensitively() -> None:
    assert select_subprotocol(["Chat"], ["chat"]) is None


# ------------------------------------------------------------------------------------ §4.1 extensions


def test_extension_header_values_are_joined_with_comma_space() -> None:
    data = make_request(
        extra=(
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Sec-WebSocket-Extensions", "x-webkit-deflate-frame"),
        )
    )
    assert parse(data).extensions == "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"


def test_no_extension_header_means_extensions_none() -> None:
    assert parse(make_request()).extensions is None


def test_empty_extension_header_means_extensions_none() -> None:
    assert parse(make_request(("Sec-WebSocket-Extensions", ""))).extensions is None
