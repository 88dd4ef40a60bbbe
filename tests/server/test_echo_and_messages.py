"""Messages end to end with the real ``websockets`` client: echo, sizes, fragmentation, facts, counters."""

from __future__ import annotations

import asyncio
import platform
import random
import socket

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource
from livews.engine import Connection, masking
from livews.server.protocol import DirectReadProtocol
from tests.server.support import eventually, serving, url
from tests.wire import MASK, server_frames


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


class Fragmenting(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message, frame_size=3)


class Facts(Handler):
    def on_open(self) -> None:
        c = self.client
        self.send_text(
            f"{c.host}|{c.path}|{c.query_string}|{c.query_params}|{c.headers.get('X-Test')}|{c.version}"
        )


async def test_text_and_binary_messages_are_echoed() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"


async def test_a_large_message_is_echoed_whole() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    async with (
        serving(Resource("/echo", Echo)) as server,
        connect(url(server, "/echo"), max_size=None, compression=None) as ws,
    ):
        await ws.send(payload)
        assert await ws.recv() == payload


@pytest.mark.parametrize("tune_allocator", [True, False])
async def test_large_frames_are_echoed_intact_read_straight_into_their_messages_when_memory_is_reused(
    monkeypatch: pytest.MonkeyPatch, tune_allocator: bool
) -> None:
    """With freed memory kept for reuse and the accelerator, a large payload is read into its message."""
    reads: list[int] = []
    updated = Connection.receive_buffer_updated

    def counting(self: Connection, nbytes: int) -> None:
        reads.append(nbytes)
        updated(self, nbytes)

    monkeypatch.setattr(Connection, "receive_buffer_updated", counting)
    rng = random.Random(5)
    whole = rng.randbytes(3 * 1024 * 1024 + 5)
    parts = [rng.randbytes(200_000), rng.randbytes(100), rng.randbytes(70_000)]
    async with (
        serving(Resource("/echo", Echo), tune_allocator=tune_allocator) as server,
        connect(url(server, "/echo"), max_size=None, compression=None) as ws,
    ):
        await ws.send(whole)
        await ws.send(parts)  # one message in three frames
        await ws.ping(b"between")
        await ws.send("text after")
        assert await ws.recv() == whole
        assert await ws.recv() == b"".join(parts)
        assert await ws.recv() == "text after"
        direct = isinstance(server.clients()[0]._session, DirectReadProtocol)
    assert direct == (tune_allocator and platform.libc_ver()[0] == "glibc")
    if direct and masking.PayloadBuffer is not None:
        assert sum(reads) > 2 * 1024 * 1024  # most of the big payload skipped the read buffer
    else:
        assert reads == []


async def test_a_fragmented_client_message_is_reassembled() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"


async def test_send_with_frame_size_arrives_whole_to_the_client() -> None:
    async with serving(Resource("/f", Fragmenting)) as server, connect(url(server, "/f")) as ws:
        await ws.send("abcdefgh")
        assert await ws.recv() == "abcdefgh"


async def test_send_with_frame_size_is_several_frames_on_the_wire() -> None:
    async with serving(Resource("/f", Fragmenting)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /f HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await reader.readuntil(b"\r\n\r\n")
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(b"abcdefgh"))
        writer.write(bytes((0x81, 0x88)) + MASK + masked)
        data = b""
        while len(data) < 3 * 2 + 8:
            data += await reader.read(100)
        assert server_frames(data) == [(0x01, 0x1, b"abc"), (0x00, 0x0, b"def"), (0x80, 0x0, b"gh")]
        writer.close()


async def test_client_facts_are_available_to_the_handler() -> None:
    async with (
        serving(Resource("/facts", Facts)) as server,
        connect(url(server, "/facts?name=ann&x=1&x=2"), additional_headers={"X-Test": "yes"}) as ws,
    ):
        assert await ws.recv() == "127.0.0.1|/facts|name=ann&x=1&x=2|{'name': 'ann', 'x': '1'}|yes|13"


async def test_counters_count_messages_and_bytes_both_ways() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        for _ in range(3):
            await ws.send("12345")
            await ws.recv()
        (client,) = server.clients("/echo")
        assert client.messages_in == 3 and client.messages_out == 3
        assert client.bytes_in >= 3 * (6 + 5) and client.bytes_out == 3 * (2 + 5)


async def test_clients_are_listed_per_path_and_forgotten_when_gone() -> None:
    async with serving(Resource("/a", Echo), Resource("/b", Echo)) as server:
        async with connect(url(server, "/a")), connect(url(server, "/a")), connect(url(server, "/b")):
            await eventually(lambda: len(server.clients()) == 3)
            assert len(server.clients("/a")) == 2 and len(server.clients("/b")) == 1
        await eventually(lambda: server.clients() == [])


async def test_raw_socket_frames_split_across_reads_are_handled() -> None:
    async with serving(Resource("/echo", Echo)) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        request = (
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(b"split"))
        data = request + bytes((0x81, 0x85)) + MASK + masked
        for i in range(len(data)):
            await loop.sock_sendall(sock, data[i : i + 1])
        received = b""
        while not received.endswith(b"split"):
            received += await asyncio.wait_for(loop.sock_recv(sock, 1000), 5)
        assert received.endswith(b"\x81\x05split")
        sock.close()
