"""The compiled frame reader and frame builders must behave exactly as the pure-Python engine does.

``_speedups.read_messages`` takes whole, ordinary data frames and hands every other frame to the Python
parser, so a connection with it and a connection without it must produce the same events, the same close
codes and the same bytes for any input, however it is split into reads. The differential test feeds random
streams (valid and invalid) through both; the unit tests pin each rule the reader checks before it takes a
frame, by showing which frames it leaves to the parser.
"""

from __future__ import annotations

import array
import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livews.engine import BinaryMessage, MessageLimits, TextMessage, frames, masking
from livews.engine import connection as connection_module
from livews.engine.connection import Connection
from livews.engine.deflate import PerMessageDeflate

_BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_MASK = b"\x37\xfa\x21\x3d"


def _speedups() -> ModuleType:
    try:
        speedups = importlib.import_module("livews.engine._speedups")
    except ImportError:
        pytest.skip("livews.engine._speedups is not built (no C compiler?)")
    speedups.use_event_types(TextMessage, BinaryMessage)  # as the connection module does when it uses it
    return speedups


@contextlib.contextmanager
def _pure_engine() -> Iterator[None]:
    """Run the connection module on its pure-Python twins only, for the duration of the block."""
    pure: dict[str, Any] = {
        "_read_messages": None,
        "encode_frame": frames._encode_frame_py,
        "encode_text_frame": frames._encode_text_frame_py,
        "apply_mask": masking._apply_mask_py,
        "unmask_chunks": masking._unmask_chunks_py,
        "PayloadBuffer": None,
    }
    saved = {name: getattr(connection_module, name) for name in pure}
    for name, value in pure.items():
        setattr(connection_module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(connection_module, name, value)


def _client_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    long_form: bool = False,
    mask: bytes = _MASK,
) -> bytes:
    """A client frame; ``long_form`` writes the length in the 64-bit form whatever it is (not minimal)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if long_form:
        head = bytes((b0, 127)) + n.to_bytes(8, "big")
    elif n < 126:
        head = bytes((b0, n))
    elif n < 0x10000:
        head = bytes((b0, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 127)) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    head = bytes((head[0], head[1] | 0x80)) + head[2:]
    return head + mask + masking._apply_mask_py(payload, mask)


def _run(
    stream: list[bytes],
    limits: MessageLimits,
    deflate: bool,
    echo_frame_size: int | None,
    *,
    reused_buffer: bool = False,
) -> list[Any]:
    """Everything observable from feeding ``stream`` read by read and echoing each message back.

    ``reused_buffer``: each read is given as a view of one buffer, overwritten as soon as the call returns,
    as the server's direct reads do.
    """
    conn = Connection(limits, deflate=PerMessageDeflate() if deflate else None)
    log: list[Any] = []
    buffer = bytearray(max((len(read) for read in stream), default=0))
    for read in stream:
        if reused_buffer:
            buffer[: len(read)] = read
            conn.receive_data(memoryview(buffer)[: len(read)])
            buffer[:] = b"\xaa" * len(buffer)
        else:
            conn.receive_data(read)
        while events := conn.events_received():
            log.append(events)
            for event in events:
                if type(event) is TextMessage:
                    conn.send_text(event.data, frame_size=echo_frame_size)
                elif type(event) is BinaryMessage:
                    conn.send_binary(event.data, frame_size=echo_frame_size)
        log.append(conn.data_to_send())
        log.append((conn.state, conn.close_transport))
    conn.receive_eof()
    log.append(conn.events_received())
    log.append(conn.data_to_send())
    return log


_utf8_text = st.text(max_size=40).map(lambda t: t.encode("utf-8"))
_payloads = st.one_of(
    _utf8_text,
    st.binary(max_size=40),  # mostly invalid UTF-8 for a text frame
    st.sampled_from([b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", "é".encode()[:1], b"\xe2\x82"]),
    st.sampled_from([125, 126, 127, 300, 0xFFFF, 0x10000]).map(lambda n: b"a" * n),
)


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    opcode = draw(st.sampled_from([1, 1, 1, 2, 2, 2, 0, 0, 8, 9, 10, 3, 11]))
    payload = draw(_payloads)
    if opcode == 8 and draw(st.booleans()):
        payload = draw(st.sampled_from([1000, 1001, 1005, 1006, 3000, 999])).to_bytes(2, "big") + payload[:20]
    return _client_frame(
        opcode,
        payload,
        fin=draw(st.sampled_from([True, True, True, False])),
        rsv=draw(st.sampled_from([0, 0, 0, 0, 0, 4, 2, 1])),
        masked=draw(st.sampled_from([True] * 15 + [False])),
        long_form=draw(st.sampled_from([False] * 15 + [True])),
        mask=draw(st.sampled_from([_MASK, b"\x00\x00\x00\x00", b"\xff\x80\x01\x7f"])),
    )


@st.composite
def _streams(draw: st.DrawFn) -> list[bytes]:
    """Up to 12 frames' bytes as the reads of a stream, cut anywhere (inside headers and payloads too)."""
    data = b"".join(draw(st.lists(_frames(), max_size=12)))
    points = sorted(set(draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=6))))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


_limits = st.builds(
    MessageLimits,
    max_frame_size=st.sampled_from([None, 1, 40, 126, 0x10000, 16 * 1024 * 1024]),
    max_message_size=st.sampled_from([None, 1, 40, 200, 0x10000, 16 * 1024 * 1024]),
    max_frame_count=st.sampled_from([None, 1, 3, 100_000]),
)


@_BOUNDED
@given(stream=_streams(), limits=_limits, deflate=st.booleans(), pure=st.booleans())
def test_reads_given_as_views_of_a_reused_buffer_give_what_bytes_give(
    stream: list[bytes], limits: MessageLimits, deflate: bool, pure: bool
) -> None:
    with _pure_engine() if pure else contextlib.nullcontext():
        assert _run(stream, limits, deflate, None, reused_buffer=True) == _run(stream, limits, deflate, None)


@_BOUNDED
@given(
    stream=_streams(), limits=_limits, deflate=st.booleans(), echo_frame_size=st.sampled_from([None, None, 7])
)
def test_compiled_reader_gives_what_the_pure_parser_gives_for_any_stream(
    stream: list[bytes], limits: MessageLimits, deflate: bool, echo_frame_size: int | None
) -> None:
    if connection_module._read_messages is None:
        pytest.skip("the engine runs without the accelerator (LIVEWS_NO_SPEEDUPS or no compiler)")
    compiled = _run(stream, limits, deflate, echo_frame_size)
    with _pure_engine():
        pure = _run(stream, limits, deflate, echo_frame_size)
    assert compiled == pure


@_BOUNDED
@given(
    opcode=st.integers(min_value=0, max_value=15),
    payload=st.binary(max_size=300) | st.sampled_from([b"", b"x" * 0x10000, b"y" * 0x12345]),
    fin=st.booleans(),
    rsv1=st.booleans(),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_compiled_encode_frame_is_the_pure_one(
    opcode: int, payload: bytes, fin: bool, rsv1: bool, kind: type[Any]
) -> None:
    speedups = _speedups()
    assert speedups.encode_frame(opcode, kind(payload), fin, rsv1) == frames._encode_frame_py(
        opcode, payload, fin, rsv1
    )


@_BOUNDED
@given(text=st.text() | st.sampled_from(["a" * 125, "a" * 126, "é" * 40_000, "a" * 0x10000, "\U0001f600"]))
def test_compiled_encode_text_frame_is_the_pure_one(text: str) -> None:
    assert _speedups().encode_text_frame(text) == frames._encode_text_frame_py(text)


def test_encode_text_frame_refuses_a_lone_surrogate_like_str_encode() -> None:
    with pytest.raises(UnicodeEncodeError):
        _speedups().encode_text_frame("\ud800")
    with pytest.raises(UnicodeEncodeError):
        frames._encode_text_frame_py("\ud800")


# ------------------------------------------------------------------------------ the reader's rules


def _read(data: bytes, max_length: int = 1 << 30) -> tuple[int, list[Any]]:
    speedups = _speedups()
    events: list[Any] = []
    return speedups.read_messages(data, 0, max_length, events), events


def test_reader_takes_a_run_of_whole_text_and_binary_frames() -> None:
    data = _client_frame(1, "héllo".encode()) + _client_frame(2, b"\x00\xff") + _client_frame(1, b"")
    assert _read(data) == (len(data), [TextMessage("héllo"), BinaryMessage(b"\x00\xff"), TextMessage("")])


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(_client_frame(1, b"abc", fin=False), id="fragment"),
        pytest.param(_client_frame(0, b"abc"), id="continuation"),
        pytest.param(_client_frame(1, b"abc", rsv=4), id="rsv1-compressed"),
        pytest.param(_client_frame(2, b"abc", rsv=2), id="rsv2"),
        pytest.param(_client_frame(2, b"abc", rsv=1), id="rsv3"),
        pytest.param(_client_frame(3, b"abc"), id="reserved-opcode"),
        pytest.param(_client_frame(9, b"abc"), id="ping"),
        pytest.param(_client_frame(8, b"\x03\xe8"), id="close"),
        pytest.param(_client_frame(1, b"abc", masked=False), id="unmasked"),
        pytest.param(_client_frame(1, b"abc", long_form=True), id="length-not-minimal-64"),
        pytest.param(bytes((0x81, 0xFE, 0, 5)) + _MASK + b"abcde", id="length-not-minimal-16"),
        pytest.param(bytes((0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0)) + _MASK, id="length-top-bit"),
        pytest.param(_client_frame(1, b"\xed\xa0\x80"), id="surrogate"),
        pytest.param(_client_frame(1, b"\xc0\xaf"), id="overlong"),
        pytest.param(_client_frame(1, b"ok\xf4\x90\x80\x80"), id="above-u10ffff"),
        pytest.param(_client_frame(1, b"\xe2\x82"), id="truncated-character"),
    ],
)
def test_reader_leaves_every_frame_but_a_whole_ordinary_data_frame_to_the_parser(frame: bytes) -> None:
    first = _client_frame(2, b"before")
    assert _read(first + frame) == (len(first), [BinaryMessage(b"before")])


def test_reader_leaves_a_frame_that_is_not_complete_yet() -> None:
    frame = _client_frame(2, b"x" * 300)
    for end in range(len(frame)):
        assert _read(frame[:end]) == (0, [])


def test_reader_leaves_a_frame_over_the_length_limit_before_reading_it() -> None:
    frame = _client_frame(2, b"x" * 41)
    assert _read(frame, max_length=40) == (0, [])
    assert _read(frame, max_length=41) == (len(frame), [BinaryMessage(b"x" * 41)])


def test_reader_starts_at_the_position_it_is_given() -> None:
    frame = _client_frame(1, b"x")
    events: list[Any] = []
    assert _speedups().read_messages(b"junk" + frame, 4, 100, events) == 4 + len(frame)
    assert events == [TextMessage("x")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(memoryview(b"abcdefgh")[::2], id="strided-memoryview"),
        pytest.param(memoryview(array.array("i", [1, 2])), id="int-array-view"),
        pytest.param(bytearray(b"abcd"), id="bytearray"),
    ],
)
def test_send_binary_frames_the_bytes_of_any_buffer_on_both_engines(data: Any) -> None:
    expected = frames._encode_frame_py(2, bytes(data))
    conn = Connection()
    conn.send_binary(data)
    assert conn.data_to_send() == expected
    with _pure_engine():
        conn = Connection()
        conn.send_binary(data)
        assert conn.data_to_send() == expected


def test_compiled_encode_frame_takes_the_pure_ones_keywords() -> None:
    speedups = _speedups()
    for kwargs in ({"fin": False}, {"rsv1": True}, {"fin": False, "rsv1": True}):
        assert speedups.encode_frame(1, b"abc", **kwargs) == frames._encode_frame_py(1, b"abc", **kwargs)
    assert speedups.encode_frame(opcode=2, payload=b"x") == frames._encode_frame_py(2, b"x")
    with pytest.raises(TypeError):
        speedups.encode_frame(1)
    with pytest.raises(TypeError):
        speedups.encode_frame(1, b"x", final=True)
