"""Backpressure (drain, the hard write-buffer limit), broadcast encoded once, and the chat example."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, broadcast, collect
from livews.live.loader import load_file
from tests.server.support import eventually, serving, url
from tests.server.units import UNIT

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


class Quiet(Handler):
    closed: list[int] = []

    def on_close(self, code: int, reason: str) -> None:
        Quiet.closed.append(code)


def handshake(port: int, rcvbuf: int | None = None) -> socket.socket:
    """A raw client that completes the handshake and reads nothing until the test says so."""
    sock = socket.create_connection(("127.0.0.1", port))
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.sendall(
        b"GET /q HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return sock


async def test_drain_waits_while_the_client_does_not_read_and_resumes_when_it_does() -> None:
    async with serving(Resource("/q", Quiet), write_limit=16 * 1024) as server:
        sock = handshake(server.port)
        await eventually(lambda: len(server.clients("/q")) == 1)
        client = server.clients("/q")[0]
        chunk = b"x" * 65536
        sent = 0
        while client._session.transport.get_write_buffer_size() < 16 * 1024:
            client.send_binary(chunk)
            sent += 1
            assert sent < 2000
        drain = asyncio.ensure_future(client.drain())
        await asyncio.sleep(UNIT)
        assert not drain.done()  # the buffer is over the high-water mark: drain waits
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        total = sent * (len(chunk) + 10) + 129
        received = 0
        while not drain.done():
            received += len(await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 5))
            assert received <= total
        await drain
        sock.close()


async def test_client_over_the_hard_write_limit_is_closed_with_1008_and_others_are_unaffected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "livews.server")
    Quiet.closed.clear()
    async with serving(Resource("/q", Quiet), max_write_buffer=256 * 1024) as server:
        sock = handshake(server.port, rcvbuf=4096)
        async with connect(url(server, "/q"), max_size=None) as healthy:
            await eventually(lambda: len(server.clients("/q")) == 2)
            stuck = next(c for c in server.clients("/q") if c.port == sock.getsockname()[1])
            for _ in range(100):
                stuck.send_binary(b"y" * 65536)
                if not stuck.open:
                    break
            assert not stuck.open
            await eventually(lambda: 1008 in Quiet.closed)
            other = next(c for c in server.clients("/q") if c is not stuck)
            other.send_text("fine")
            assert await healthy.recv() == "fine"
        sock.close()
    assert "1008" in caplog.text


class _RecordingTransport:
    """A real transport that also keeps every object written to it (uvloop's cannot be patched)."""

    def __init__(self, transport: asyncio.Transport, written: list[bytes]) -> None:
        self._transport = transport
        self._written = written

    def write(self, data: bytes) -> None:
        self._written.append(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def test_broadcast_reaches_every_open_client_with_the_same_bytes() -> None:
    async with serving(Resource("/b", Quiet)) as server:
        sockets = [await connect(url(server, "/b"), compression=None) for _ in range(5)]
        await eventually(lambda: len(server.clients("/b")) == 5)
        frames: list[bytes] = []
        for client in server.clients("/b"):
            assert client._session.transport is not None
            client._session.transport = _RecordingTransport(client._session.transport, frames)  # type: ignore[assignment]
        assert broadcast(server.clients("/b"), "to all") == 5
        assert len({id(f) for f in frames}) == 1  # encoded once, the same object written to all
        for ws in sockets:
            assert await ws.recv() == "to all"
            await ws.close()


async def test_broadcast_skips_closed_clients() -> None:
    async with serving(Resource("/b", Quiet)) as server:
        a = await connect(url(server, "/b"))
        b = await connect(url(server, "/b"))
        await eventually(lambda: len(server.clients("/b")) == 2)
        clients = server.clients("/b")
        await a.close()
        await eventually(lambda: len(server.clients("/b")) == 1)
        assert broadcast(clients, b"bin") == 1
        assert await b.recv() == b"bin"
        await b.close()


async def test_chat_announces_joins_relays_messages_and_announces_leaves() -> None:
    resources = load_file(HANDLERS / "chat.py", collect).resources
    async with serving(*resources) as server:
        async with connect(url(server, "/chat?name=ann")) as ann:
            async with connect(url(server, "/chat?name=bob")) as bob:
                assert await ann.recv() == "* bob joined"
                await bob.send("hi ann")
                assert await ann.recv() == "bob: hi ann"
                await ann.send("hi bob")
                assert await bob.recv() == "ann: hi bob"
            assert await ann.recv() == "* bob left"


async def test_echo_handler_file_serves_echo_with_large_limits() -> None:
    (echo,) = load_file(HANDLERS / "echo.py", collect).resources
    assert echo.path == "/echo"
    assert echo.max_message_size == 64 * 1024 * 1024 and echo.max_frame_count == 100_000
    async with serving(echo) as server, connect(url(server, "/echo"), max_size=None) as ws:
        await ws.send(["part"] * 1000)
        assert await ws.recv() == "part" * 1000
