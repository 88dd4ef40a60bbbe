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
