"""Every DEFLATE backend (zlib, zlib-ng, isal) against the plain zlib path: what the codec relies on, what it
sends and receives, and the budgets on compressed input.

The optional backends are in the ``test`` extra, so every one runs here for real; a missing one fails the
test that needs it with the install hint, it is never skipped.
"""

from __future__ import annotations

import os
import random
import zlib

import pytest

from livews.engine.deflate import STREAM_COST, DeflateConfig, PerMessageDeflate, negotiate
from livews.engine.errors import MessageTooBig, WebSocketError
from livews.engine.zlib_backends import BACKEND_NAMES, ZlibBackend, load_backend, resolve_backend

TAIL = b"\x00\x00\xff\xff"
MiB = 1024 * 1024


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> ZlibBackend:
    return load_backend(request.param)


def zlib_compressed(message: bytes, wbits: int = 15) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    return (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def messages(count: int, seed: int = 7) -> list[bytes]:
    """JSON-ish messages that repeat each other (so context takeover matters), plus odd sizes."""
    rng = random.Random(seed)
    out = [b"", b"x", os.urandom(3000)]
    for i in range(count):
        fields = ",".join(f'"k{j}":{rng.randint(0, 10**6)}' for j in range(rng.randint(1, 200)))
        out.append(f'{{"id":{i},"data":{{{fields}}}}}'.encode())
    out.append(bytes(200_000))
    return out


def inflate_in_small_steps(payloads: list[bytes], wbits: int) -> list[bytes]:
    """Inflate with plain zlib 64 bytes of output at a time, so every back-reference past what one call
    wrote is checked against the ``wbits`` window (zlib: "invalid distance too far back")."""
    decompressor = zlib.decompressobj(-wbits)
    out = []
    for payload in payloads:
        parts = []
        piece = payload + TAIL
        while True:
            chunk = decompressor.decompress(piece, 64)
            parts.append(chunk)
            piece = decompressor.unconsumed_tail
            if not piece and len(chunk) < 64:
                break
        out.append(b"".join(parts))
    return out


# ------------------------------------------------------------------ what each backend supports


def test_every_backend_is_installed_for_the_tests() -> None:
    for name in BACKEND_NAMES:
        assert load_backend(name).name == name  # ImportError says what to install


@pytest.mark.parametrize("wbits", range(9, 16))
def test_every_backend_compresses_with_every_window_from_9_to_15(backend: ZlibBackend, wbits: int) -> None:
    for mem_level in (1, 5, 9):
        compressor = backend.compressor(backend.default_level, wbits, mem_level)
        out = compressor.compress(b"abc" * 100) + compressor.flush(backend.sync_flush)
        assert out.endswith(TAIL)


@pytest.mark.parametrize("wbits", range(8, 16))
def test_every_backend_inflates_with_every_window_from_8_to_15(backend: ZlibBackend, wbits: int) -> None:
    payload = zlib_compressed(b"hello " * 50, max(wbits, 9))
    assert backend.decompressor(wbits).decompress(payload + TAIL) == b"hello " * 50


def test_every_backend_honours_max_length_and_reports_the_end_of_a_stream(backend: ZlibBackend) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    final = compressor.compress(b"z" * 10_000) + compressor.flush(zlib.Z_FINISH)
    decompressor = backend.decompressor(15)
    first = decompressor.decompress(final + b"after", 100)
    assert first == b"z" * 100 and not decompressor.eof
    rest = decompressor.decompress(decompressor.unconsumed_tail, 20_000)
    assert rest == b"z" * 9_900
    assert decompressor.eof and decompressor.unused_data == b"after"


def test_every_backend_raises_its_error_on_corrupt_data(backend: ZlibBackend) -> None:
    with pytest.raises(backend.error):
        backend.decompressor(15).decompress(b"\xff\xff\xff\xff")


def test_isal_takes_levels_0_to_3_only() -> None:
    isal = load_backend("isal")
    assert isal.levels == range(0, 4)
    for level in (-1, 4, 6, 9):
        with pytest.raises(ValueError, match="between 0 and 3 for the isal backend"):
            DeflateConfig(backend="isal", level=level)
        with pytest.raises(ValueError, match="between 0 and 3"):
            PerMessageDeflate(backend="isal", level=level)
    for level in range(4):
        assert PerMessageDeflate(backend="isal", level=level).level == level


def test_a_level_of_none_is_each_backends_default() -> None:
    assert PerMessageDeflate(backend="zlib").level == 6
    assert PerMessageDeflate(backend="zlib-ng").level == 6
    assert PerMessageDeflate(backend="isal").level == 2


def test_an_unknown_backend_is_refused_with_the_names_that_exist() -> None:
    with pytest.raises(ValueError, match="auto, zlib, zlib-ng, isal"):
        DeflateConfig(backend="zstd")
    with pytest.raises(ValueError, match="unknown deflate backend"):
        load_backend("zstd")


def test_auto_prefers_zlib_ng_and_never_picks_isal() -> None:
    assert resolve_backend("auto").name == "zlib-ng"
    _, codec = negotiate("permessage-deflate", DeflateConfig())
    assert codec is not None and codec.backend == "zlib-ng"


def test_the_negotiated_codec_uses_the_configured_backend_and_level(backend: ZlibBackend) -> None:
    _, codec = negotiate("permessage-deflate", DeflateConfig(backend=backend.name, level=1))
    assert codec is not None and codec.backend == backend.name and codec.level == 1


def test_the_backend_is_part_of_the_framing_key() -> None:
    keys = {
        PerMessageDeflate(server_no_context_takeover=True, backend=name, level=1).framing_key
        for name in BACKEND_NAMES
    }
    assert len(keys) == len(BACKEND_NAMES)


# ------------------------------------------------------------------ against the plain zlib path


@pytest.mark.parametrize("wbits", [9, 12, 15])
@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-context-takeover"])
def test_what_every_backend_sends_inflates_with_plain_zlib_within_the_agreed_window(
    backend: ZlibBackend, wbits: int, takeover: bool
) -> None:
    codec = PerMessageDeflate(
        server_max_window_bits=wbits, server_no_context_takeover=not takeover, backend=backend, level=1
    )
    sent = messages(30)
    payloads = [codec.compress(message) for message in sent]
    if takeover:
        assert inflate_in_small_steps(payloads, wbits) == sent
    else:
        assert [inflate_in_small_steps([payload], wbits)[0] for payload in payloads] == sent


@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-context-takeover"])
def test_every_backend_inflates_what_plain_zlib_sends_in_any_split(
    backend: ZlibBackend, takeover: bool
) -> None:
    codec = PerMessageDeflate(
        client_max_window_bits=12, client_no_context_takeover=not takeover, backend=backend
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, -12)
    for i, message in enumerate(messages(30)):
        if not takeover:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -12)
        payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        size = (1, 7, 1000, len(payload) or 1)[i % 4]
        parts = [codec.inflate(payload[j : j + size], None, None) for j in range(0, len(payload), size)]
        parts.append(codec.inflate_finish(None))
        assert b"".join(parts) == message


def test_every_backend_round_trips_through_itself_and_zlib_alike(backend: ZlibBackend) -> None:
    ours = PerMessageDeflate(backend=backend)
    plain = PerMessageDeflate(backend="zlib")
    for message in messages(20):
        assert plain.inflate(ours.compress(message), None) + plain.inflate_finish(None) == message
        assert ours.inflate(plain.compress(message), None) + ours.inflate_finish(None) == message


def test_corrupt_data_fails_with_1007_on_every_backend(backend: ZlibBackend) -> None:
    codec = PerMessageDeflate(backend=backend)
    with pytest.raises(WebSocketError) as raised:
        codec.inflate(b"\xff\xff\xff\xff", None)
    assert raised.value.close_code == 1007


# ------------------------------------------------------------------ budgets hold on every backend


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """100 MB of zeros as one compressed message, about 100 KB on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    zeros = bytes(MiB)
    data = b"".join(compressor.compress(zeros) for _ in range(100)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]


@pytest.mark.parametrize("chunk_size", [4096, 1_000_000], ids=["frames-of-4KiB", "one-frame"])
def test_a_zip_bomb_stops_within_one_step_of_the_budget_on_every_backend(
    backend: ZlibBackend, bomb: bytes, chunk_size: int
) -> None:
    codec = PerMessageDeflate(backend=backend)
    budget = MiB
    produced = 0
    with pytest.raises(MessageTooBig):
        for i in range(0, len(bomb), chunk_size):
            produced += len(codec.inflate(bomb[i : i + chunk_size], budget - produced))
    assert produced <= budget
    assert codec._decompressor is None  # released


def test_empty_final_blocks_run_out_of_the_compressed_budget_on_every_backend(backend: ZlibBackend) -> None:
    blocks = 10
    payload = bytes.fromhex("0300") * blocks
    codec = PerMessageDeflate(backend=backend)
    assert codec.inflate(payload, None, blocks * (2 + STREAM_COST)) == b""
    codec.inflate_finish(None)
    with pytest.raises(MessageTooBig):
        codec.inflate(payload, None, blocks * (2 + STREAM_COST) - 1)


def test_many_empty_final_blocks_then_data_inflate_on_every_backend(backend: ZlibBackend) -> None:
    payload = bytes.fromhex("0300") * 5000 + zlib_compressed(b"end")
    codec = PerMessageDeflate(backend=backend)
    assert codec.inflate(payload, 100, None) + codec.inflate_finish(100) == b"end"


def test_compressed_bytes_that_inflate_to_nothing_have_a_budget_on_every_backend(
    backend: ZlibBackend,
) -> None:
    budget = 64 * 1024
    codec = PerMessageDeflate(backend=backend)
    with pytest.raises(MessageTooBig):
        codec.inflate(bytes.fromhex("0300") * (budget // 2 + 1), None, budget)
