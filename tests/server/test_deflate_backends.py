"""Every DEFLATE backend end to end: the ``websockets`` client's compressed messages echo intact through a
server that inflates and deflates with it, chosen per server (``deflate_backend``) or per resource
(``DeflateConfig(backend=...)``), and the compressed-input budget closes a raw client with 1009 on each."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import zlib

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource
from livews.engine.deflate import DeflateConfig
from livews.engine.zlib_backends import BACKEND_NAMES
from tests.server.support import eventually, serving, url
from tests.server.units import T
from tests.wire import client_frame, server_frames

pytestmark = pytest.mark.parametrize("backend", BACKEND_NAMES)


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


def _messages() -> list[str | bytes]:
    docs = [
        json.dumps({"id": i, "items": [{"n": j, "name": f"item-{j}"} for j in range(i * 7)]})
        for i in range(40)
    ]
    return [*docs, "", "x", "é" * 5000, os.urandom(20_000), bytes(300_000), "a" * 2_000_000]


async def _echo_all(address: str) -> None:
    async with connect(address, compression="deflate", max_size=None) as ws:
        assert ws.protocol.extensions, "permessage-deflate was not agreed"
        for message in _messages():
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), T) == message


async def test_messages_echo_intact_with_the_servers_deflate_backend(backend: str) -> None:
    async with serving(Resource("/echo", Echo), deflate_backend=backend) as server:
        await _echo_all(url(server, "/echo"))


async def test_the_server_option_reaches_resources_with_default_compression_only(backend: str) -> None:
    own = DeflateConfig(backend="zlib", level=1)
    async with serving(
        Resource("/default", Echo), Resource("/own", Echo, compression=own), deflate_backend=backend
    ) as server:
        async with connect(url(server, "/default")), connect(url(server, "/own")):
            await eventually(lambda: len(server.clients()) == 2)
            (default,) = server.clients("/default")
            (mine,) = server.clients("/own")
            assert default._session.conn.deflate.backend == backend
            assert mine._session.conn.deflate.backend == "zlib"


async def test_messages_echo_intact_with_a_resources_deflate_backend(backend: str) -> None:
    level = 1  # within every backend's range (isal: 0..3)
    config = DeflateConfig(backend=backend, level=level, server_max_window_bits=9, client_max_window_bits=10)
    async with serving(Resource("/echo", Echo, compression=config)) as server:
        await _echo_all(url(server, "/echo"))


async def test_empty_final_blocks_past_the_compressed_budget_close_with_1009(backend: str) -> None:
    # 03 00 is an empty final DEFLATE block: it inflates to nothing but costs STREAM_COST of the budget.
    async with serving(Resource("/echo", Echo, max_message_size=1000), deflate_backend=backend) as server:
        loop = asyncio.get_running_loop()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setblocking(False)
        request = (
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        await loop.sock_sendall(sock, request)
        head = b""
        while b"\r\n\r\n" not in head:
            head += await asyncio.wait_for(loop.sock_recv(sock, 4096), T)
        assert b"permessage-deflate" in head
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        fine = (compressor.compress(b"fine" * 10) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        await loop.sock_sendall(sock, client_frame(0x1, fine, rsv=4))
        await loop.sock_sendall(sock, client_frame(0x1, bytes.fromhex("0300") * 20, rsv=4))
        received = head.split(b"\r\n\r\n", 1)[1]
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), T)
            if not chunk:
                break
            received += chunk
        sock.close()
        frames = server_frames(received)
        first, opcode, payload = frames[0]
        assert opcode == 0x1 and first & 0x40  # compressed (RSV1) by the backend under test
        assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == b"fine" * 10
        assert frames[-1][1] == 0x8 and int.from_bytes(frames[-1][2][:2], "big") == 1009
