"""The fast unmasking path must equal the textbook byte-by-byte XOR at every length and key offset."""

from __future__ import annotations

import os

import pytest

from livews.engine import masking


def naive(data: bytes, mask: bytes, offset: int) -> bytes:
    return bytes(b ^ mask[(i + offset) % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 1000, 4097])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4, 5, 1001])
def test_apply_mask_equals_the_byte_by_byte_definition(n: int, offset: int) -> None:
    data = os.urandom(n)
    mask = os.urandom(4)
    assert masking.apply_mask(data, mask, offset) == naive(data, mask, offset)
    assert masking._apply_mask_py(data, mask, offset) == naive(data, mask, offset)


def test_unmasking_a_payload_in_chunks_equals_unmasking_it_whole() -> None:
    data = os.urandom(10_000)
    mask = os.urandom(4)
    pos = 0
    out = b""
    for size in [1, 3, 7, 100, 4093, 5796]:
        out += masking.apply_mask(data[pos : pos + size], mask, pos)
        pos += size
    assert out == masking.apply_mask(data, mask)


def test_apply_mask_accepts_memoryview_and_bytearray() -> None:
    mask = b"\x01\x02\x03\x04"
    assert masking.apply_mask(memoryview(b"\x00" * 4), mask) == mask
    assert masking.apply_mask(bytearray(4), mask) == mask


@pytest.mark.parametrize("sizes", [[0], [1, 2, 3], [5, 70_000, 0, 99], [64] * 9, [3, 61, 4093, 8, 1]])
def test_unmask_chunks_equals_unmasking_the_concatenation(sizes: list[int]) -> None:
    data = os.urandom(sum(sizes))
    mask = os.urandom(4)
    view = memoryview(data)
    chunks, pos = [], 0
    for size in sizes:
        chunks.append(view[pos : pos + size])
        pos += size
    expected = naive(data, mask, 0)
    assert masking.unmask_chunks(chunks, mask) == expected
    assert masking._unmask_chunks_py(chunks, mask) == expected


def test_unmask_chunks_rejects_a_mask_that_is_not_4_bytes() -> None:
    with pytest.raises(ValueError):
        masking.unmask_chunks([b"abc"], b"\x01\x02\x03")
