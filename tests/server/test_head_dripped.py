"""The server reads a handshake head in whatever pieces TCP delivers, at a cost linear in its size."""

from __future__ import annotations

import asyncio
import socket

import pytest

from livews import Handler, Resource
from livews.engine import handshake
from tests.server.support import serving

HEAD = (
    b"GET /drip HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 50) for i in range(40))
    + b"\r\n"
)


class Quiet(Handler):
    pass


async def drip(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        if i % 16 == 0:
            await asyncio.sleep(0)  # let the server read: many reads of a few bytes each
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    return response


async def test_a_head_dripped_one_byte_at_a_time_is_accepted_and_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses = []
    real = handshake._parse_head
    monkeypatch.setattr(handshake, "_parse_head", lambda *args: parses.append(1) or real(*args))
    async with serving(Resource("/drip", Quiet)) as server:
        response = await drip(server.port, HEAD)
    assert response.startswith(b"HTTP/1.1 101 ")
    assert len(parses) == 1


async def test_a_head_over_max_head_size_is_refused_with_431_before_its_end() -> None:
    async with serving(Resource("/drip", Quiet)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEAD[:-2] + b"".join(b"X-More-%d: %s\r\n" % (i, b"m" * 1000) for i in range(20)))
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert response.startswith(b"HTTP/1.1 431 ")
