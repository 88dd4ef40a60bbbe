"""The bench's load generator counts what a real server stream holds, on its fast path as on its careful one.

``bench/loadgen.py`` counts a whole unfragmented data message inside one read without a call per frame;
every other frame (fragments, control frames, messages it keeps, payloads split over reads) goes through
``_frame_start``/``_frame_done``. A client that keeps every message takes the careful path for all of them,
so two clients reading the same stream from a real socket must agree, and agree with what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from loadgen import OP_TEXT, Client, client_frame, open_client

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _frame(b0: int, payload: bytes) -> bytes:
    """A server frame (unmasked, RFC 6455 §5.2) with the given first byte."""
    n = len(payload)
    if n < 126:
        head = bytes((b0, n))
    elif n < 1 << 16:
        head = bytes((b0, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 127)) + n.to_bytes(8, "big")
    return head + payload


def _stream(seed: int) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Messages of every length class, some in three fragments with a ping between, some with RSV1 set."""
    rng = random.Random(seed)
    sizes = [0, 1, 64, 125, 126, 127, 1000, 65535, 65536, 70000]
    sizes += [rng.randrange(0, 3000) for _ in range(200)]
    rng.shuffle(sizes)
    out = bytearray()
    sent: list[tuple[int, bytes]] = []
    for size in sizes:
        opcode = rng.choice((1, 2))
        payload = rng.randbytes(size) if opcode == 2 else b"t" * size
        rsv1 = 0x40 if rng.random() < 0.2 else 0
        sent.append((opcode, payload))
        if size > 2 and rng.random() < 0.3:
            cut = sorted(rng.sample(range(1, size), 2))
            parts = [payload[: cut[0]], payload[cut[0] : cut[1]], payload[cut[1] :]]
            out += _frame(rsv1 | opcode, parts[0])
            out += _frame(0x89, b"ping")
            out += _frame(0x00, parts[1])
            out += _frame(0x80, parts[2])
        else:
            out += _frame(0x80 | rsv1 | opcode, payload)
    return bytes(out), sent


async def _serve(stream: bytes, seed: int) -> asyncio.Server:
    """A raw server: answers the opening handshake and, once the client sends a frame, writes ``stream``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await reader.readexactly(7)  # the client's go: a masked 1-byte frame, sent once it is set up
        rng = random.Random(seed)
        pos = 0
        while pos < len(stream):
            step = rng.choice((1, 2, 3, 7, 100, 1500, 9000))
            writer.write(stream[pos : pos + step])
            pos += step
            await writer.drain()
            if rng.random() < 0.3:
                await asyncio.sleep(0.001)
        try:
            await reader.read()  # the client's pongs; until it goes
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _read_all(stream: bytes, seed: int, keep: int, count: int) -> Client:
    server = await _serve(stream, seed)
    port = server.sockets[0].getsockname()[1]
    client = await open_client("127.0.0.1", port, "/", read_size=1024)
    client.keep = keep
    client.write(client_frame(OP_TEXT, b"g"))
    try:
        async with asyncio.timeout(30):
            while client.messages < count and not client.closed.done():
                await asyncio.sleep(0.005)
    finally:
        client.abort()
        server.close()
    return client


@pytest.mark.parametrize("seed", range(4))
async def test_generator_counts_every_message_of_a_stream_split_anywhere(seed: int) -> None:
    stream, sent = _stream(seed)
    fast = await _read_all(stream, seed, keep=0, count=len(sent))
    careful = await _read_all(stream, seed + 100, keep=10**9, count=len(sent))
    total = sum(len(payload) for _, payload in sent)
    for client in (fast, careful):
        assert client.messages == len(sent)
        assert client.tally.messages == len(sent)
        assert client.tally.payload_bytes == total
    assert [(k.opcode, k.payload) for k in careful.kept] == sent
    assert fast.kept == []


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        (_frame(0x80, b"late"), "continuation outside a fragmented message"),
        (_frame(0x01, b"a") + _frame(0x81, b"b"), "new data frame inside a fragmented message"),
        (_frame(0x09, b"p"), "fragmented control frame"),
    ],
)
async def test_generator_drops_a_server_that_breaks_fragmentation(frames: bytes, why: str) -> None:
    client = await _read_all(frames + _frame(0x81, b"after"), 0, keep=0, count=10**9)
    assert client.closed.done(), why
    assert client.messages == 0
