"""draft-hixie-thewebsocketprotocol-76 (= draft-ietf-hybi-thewebsocketprotocol-00), server side: the opening
handshake of §5.1-§5.2, the data framing of §5.3 and the closing handshake, checked by feeding bytes."""

from __future__ import annotations

import pytest

from livews.engine import CloseReceived, HandshakeError, HandshakeLimits, State, TextMessage
from livews.engine.hixie76 import (
    Hixie76Connection,
    Hixie76Request,
    accept_response,
    challenge_response,
    is_hixie76_request,
    key_number,
    parse_request,
)
from tests.hixie76_wire import closing_frame, make_keys, opening_handshake, text_frame

# §1.3: the handshake walked through in the draft's introduction.
INTRO_KEY1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
INTRO_KEY2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
INTRO_KEY3 = b"Tm[K T2u"
INTRO_RESPONSE = b"fQJ,fN/4F4!~K~MH"


def feed(conn: Hixie76Connection, *chunks: bytes) -> list:
    events: list = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events.extend(conn.events_received())
    return events


def parsed(data: bytes) -> Hixie76Request:
    """The request ``data`` holds, taken whole: its head and its eight key bytes, nothing left over."""
    request = parse_request(data)
    assert request is not None, "incomplete request"
    assert request.consumed == len(data)
    return request


def intro_request(host: str = "example.com", path: str = "/demo", **headers: str) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key2: {INTRO_KEY2}",
        "Sec-WebSocket-Protocol: sample",
        "Upgrade: WebSocket",
        f"Sec-WebSocket-Key1: {INTRO_KEY1}",
        "Origin: http://example.com",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + INTRO_KEY3


# ------------------------------------------------------------------------------------ §5.2 handshake


def test_draft_worked_example_gives_the_documented_response() -> None:
    assert key_number(INTRO_KEY1) == 155712099
    assert key_number(INTRO_KEY2) == 173347027
    assert challenge_response(INTRO_KEY1, INTRO_KEY2, INTRO_KEY3) == INTRO_RESPONSE


def test_draft_second_example_gives_the_documented_response() -> None:
    assert (
        challenge_response("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", b"^n:ds[4U") == b"8jKS'y:G*Co,Wxa-"
    )


def test_worked_example_request_gets_the_full_draft_response() -> None:
    request = parsed(intro_request())
    response = accept_response(request, subprotocol="sample")
    assert response == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Origin: http://example.com\r\n"
        b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
        b"Sec-WebSocket-Protocol: sample\r\n"
        b"\r\n" + INTRO_RESPONSE
    )


@pytest.mark.parametrize("seed", range(40))
def test_keys_made_by_the_draft_client_algorithm_get_the_right_response(seed: int) -> None:
    keys = make_keys(seed)
    assert challenge_response(keys.key1, keys.key2, keys.key3) == keys.expected


def test_key_number_is_the_digits_divided_by_the_spaces() -> None:
    assert key_number("1x2 3") == 123
    assert key_number("1 2 ") == 6  # 12 / 2
    assert key_number("a 8 b 4") == 28  # 84 / 3


@pytest.mark.parametrize(
    "key",
    [
        "12345",  # no spaces: a symptom of a cross-protocol attack
        "1 2 5",  # 125 is not a multiple of 2
        "4294967296 ",  # digits over 2^32-1, even though the quotient would fit
        "x y z",  # no digits at all
    ],
)
def test_invalid_key_is_refused_with_400(key: str) -> None:
    with pytest.raises(HandshakeError) as info:
        key_number(key)
    assert info.value.status == 400


def test_key_number_up_to_2_pow_32_minus_1_is_accepted() -> None:
    assert key_number("4294967295 ") == 0xFFFFFFFF


def test_request_with_both_keys_and_no_version_is_hixie76() -> None:
    assert is_hixie76_request(intro_request()) is True


def test_request_with_a_version_header_is_not_hixie76() -> None:
    assert is_hixie76_request(intro_request(Sec_WebSocket_Version="13")) is False


def test_request_with_only_one_key_is_not_hixie76() -> None:
    data = opening_handshake(make_keys()).replace(b"Sec-WebSocket-Key2", b"X-Key2")
    assert is_hixie76_request(data) is False


def test_detection_waits_for_the_end_of_the_head() -> None:
    data = intro_request()
    assert is_hixie76_request(data[: data.index(b"\r\n\r\n") + 2]) is None


def test_eight_key_bytes_after_the_head_are_awaited_at_every_split() -> None:
    data = intro_request()
    for cut in range(len(data)):
        assert parse_request(data[:cut]) is None, cut
    request = parsed(data)
    assert request.key3 == INTRO_KEY3


def test_bytes_after_the_key_bytes_are_left_as_frame_data() -> None:
    data = intro_request() + text_frame("early")
    request = parse_request(data)
    assert request is not None and request.key3 == INTRO_KEY3
    assert data[request.consumed :] == text_frame("early")


def test_request_fields_are_read_from_the_head() -> None:
    request = parsed(intro_request(path="/chat?room=1"))
    assert (request.method, request.target, request.path, request.query_string) == (
        "GET",
        "/chat?room=1",
        "/chat",
        "room=1",
    )
    assert request.origin == "http://example.com"
    assert request.host == "example.com"
    assert request.subprotocols == ["sample"]
    assert request.version == 0
    assert request.headers.get("sec-websocket-key1") == INTRO_KEY1


def test_location_carries_host_and_full_target_and_wss_over_tls() -> None:
    request = parsed(intro_request(host="example.com:8443", path="/chat?room=1"))
    assert b"Sec-WebSocket-Location: wss://example.com:8443/chat?room=1\r\n" in accept_response(
        request, secure=True
    )


def test_origin_header_is_left_out_when_the_client_sent_none() -> None:
    keys = make_keys(3)
    request = parsed(opening_handshake(keys, origin=None))
    response = accept_response(request)
    assert b"Sec-WebSocket-Origin" not in response
    assert response.endswith(b"\r\n\r\n" + keys.expected)


def test_protocol_header_is_left_out_when_none_is_selected() -> None:
    request = parsed(intro_request())
    assert b"Sec-WebSocket-Protocol" not in accept_response(request)


def test_bad_key_fails_before_the_key_bytes_arrive() -> None:
    data = opening_handshake(make_keys()).replace(b"Sec-WebSocket-Key1: ", b"Sec-WebSocket-Key1: 7")
    head = data[: data.index(b"\r\n\r\n") + 4]
    with pytest.raises(HandshakeError) as info:
        parse_request(head)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("old", "new", "status"),
    [
        (b"GET ", b"POST ", 405),
        (b"Upgrade: WebSocket", b"Upgrade: h2c", 400),
        (b"Connection: Upgrade", b"Connection: keep-alive", 400),
        (b"Host: example.com", b"X-Host: example.com", 400),
        (b"GET / ", b"GET http://x/ ", 400),
        (b"HTTP/1.1", b"HTTP/1.0", 400),
    ],
)
def test_request_the_draft_server_would_refuse_is_rejected(old: bytes, new: bytes, status: int) -> None:
    data = opening_handshake(make_keys()).replace(old, new, 1)
    with pytest.raises(HandshakeError) as info:
        parse_request(data)
    assert info.value.status == status


@pytest.mark.parametrize("host", [b"evil\nSet-Cookie: x=1", b"evil\rx", b"a\x00b"])
def test_control_characters_in_an_echoed_header_are_refused(host: bytes) -> None:
    data = opening_handshake(make_keys()).replace(b"example.com", host, 1)
    with pytest.raises(HandshakeError) as info:
        parse_request(data)
    assert info.value.status == 400


def test_tab_and_non_ascii_in_other_header_values_are_accepted() -> None:
    data = opening_handshake(make_keys(), extra=[("User-Agent", "old\tbrowser \xe9")])
    assert parsed(data).headers.get("User-Agent") == "old\tbrowser \xe9"


def test_head_over_the_limits_is_rejected_with_431() -> None:
    limits = HandshakeLimits(max_header_count=4)
    data = opening_handshake(make_keys(), extra=[("X-Pad", "y")])
    with pytest.raises(HandshakeError) as info:
        parse_request(data, limits)
    assert info.value.status == 431


def test_endless_head_is_rejected_with_431_before_its_end() -> None:
    limits = HandshakeLimits(max_request_line=100, max_header_count=2, max_header_size=100)
    with pytest.raises(HandshakeError) as info:
        parse_request(b"GET / HTTP/1.1\r\nX: " + b"a" * 400, limits)
    assert info.value.status == 431


# ------------------------------------------------------------------------------------ §5.3 framing


def test_text_frame_is_delivered_as_a_text_message() -> None:
    conn = Hixie76Connection()
    assert feed(conn, text_frame("héllo")) == [TextMessage("héllo")]


def test_empty_text_frame_is_an_empty_message() -> None:
    assert feed(Hixie76Connection(), b"\x00\xff") == [TextMessage("")]


def test_text_frames_split_at_every_byte_give_the_same_messages() -> None:
    data = text_frame("a€\U0001f600") + text_frame("") + b"\x80\x02zz" + text_frame("b")
    expected = [TextMessage("a€\U0001f600"), TextMessage(""), TextMessage("b")]
    for cut in range(len(data) + 1):
        conn = Hixie76Connection()
        assert feed(conn, data[:cut], data[cut:]) == expected, cut
    conn = Hixie76Connection()
    assert feed(conn, *(data[i : i + 1] for i in range(len(data)))) == expected


def test_sentinel_frame_of_another_type_is_discarded() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\x01ignored\xff" + text_frame("kept")) == [TextMessage("kept")]
    assert conn.state is State.OPEN


def test_length_prefixed_frame_is_read_and_discarded() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\x80\x03abc" + text_frame("kept")) == [TextMessage("kept")]


def test_length_is_read_in_7_bit_groups_high_bit_first() -> None:
    payload = bytes(range(256)) * 2  # 512 = 4 * 128 + 0, and holds 0xFF 0x00 that must not close
    conn = Hixie76Connection()
    assert feed(conn, b"\x80\x84\x00" + payload + text_frame("kept")) == [TextMessage("kept")]
    assert conn.state is State.OPEN


def test_length_prefixed_ff_frame_with_a_length_is_discarded_not_a_close() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\xff\x01x" + text_frame("kept")) == [TextMessage("kept")]
    assert conn.state is State.OPEN


def test_zero_length_frame_of_another_high_bit_type_is_not_a_close() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\x80\x00" + text_frame("kept")) == [TextMessage("kept")]
    assert conn.state is State.OPEN


def test_server_text_frame_is_0x00_utf8_0xff() -> None:
    conn = Hixie76Connection()
    conn.send_text("κόσμε")
    assert conn.data_to_send() == b"\x00" + "κόσμε".encode() + b"\xff"


def test_invalid_utf8_closes_the_transport_without_a_frame_and_reports_1007() -> None:
    conn = Hixie76Connection()
    events = feed(conn, text_frame(b"ok\xc0\xafno"))
    assert events == [CloseReceived(1007, "invalid UTF-8 in text", False)]
    assert conn.close_transport and conn.state is State.CLOSED
    assert conn.data_to_send() == b""


def test_invalid_utf8_fails_before_the_frame_ends() -> None:
    conn = Hixie76Connection()
    events = feed(conn, b"\x00" + "κόσμε".encode(), b"\xed\xa0")
    assert events == [CloseReceived(1007, "invalid UTF-8 in text", False)]


def test_text_cut_inside_a_character_is_reassembled() -> None:
    data = "€".encode()
    conn = Hixie76Connection()
    assert feed(conn, b"\x00" + data[:1], data[1:2], data[2:] + b"\xff") == [TextMessage("€")]


def test_truncated_character_at_frame_end_is_invalid() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\x00\xe2\x82", b"\xff") == [CloseReceived(1007, "invalid UTF-8 in text", False)]


# ------------------------------------------------------------------------------------ closing handshake


def test_client_closing_frame_is_answered_and_the_connection_closed() -> None:
    conn = Hixie76Connection()
    events = feed(conn, text_frame("last") + closing_frame() + text_frame("after"))
    assert events == [TextMessage("last"), CloseReceived(1005, "", True)]
    assert conn.data_to_send() == b"\xff\x00"
    assert conn.close_transport and conn.state is State.CLOSED


def test_closing_frame_with_a_two_group_zero_length_is_a_close() -> None:
    conn = Hixie76Connection()
    assert feed(conn, b"\xff\x80\x00") == [CloseReceived(1005, "", True)]


def test_server_close_sends_the_closing_frame_and_waits_for_the_client() -> None:
    conn = Hixie76Connection()
    conn.send_close(1001, "bye")
    assert conn.data_to_send() == b"\xff\x00"
    assert conn.state is State.CLOSING and not conn.close_transport
    assert feed(conn, text_frame("late")) == []  # data after our closing frame is discarded
    assert feed(conn, closing_frame()) == [CloseReceived(1001, "bye", False)]
    assert conn.state is State.CLOSED and conn.close_transport
    assert conn.data_to_send() == b""


def test_nothing_is_sent_after_the_closing_frame() -> None:
    conn = Hixie76Connection()
    conn.send_close()
    conn.data_to_send()
    conn.send_text("dropped")
    conn.send_close()
    assert conn.data_to_send() == b""


def test_transport_end_without_closing_frame_is_1006() -> None:
    conn = Hixie76Connection()
    conn.receive_eof()
    assert conn.events_received() == [CloseReceived(1006, "", True)]
    assert conn.state is State.CLOSED
