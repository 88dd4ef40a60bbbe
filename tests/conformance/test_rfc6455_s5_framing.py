"""RFC 6455 §5.1-§5.4: masking, reserved bits, opcodes, length encoding, control frames, fragmentation."""

from __future__ import annotations

import pytest

from livews.engine import (
    BinaryMessage,
    CloseReceived,
    Connection,
    MessageLimits,
    PingReceived,
    State,
    TextMessage,
)
from tests.wire import client_frame, close_payload, feed, server_frames


def assert_failed_with(conn: Connection, events: list, code: int) -> None:
    assert isinstance(events[-1], CloseReceived)
    assert events[-1].code == code
    assert not events[-1].by_peer
    assert conn.state is State.CLOSED
    assert conn.close_transport
    frames = server_frames(conn.data_to_send())
    assert frames[-1][1] == 0x8
    assert int.from_bytes(frames[-1][2][:2], "big") == code


# §5.1 masking -----------------------------------------------------------------------------------------------


def test_unmasked_client_frame_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, b"hi", mask=None))
    assert_failed_with(conn, events, 1002)


def test_masked_text_frame_is_unmasked() -> None:
    conn = Connection()
    assert feed(conn, client_frame(0x1, b"Hello")) == [TextMessage("Hello")]


# §5.2 reserved bits and opcodes -----------------------------------------------------------------------------


@pytest.mark.parametrize("rsv", [1, 2, 4, 3, 7])
def test_reserved_bits_without_extension_fail_with_1002(rsv: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, b"x", rsv=rsv))
    assert_failed_with(conn, events, 1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcode_fails_with_1002(opcode: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(opcode, b""))
    assert_failed_with(conn, events, 1002)


def test_reserved_opcode_fails_as_soon_as_two_header_bytes_arrive() -> None:
    conn = Connection()
    frame = client_frame(0x3, b"payload")
    events = feed(conn, frame[:2])
    assert_failed_with(conn, events, 1002)


def test_frames_after_a_failure_are_ignored() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x3) + client_frame(0x1, b"after"))
    assert [type(e) for e in events] == [CloseReceived]


# §5.2 payload length ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_payload_lengths_at_encoding_boundaries_are_received(n: int) -> None:
    conn = Connection()
    payload = bytes(i % 251 for i in range(n))
    assert feed(conn, client_frame(0x2, payload)) == [BinaryMessage(payload)]


def test_16_bit_length_encoding_a_value_below_126_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x2, b"abc", length_bytes=2))
    assert_failed_with(conn, events, 1002)


def test_64_bit_length_encoding_a_value_below_65536_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x2, b"abc" * 100, length_bytes=8))
    assert_failed_with(conn, events, 1002)


def test_64_bit_length_with_the_most_significant_bit_set_fails_with_1002() -> None:
    conn = Connection(MessageLimits(max_frame_size=None, max_message_size=None))
    header = bytes((0x82, 0xFF)) + (1 << 63 | 70000).to_bytes(8, "big") + b"\0\0\0\0"
    events = feed(conn, header)
    assert_failed_with(conn, events, 1002)


# §5.4 fragmentation -----------------------------------------------------------------------------------------


def test_fragmented_text_message_is_reassembled() -> None:
    conn = Connection()
    events = feed(
        conn,
        client_frame(0x1, b"Hel", fin=False),
        client_frame(0x0, b"lo ", fin=False),
        client_frame(0x0, b"world"),
    )
    assert events == [TextMessage("Hello world")]


def test_fragmented_binary_message_with_empty_fragments_is_reassembled() -> None:
    conn = Connection()
    events = feed(
        conn,
        client_frame(0x2, b"", fin=False),
        client_frame(0x0, b"\x00\x01", fin=False),
        client_frame(0x0, b"", fin=False),
        client_frame(0x0, b"\x02"),
    )
    assert events == [BinaryMessage(b"\x00\x01\x02")]


def test_control_frame_between_fragments_is_handled_at_once() -> None:
    conn = Connection()
    events = feed(
        conn,
        client_frame(0x1, b"frag1", fin=False),
        client_frame(0x9, b"ping"),
        client_frame(0x0, b"frag2"),
    )
    assert events == [PingReceived(b"ping"), TextMessage("frag1frag2")]
    assert server_frames(conn.data_to_send()) == [(0x8A, 0xA, b"ping")]


def test_continuation_without_a_message_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x0, b"orphan"))
    assert_failed_with(conn, events, 1002)


def test_continuation_after_a_finished_message_fails_with_1002() -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, b"done"), client_frame(0x0, b"more"))
    assert events[0] == TextMessage("done")
    assert_failed_with(conn, events, 1002)


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_new_data_message_inside_a_fragmented_message_fails_with_1002(opcode: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(0x1, b"start", fin=False), client_frame(opcode, b"new"))
    assert_failed_with(conn, events, 1002)


# §5.5 control frames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_fragmented_control_frame_fails_with_1002(opcode: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(opcode, b"", fin=False))
    assert_failed_with(conn, events, 1002)


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_control_frame_with_payload_over_125_bytes_fails_with_1002(opcode: int) -> None:
    conn = Connection()
    events = feed(conn, client_frame(opcode, b"\x03\xe8" + b"x" * 124))
    assert_failed_with(conn, events, 1002)


def test_control_frame_with_125_byte_payload_is_accepted() -> None:
    conn = Connection()
    assert feed(conn, client_frame(0x9, b"p" * 125)) == [PingReceived(b"p" * 125)]


# Streaming input: the same frames split at every byte boundary ----------------------------------------------

SAMPLE = (
    client_frame(0x1, "Grüße".encode())
    + client_frame(0x2, bytes(range(200)))
    + client_frame(0x1, b"a" * 300, fin=False)
    + client_frame(0x9, b"mid")
    + client_frame(0x0, "κόσμε".encode())
    + client_frame(0xA, b"")
    + client_frame(0x2, b"")
    + client_frame(0x8, close_payload(1000, b"bye"))
)
EXPECTED = [
    TextMessage("Grüße"),
    BinaryMessage(bytes(range(200))),
    PingReceived(b"mid"),
    TextMessage("a" * 300 + "κόσμε"),
    BinaryMessage(b""),
]


def _events_without_close(events: list) -> list:
    assert events[-1] == CloseReceived(1000, "bye", True)
    return [e for e in events[:-1] if not type(e).__name__.startswith("Pong")]


@pytest.mark.parametrize("split", range(1, len(SAMPLE)))
def test_input_split_at_any_byte_boundary_gives_the_same_events(split: int) -> None:
    conn = Connection()
    events = feed(conn, SAMPLE[:split], SAMPLE[split:])
    assert _events_without_close(events) == EXPECTED


def test_input_fed_one_byte_at_a_time_gives_the_same_events() -> None:
    conn = Connection()
    events = feed(conn, *(SAMPLE[i : i + 1] for i in range(len(SAMPLE))))
    assert _events_without_close(events) == EXPECTED


def test_messages_before_a_fault_in_the_same_read_are_delivered_before_the_failure() -> None:
    conn = Connection()
    conn.receive_data(client_frame(0x1, b"Hello, world!") + client_frame(0x1, b"bad", rsv=2))
    assert conn.events_received() == [TextMessage("Hello, world!")]
    assert conn.state is State.OPEN
    conn.send_text("Hello, world!")  # the handler's answer goes out before the close frame
    events = conn.events_received()
    assert events[-1].code == 1002
    assert [op for _, op, _ in server_frames(conn.data_to_send())] == [0x1, 0x8]
    assert conn.events_received() == []
