"""Compiled unmasking (livews.engine._speedups) must be byte-for-byte the pure-Python one; both must run.

The compiled path is checked directly against ``_apply_mask_py``; the pure path is forced in a subprocess with
``LIVEWS_NO_SPEEDUPS=1`` and the masking and conformance suites are run through it. Where a C compiler exists
the extension must have been built, so a green run proves the compiled path is the one in use.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from livews.engine import masking

_REPO = Path(__file__).resolve().parents[2]
_NO_SPEEDUPS = os.environ.get("LIVEWS_NO_SPEEDUPS", "") not in ("", "0")

_LENGTHS = [*range(71), 127, 128, 129, 255, 256, 257, 4095, 4096, 4097, 65_536, 1 << 20, (1 << 20) + 13]
_INPUT_KINDS: dict[str, Callable[[bytes], bytes | bytearray | memoryview]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "memoryview_slice": lambda b: memoryview(b"\xaa" + b + b"\xbb")[1:-1],  # unaligned start
}


def _load_speedups() -> ModuleType:
    try:
        return importlib.import_module("livews.engine._speedups")
    except ImportError:
        pytest.skip("livews.engine._speedups is not built (no C compiler?)")


@pytest.fixture(scope="module")
def speedups() -> ModuleType:
    return _load_speedups()


@pytest.mark.parametrize("offset", range(8))
@pytest.mark.parametrize("kind", sorted(_INPUT_KINDS))
def test_compiled_apply_mask_equals_pure_at_every_length_offset_and_input_type(
    speedups: ModuleType, kind: str, offset: int
) -> None:
    rng = random.Random(f"{kind}-{offset}")
    for n in _LENGTHS:
        data = rng.randbytes(n)
        mask = rng.randbytes(4)
        expected = masking._apply_mask_py(data, mask, offset)
        got = speedups.apply_mask(_INPUT_KINDS[kind](data), mask, offset)
        assert type(got) is bytes
        assert got == expected, (kind, n, offset)


@pytest.mark.parametrize("offset", [-5, -1, 1001, 2**63 - 1, 2**63, 2**64 + 3, -(2**70) - 1])
def test_compiled_apply_mask_rotates_by_offset_mod_4_for_any_int(speedups: ModuleType, offset: int) -> None:
    data = bytes(range(37))
    mask = b"\x11\x22\x33\x44"
    assert speedups.apply_mask(data, mask, offset) == masking._apply_mask_py(data, mask, offset)


def test_compiled_apply_mask_accepts_keyword_arguments_like_the_pure_one(speedups: ModuleType) -> None:
    data, mask = b"abcdefgh", b"\x01\x02\x03\x04"
    expected = masking._apply_mask_py(data, mask, 3)
    assert speedups.apply_mask(data, mask, offset=3) == expected
    assert speedups.apply_mask(data=data, mask=mask, offset=3) == expected
    assert speedups.apply_mask(data, mask) == masking._apply_mask_py(data, mask)
    with pytest.raises(TypeError):
        speedups.apply_mask(data, mask, 3, offset=3)
    with pytest.raises(TypeError):
        speedups.apply_mask(data, mask, nonsense=1)
    with pytest.raises(TypeError):
        speedups.apply_mask(data)
    with pytest.raises(TypeError):
        speedups.apply_mask(data, mask, "1")


def test_compiled_apply_mask_handles_a_non_contiguous_memoryview(speedups: ModuleType) -> None:
    raw = random.Random(7).randbytes(1001)
    strided = memoryview(raw)[::3]
    mask = b"\x9a\xbc\xde\xf0"
    expected = masking._apply_mask_py(strided.tobytes(), mask, 2)
    assert speedups.apply_mask(strided, mask, 2) == expected
    assert masking._apply_mask_py(strided, mask, 2) == expected


def test_compiled_apply_mask_does_not_modify_its_input(speedups: ModuleType) -> None:
    data = bytearray(random.Random(3).randbytes(300))
    before = bytes(data)
    speedups.apply_mask(data, b"\xff\xff\xff\xff", 1)
    assert data == before


@pytest.mark.parametrize("mask", [b"", b"\x01", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05", bytes(8)])
def test_a_mask_not_4_bytes_long_raises_value_error_on_both_paths(speedups: ModuleType, mask: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"payload", mask)
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"", mask)
    with pytest.raises(ValueError, match="4 bytes"):
        masking._apply_mask_py(b"payload", mask)


def test_buffers_are_released_after_success_and_after_errors(speedups: ModuleType) -> None:
    data, mask, bad_mask = bytearray(b"x" * 100), bytearray(b"abcd"), bytearray(b"abc")
    speedups.apply_mask(data, mask)
    with pytest.raises(ValueError):
        speedups.apply_mask(data, bad_mask)
    with pytest.raises(TypeError):
        speedups.apply_mask(data, mask, "1")
    # A bytearray with a live buffer export cannot be resized (BufferError).
    data.extend(b"y")
    mask.extend(b"e")
    bad_mask.extend(b"f")


def test_a_mask_may_be_any_4_byte_buffer(speedups: ModuleType) -> None:
    data, mask = b"\x00" * 9, b"\x01\x02\x03\x04"
    for m in (bytearray(mask), memoryview(mask), memoryview(b"x" + mask)[1:]):
        assert speedups.apply_mask(data, m, 1) == masking._apply_mask_py(data, mask, 1)


def test_non_buffer_data_is_a_type_error(speedups: ModuleType) -> None:
    with pytest.raises(TypeError):
        speedups.apply_mask("text", b"\x01\x02\x03\x04")


@pytest.mark.skipif(_NO_SPEEDUPS, reason="LIVEWS_NO_SPEEDUPS is set: the pure path is wanted")
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: the pure-Python fallback is expected")
def test_the_extension_is_built_and_used_where_a_compiler_exists() -> None:
    try:
        speedups = importlib.import_module("livews.engine._speedups")
    except ImportError as exc:
        pytest.fail(f"a C compiler exists but livews.engine._speedups was not built: {exc}")
    assert masking.apply_mask is speedups.apply_mask
    assert masking.apply_mask is not masking._apply_mask_py


def _run_forced_pure(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVEWS_NO_SPEEDUPS": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=_REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_livews_no_speedups_makes_masking_use_the_pure_function() -> None:
    code = (
        "from livews.engine import masking, connection\n"
        "assert masking.apply_mask is masking._apply_mask_py, masking.apply_mask\n"
        "assert connection.apply_mask is masking._apply_mask_py, connection.apply_mask\n"
    )
    proc = _run_forced_pure(["-c", code])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_masking_and_conformance_suites_pass_on_the_forced_pure_path() -> None:
    # --no-cov: the outer run measures coverage; this one must not write over its data file.
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov"]
    proc = _run_forced_pure([*args, "tests/engine/test_masking.py", "tests/conformance"])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


# PayloadBuffer: a bytes filled in place (recv_into) and unmasked as it fills ------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_payload_buffer_filled_in_random_pieces_equals_unmasking_the_whole(
    speedups: ModuleType, seed: int
) -> None:
    rng = random.Random(seed)
    payload = rng.randbytes(rng.choice((1, 63, 64, 65, 4097, 200_000)))
    mask = rng.randbytes(4)
    masked = masking._apply_mask_py(payload, mask)
    buf = speedups.PayloadBuffer(len(masked), mask)
    pos = 0
    while pos < len(masked):
        n = min(rng.choice((1, 3, 64, 1000, 70_000)), len(masked) - pos)
        if rng.random() < 0.5:
            buf.write(memoryview(masked)[pos : pos + n])
        else:
            with memoryview(buf) as view:
                assert len(view) == len(masked) - pos and not view.readonly
                view[:n] = masked[pos : pos + n]
            buf.advance(n)
        pos += n
        assert buf.remaining == len(masked) - pos
    got = buf.take()
    assert type(got) is bytes
    assert got == payload


def test_payload_buffer_refuses_what_would_break_it(speedups: ModuleType) -> None:
    with pytest.raises(ValueError):
        speedups.PayloadBuffer(10, b"abc")
    with pytest.raises(ValueError):
        speedups.PayloadBuffer(-1, b"abcd")
    buf = speedups.PayloadBuffer(4, b"\x00\x00\x00\x00")
    with pytest.raises(ValueError):
        buf.take()  # not full yet
    with pytest.raises(ValueError):
        buf.write(b"12345")  # longer than what is left
    with pytest.raises(ValueError):
        buf.advance(5)
    with pytest.raises(ValueError):
        buf.advance(-1)
    buf.write(b"1234")
    assert buf.take() == b"1234"
    assert buf.remaining == 0
    with pytest.raises(ValueError):
        buf.take()  # already handed over
    with pytest.raises(BufferError):
        memoryview(buf)  # nothing to write into any more
    with pytest.raises(ValueError):
        buf.write(b"")


def test_a_view_that_outlives_take_keeps_the_memory_alive(speedups: ModuleType) -> None:
    buf = speedups.PayloadBuffer(3, b"\x00\x00\x00\x00")
    view = memoryview(buf)
    view[:] = b"abc"
    buf.advance(3)
    got = buf.take()
    del got, buf  # the view still points into the bytes; it must not dangle
    assert bytes(view) == b"abc"
    view.release()


def test_making_a_payload_buffer_touches_none_of_its_memory(speedups: ModuleType) -> None:
    """A peer that declares a 16 MiB frame and sends a few bytes must not make 16 MiB resident."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buf = speedups.PayloadBuffer(16 * 1024 * 1024, b"abcd")
    buf.write(b"x" * 100)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 64, faults  # a zero-filled 16 MiB buffer would fault in 4096 pages
    del buf
