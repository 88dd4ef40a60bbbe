"""Reading into the engine's buffer (``receive_buffer``) sees the same frames as ``receive_data``.

A driver that uses ``recv_into`` asks ``receive_buffer()`` before each read: while the payload of a large
binary uncompressed frame is arriving (with the compiled accelerator) it gets a writable view of the bytes
that become the message, otherwise None and it feeds ``receive_data``. Here a driver mixes both at random
read sizes over streams of every kind of frame, and the events must equal one plain ``receive_data`` feed.
On the pure-Python path (``LIVEWS_NO_SPEEDUPS=1``, run by ``test_speedups``) no buffer is ever offered and
the same streams must still give the same events.
"""

from __future__ import annotations

import random

import pytest

from livews.engine import BinaryMessage, Connection, Event, MessageLimits, State, TextMessage, masking
from livews.engine.deflate import PerMessageDeflate
from tests.wire import client_frame, close_payload, feed, random_mask

_COMPILED = masking.PayloadBuffer is not None
_BIG = 64 * 1024  # the engine's threshold for a large payload


def _frame(opcode: int, payload: bytes, **kw: object) -> bytes:
    return client_frame(opcode, payload, mask=random_mask(), **kw)  # type: ignore[arg-type]


def _stream(rng: random.Random) -> tuple[bytes, list[Event]]:
    """A mix of small and large, whole and fragmented messages, with pings between fragments."""
    big = rng.randbytes(_BIG + rng.randrange(3 * _BIG))
    parts = [rng.randbytes(rng.choice((10, _BIG, _BIG + 7, 2 * _BIG + 1))) for _ in range(3)]
    data = (
        _frame(0x2, big)
        + _frame(0x1, "κόσμε".encode() * 20_000)
        + _frame(0x2, parts[0], fin=False)
        + _frame(0x9, b"between")
        + _frame(0x0, parts[1], fin=False)
        + _frame(0x0, parts[2])
        + _frame(0x2, b"small")
        + _frame(0x2, b"")
        + _frame(0x2, big[::-1])
        + _frame(0x8, close_payload(1000))
    )
    return data, feed(Connection(), data)


def _drive(conn: Connection, data: bytes, rng: random.Random, offered: list[int]) -> list[Event]:
    """Read ``data`` the way an asyncio BufferedProtocol would, at random read sizes."""
    events: list[Event] = []
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 7, 100, 4096, 65_536, 300_000))
        view = conn.receive_buffer()
        if view is not None:
            n = min(len(view), size, len(data) - pos)
            view[:n] = data[pos : pos + n]
            offered.append(len(view))
            view.release()
            conn.receive_buffer_updated(n)
        else:
            n = min(size, len(data) - pos)
            conn.receive_data(data[pos : pos + n])
        pos += n
        while batch := conn.events_received():
            events.extend(batch)
    return events


@pytest.mark.parametrize("seed", range(12))
def test_reading_into_the_offered_buffer_gives_the_same_events_as_receive_data(seed: int) -> None:
    rng = random.Random(seed)
    data, expected = _stream(rng)
    offered: list[int] = []
    assert _drive(Connection(), data, rng, offered) == expected
    assert [type(e) for e in expected][:2] == [BinaryMessage, TextMessage]
    if _COMPILED:
        assert offered, "a large binary frame arrived but no buffer was offered"
    else:
        assert not offered, "the pure path has no buffer to offer"


@pytest.mark.skipif(not _COMPILED, reason="only the compiled accelerator offers a receive buffer")
def test_the_buffer_covers_exactly_the_rest_of_the_frame_payload() -> None:
    payload = bytes(range(256)) * 1024
    frame = _frame(0x2, payload)
    conn = Connection()
    conn.receive_data(frame[:100])  # 14-byte header, 86 payload bytes
    view = conn.receive_buffer()
    assert view is not None and len(view) == len(payload) - 86
    view[:] = frame[100:]
    view.release()
    conn.receive_buffer_updated(len(frame) - 100)
    assert conn.events_received() == [BinaryMessage(payload)]
    assert conn.receive_buffer() is None  # the next frame's header goes through receive_data


@pytest.mark.parametrize(
    "why, conn, frame",
    [
        ("a text frame is UTF-8-checked as it comes", Connection(), _frame(0x1, b"a" * 2 * _BIG)),
        ("a small binary frame", Connection(), _frame(0x2, b"b" * (_BIG - 1))),
        (
            "a compressed frame is inflated as it comes",
            Connection(deflate=PerMessageDeflate()),
            _frame(0x2, PerMessageDeflate().compress(random.Random(1).randbytes(2 * _BIG)), rsv=4),
        ),
    ],
)
def test_no_buffer_is_offered_where_bytes_must_be_looked_at(why: str, conn: Connection, frame: bytes) -> None:
    assert len(frame) > 1000
    conn.receive_data(frame[:1000])
    assert conn.events_received() == []
    assert conn.state is State.OPEN
    assert conn.receive_buffer() is None, why


def test_no_buffer_before_any_frame_and_updating_without_one_is_an_error() -> None:
    conn = Connection()
    assert conn.receive_buffer() is None
    with pytest.raises(RuntimeError):
        conn.receive_buffer_updated(1)


@pytest.mark.skipif(not _COMPILED, reason="only the compiled accelerator offers a receive buffer")
def test_no_buffer_once_the_connection_failed_mid_frame() -> None:
    conn = Connection()
    conn.receive_data(_frame(0x2, b"c" * 2 * _BIG)[:50])
    assert conn.receive_buffer() is not None
    conn.fail(1008, "policy")
    assert conn.state is State.CLOSED
    assert conn.receive_buffer() is None


def test_a_declared_frame_over_the_limit_fails_before_any_buffer_is_offered() -> None:
    conn = Connection(MessageLimits(max_frame_size=_BIG, max_message_size=_BIG))
    events = feed(conn, _frame(0x2, b"d" * (_BIG + 1))[:20])
    assert events[-1].code == 1009  # type: ignore[attr-defined]
    assert conn.receive_buffer() is None
