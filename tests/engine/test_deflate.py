"""The permessage-deflate codec's own promises: bounded inflating, lazy and released zlib state, framing keys
that let broadcast compress once, and a configuration that refuses what zlib cannot do."""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from livews.engine.deflate import STREAM_COST, DeflateConfig, PerMessageDeflate, compressed_budget, negotiate
from livews.engine.errors import MessageTooBig

TAIL = b"\x00\x00\xff\xff"
ZLIB_TYPES = (type(zlib.compressobj()), type(zlib.decompressobj()))
MiB = 1024 * 1024


def zlib_objects(codec: PerMessageDeflate) -> list[object]:
    return [ref for ref in gc.get_referents(codec) if isinstance(ref, ZLIB_TYPES)]


def compressed(message: bytes, wbits: int = 15) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    return (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def receive(
    codec: PerMessageDeflate, chunks: list[bytes] | Iterator[memoryview], budget: int | None
) -> bytes:
    """Inflate a message the way the connection does: each call gets what is left of the budget."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        part = codec.inflate(chunk, None if budget is None else budget - size)
        size += len(part)
        parts.append(part)
    parts.append(codec.inflate_finish(None if budget is None else budget - size))
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """100 MB of zeros as one compressed message: about 100 KB on the wire, a ratio of 1000:1."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    zeros = bytes(MiB)
    data = b"".join(compressor.compress(zeros) for _ in range(100)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) < 120_000
    return data[:-4]


# ------------------------------------------------------------------ zip bombs and budgets


@pytest.mark.parametrize("chunk_size", [4096, 1_000_000], ids=["frames-of-4KiB", "one-frame"])
def test_zip_bomb_raises_message_too_big_without_allocating_past_the_budget(
    bomb: bytes, chunk_size: int
) -> None:
    codec = PerMessageDeflate()
    view = memoryview(bomb)
    chunks = (view[i : i + chunk_size] for i in range(0, len(bomb), chunk_size))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        with pytest.raises(MessageTooBig):
            receive(codec, chunks, MiB)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # The budget, plus one 64 KiB inflate step, zlib's state and window, and the input being worked on.
    assert peak < MiB + 512 * 1024, peak


def test_zip_bomb_is_stopped_within_one_step_of_the_budget(bomb: bytes) -> None:
    codec = PerMessageDeflate()
    produced = 0
    with pytest.raises(MessageTooBig):
        for i in range(0, len(bomb), 1000):
            produced += len(codec.inflate(bomb[i : i + 1000], MiB - produced))
    assert produced <= MiB


def test_message_of_exactly_the_budget_inflates() -> None:
    message = bytes(range(256)) * 4000
    assert receive(PerMessageDeflate(), [compressed(message)], len(message)) == message


def test_message_one_byte_over_the_budget_raises_message_too_big() -> None:
    message = bytes(range(256)) * 4000
    with pytest.raises(MessageTooBig):
        receive(PerMessageDeflate(), [compressed(message)], len(message) - 1)


def test_budget_is_counted_across_chunks() -> None:
    message = b"abcdefgh" * 50_000
    payload = compressed(message)
    chunks = [payload[i : i + 10] for i in range(0, len(payload), 10)]
    assert receive(PerMessageDeflate(), chunks, len(message)) == message
    with pytest.raises(MessageTooBig):
        receive(PerMessageDeflate(), chunks, len(message) - 1)


def test_zero_or_negative_budget_allows_no_output_but_empty_messages() -> None:
    assert receive(PerMessageDeflate(), [b"\x00"], 0) == b""
    with pytest.raises(MessageTooBig):
        receive(PerMessageDeflate(), [compressed(b"x")], 0)
    with pytest.raises(MessageTooBig):
        PerMessageDeflate().inflate(compressed(b"x"), -5)


def test_no_budget_means_no_limit(bomb: bytes) -> None:
    assert len(receive(PerMessageDeflate(), [bomb[:20_000]], None)) > 10 * MiB


def test_a_huge_budget_is_not_an_overflow() -> None:
    # The connection passes sys.maxsize minus the size so far when max_message_size is None.
    assert receive(PerMessageDeflate(), [compressed(b"Hello")], sys.maxsize) == b"Hello"


def test_fragmented_inflate_across_many_chunks_equals_the_whole() -> None:
    message = b"".join(b"%d:%s;" % (i, b"x" * (i % 97)) for i in range(20_000))
    payload = compressed(message)
    for size in (1, 3, 64, 65_537):
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
        assert receive(PerMessageDeflate(), chunks, 16 * MiB) == message


def test_many_final_blocks_in_one_message_are_inflated_in_bounded_work() -> None:
    # §7.2.3.4 lets every block carry BFINAL; each one restarts zlib's stream inside the same message.
    payload = bytes.fromhex("0300") * 5000 + compressed(b"end")
    assert receive(PerMessageDeflate(), [payload], 100) == b"end"


class _CountingInflater:
    """A zlib inflater that adds up the input it is handed: what zlib scans and copies (``unused_data``,
    ``unconsumed_tail``) is at most that."""

    handed = 0
    created = 0
    calls = 0

    def __init__(self, wbits: int) -> None:
        type(self).created += 1
        self._inner = _REAL_DECOMPRESSOBJ(wbits)

    def decompress(self, data: bytes | memoryview, max_length: int = 0) -> bytes:
        type(self).handed += len(data)
        type(self).calls += 1
        return self._inner.decompress(data, max_length)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


_REAL_DECOMPRESSOBJ = zlib.decompressobj


@pytest.fixture
def counting_inflater(monkeypatch: pytest.MonkeyPatch) -> type[_CountingInflater]:
    _CountingInflater.handed = _CountingInflater.created = _CountingInflater.calls = 0
    monkeypatch.setattr(zlib, "decompressobj", _CountingInflater)
    return _CountingInflater


@pytest.mark.parametrize("chunk_size", [64 * 1024, 1024])
def test_empty_final_blocks_cost_a_constant_per_input_byte(
    counting_inflater: type[_CountingInflater], chunk_size: int
) -> None:
    # "03 00" is an empty block with BFINAL set: each ends zlib's stream, which used to hand (and copy) all
    # the input left after it to a fresh inflater, so n bytes of them cost n * n / 4.
    size = 64 * 1024
    payload = bytes.fromhex("0300") * (size // 2)
    chunks = [payload[i : i + chunk_size] for i in range(0, size, chunk_size)]
    assert receive(PerMessageDeflate(), chunks, None) == b""
    assert counting_inflater.handed <= 40 * size  # the slice after a final block is 64 bytes: 32 per block


def test_one_stream_with_context_takeover_takes_one_zlib_call_per_chunk_once_warmed_up(
    counting_inflater: type[_CountingInflater],
) -> None:
    codec = PerMessageDeflate()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    for i in range(20):
        message = b"%d: " % i + os.urandom(2000)  # about 2 KB compressed: the slice grows to hold it
        payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        counting_inflater.calls = 0
        assert receive(codec, [payload], None) == message
    assert counting_inflater.created == 1
    assert counting_inflater.calls == 2  # the chunk, then the tail


def test_compressed_input_has_a_budget_even_when_nothing_is_inflated() -> None:
    budget = 64 * 1024
    codec = PerMessageDeflate()
    with pytest.raises(MessageTooBig):
        codec.inflate(bytes.fromhex("0300") * (budget // 2 + 1), None, budget)


def test_each_final_block_is_charged_stream_cost_against_the_input_budget() -> None:
    blocks = 10
    payload = bytes.fromhex("0300") * blocks
    codec = PerMessageDeflate()
    assert codec.inflate(payload, None, blocks * (2 + STREAM_COST)) == b""
    codec.inflate_finish(None)
    with pytest.raises(MessageTooBig):
        codec.inflate(payload, None, blocks * (2 + STREAM_COST) - 1)


def test_the_input_budget_is_per_message() -> None:
    codec = PerMessageDeflate()
    payload = compressed(b"abc" * 100)
    for _ in range(5):
        assert codec.inflate(payload, None, len(payload)) == b"abc" * 100
        assert codec.inflate_finish(None) == b""


def test_compressed_budget_admits_any_message_that_fits_inflated() -> None:
    limit = 1 * MiB
    random_data = os.urandom(limit)  # incompressible: stored blocks, the largest expansion DEFLATE has
    payload = compressed(random_data)
    budget = compressed_budget(limit)
    assert budget is not None and len(payload) <= budget
    assert receive(PerMessageDeflate(), [payload], limit) == random_data


def test_after_message_too_big_the_inflater_is_released() -> None:
    codec = PerMessageDeflate()
    with pytest.raises(MessageTooBig):
        codec.inflate(compressed(bytes(10_000)), 100)
    assert zlib_objects(codec) == []


# ------------------------------------------------------------------ lazy and released zlib state


def test_a_fresh_codec_holds_no_zlib_object_and_under_a_kilobyte() -> None:
    # A first negotiation fills what is allocated once per process (and a coverage tracer's tables, which
    # grow as it meets new lines), so the one measured holds only what a codec costs.
    negotiate("permessage-deflate; client_max_window_bits", DeflateConfig())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _, codec = negotiate("permessage-deflate; client_max_window_bits", DeflateConfig())
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert codec is not None
    assert zlib_objects(codec) == []
    assert size < 1024, size


def test_with_context_takeover_both_ways_the_zlib_state_is_kept_between_messages() -> None:
    codec = PerMessageDeflate()
    codec.compress(b"Hello")
    assert receive(codec, [compressed(b"Hello")], None) == b"Hello"
    assert len(zlib_objects(codec)) == 2


def test_without_context_takeover_no_zlib_state_outlives_a_message() -> None:
    codec = PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True)
    for _ in range(3):
        codec.compress(b"Hello" * 100)
        assert receive(codec, [compressed(b"Hello" * 100)], None) == b"Hello" * 100
        assert zlib_objects(codec) == []


def test_without_context_takeover_repeated_messages_leave_no_memory_behind() -> None:
    codec = PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True)
    message = bytes(range(256)) * 100
    payload = compressed(message)
    codec.compress(message)
    receive(codec, [payload], None)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            codec.compress(message)
            receive(codec, [payload], None)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024, grown


# ------------------------------------------------------------------ framing keys and broadcast


def test_framing_key_is_none_with_server_context_takeover() -> None:
    assert PerMessageDeflate().framing_key is None
    assert PerMessageDeflate(client_no_context_takeover=True).framing_key is None


def test_equal_settings_without_server_context_takeover_give_equal_hashable_keys() -> None:
    config = DeflateConfig(server_no_context_takeover=True)
    _, first = negotiate("permessage-deflate", config)
    _, second = negotiate("permessage-deflate; client_no_context_takeover; client_max_window_bits=9", config)
    assert first is not None and second is not None
    assert first.framing_key is not None
    assert first.framing_key == second.framing_key  # the client's side does not change our bytes
    assert hash(first.framing_key) == hash(second.framing_key)


@pytest.mark.parametrize(
    "change",
    [{"level": 1}, {"mem_level": 8}, {"server_max_window_bits": 10}, {"min_size": 0}, {"backend": "zlib-ng"}],
)
def test_a_setting_that_changes_the_bytes_sent_changes_the_framing_key(change: dict) -> None:
    base = {"server_no_context_takeover": True}
    assert PerMessageDeflate(**base).framing_key != PerMessageDeflate(**base, **change).framing_key


def test_codecs_with_equal_keys_compress_a_message_to_equal_bytes_whatever_they_sent_before() -> None:
    first = PerMessageDeflate(server_no_context_takeover=True, server_max_window_bits=10)
    second = PerMessageDeflate(server_no_context_takeover=True, server_max_window_bits=10)
    first.compress(b"something else entirely" * 100)
    message = b'{"event": "tick", "n": 1}' * 20
    assert first.framing_key == second.framing_key
    assert first.compress(message) == second.compress(message) == first.compress(message)


# ------------------------------------------------------------------ configuration


def test_default_config_is_documented_values() -> None:
    config = DeflateConfig()
    assert (config.enabled, config.level, config.mem_level, config.min_size) == (True, None, 5, 32)
    assert config.backend == "auto"
    assert PerMessageDeflate().level == 6  # zlib's default level when none is configured
    assert (config.server_max_window_bits, config.client_max_window_bits) == (12, 12)
    assert not config.server_no_context_takeover and not config.client_no_context_takeover


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DeflateConfig().level = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_max_window_bits": 8},  # zlib cannot compress with a 256-byte window
        {"server_max_window_bits": 16},
        {"client_max_window_bits": 8},  # nor can a zlib client
        {"client_max_window_bits": 7},
        {"level": 10},
        {"level": -2},
        {"mem_level": 0},
        {"mem_level": 10},
        {"min_size": -1},
    ],
)
def test_config_refuses_values_zlib_or_the_rfc_cannot_honour(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DeflateConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_max_window_bits": 8},
        {"client_max_window_bits": 7},
        {"client_max_window_bits": 16},
        {"level": 10},
        {"mem_level": 0},
        {"min_size": -1},
    ],
)
def test_codec_refuses_settings_zlib_cannot_use(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        PerMessageDeflate(**kwargs)


def test_compress_accepts_any_bytes_like_payload() -> None:
    codec = PerMessageDeflate(server_no_context_takeover=True)
    assert (
        codec.compress(bytearray(b"Hello"))
        == codec.compress(memoryview(b"Hello"))
        == codec.compress(b"Hello")
    )


def test_compressed_message_round_trips_through_plain_zlib_at_every_level() -> None:
    message = b"The quick brown fox jumps over the lazy dog. " * 200
    for level in range(10):
        payload = PerMessageDeflate(level=level).compress(message)
        assert zlib.decompressobj(-15).decompress(payload + TAIL) == message
