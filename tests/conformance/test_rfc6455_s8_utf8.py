"""RFC 6455 §8.1 and §5.6: text must be UTF-8; we fail with 1007 at the first frame, even the first chunk of a
frame, whose bytes can no longer be valid (the fail-fast behaviour graded strict by conformance suites)."""

from __future__ import annotations

import pytest

from livews.engine import CloseReceived, Connection, State, TextMessage
from livews.engine.errors import InvalidUTF8
from livews.engine.utf8 import Utf8Decoder
from tests.wire import client_frame, close_payload, feed, server_frames

KOSME = "κόσμε".encode()


def failed_1007(conn: Connection, events: list) -> bool:
    return (
        bool(events)
        and isinstance(events[-1], CloseReceived)
        and events[-1].code == 1007
        and conn.state is State.CLOSED
        and server_frames(conn.data_to_send())[-1][2][:2] == b"\x03\xef"
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"\x80",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",  # UTF-16 surrogate U+D800
        b"\xed\xbf\xbf",  # U+DFFF
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\xf8\x88\x80\x80\x80",
        KOSME + b"\xed\xa0\x80edited",
        b"\xce",  # truncated at message end
    ],
)
def test_invalid_utf8_in_a_single_text_frame_fails_with_1007(payload: bytes) -> None:
    conn = Connection()
    assert failed_1007(conn, feed(conn, client_frame(0x1, payload)))


def test_valid_utf8_of_every_length_is_accepted() -> None:
    text = "a\u00e9\u20ac\U0001f600\U0010ffff\ud7ff\ue000"
    conn = Connection()
    assert feed(conn, client_frame(0x1, text.encode())) == [TextMessage(text)]


def test_invalid_utf8_fails_at_the_fragment_that_makes_it_invalid() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, KOSME, fin=False))
    assert events == []
    events = feed(conn, client_frame(0x0, b"\xf4\x90\x80\x80", fin=False))
    assert failed_1007(conn, events)


@pytest.mark.parametrize("bad", [b"\xf4\x90", b"\xed\xa0", b"\xed\xbf", b"\xc0", b"\xe0\x9f"])
def test_invalid_utf8_fails_in_the_first_chunk_of_a_frame_before_the_frame_ends(bad: bytes) -> None:
    conn = Connection()
    frame = client_frame(0x1, KOSME + bad + b"rest of a long frame" * 10)
    head_and_bad = len(frame) - len(b"rest of a long frame" * 10)
    events = feed(conn, frame[:head_and_bad])
    assert failed_1007(conn, events)


def test_sequence_split_across_fragments_is_valid() -> None:
    euro = "€".encode()
    conn = Connection()
    events = feed(
        conn,
        client_frame(0x1, euro[:1], fin=False),
        client_frame(0x0, euro[1:2], fin=False),
        client_frame(0x0, euro[2:]),
    )
    assert events == [TextMessage("€")]


def test_sequence_truncated_at_message_end_fails_at_the_final_frame() -> None:
    conn = Connection()
    assert feed(conn, client_frame(0x1, KOSME + b"\xe2\x82", fin=False)) == []
    assert failed_1007(conn, feed(conn, client_frame(0x0, b"")))


def test_binary_messages_are_not_checked_for_utf8() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x2, b"\xff\xfe"))
    assert [type(e).__name__ for e in events] == ["BinaryMessage"]


def test_close_reason_with_invalid_utf8_fails_with_1007() -> None:
    conn = Connection()
    assert failed_1007(conn, feed(conn, client_frame(0x8, close_payload(1000, b"\xce\xba\xff"))))


def test_decoder_reports_surrogate_lead_bytes_before_the_third_byte() -> None:
    decoder = Utf8Decoder()
    decoder.decode(b"ok")
    with pytest.raises(InvalidUTF8):
        decoder.decode(b"\xed\xa0")


def test_decoder_keeps_a_valid_incomplete_sequence_pending() -> None:
    decoder = Utf8Decoder()
    assert decoder.decode(b"\xed\x9f") == ""
    assert decoder.decode(b"\xbf", final=True) == "\ud7ff"
