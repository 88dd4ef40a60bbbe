"""The legacy hixie-76 switch end to end: a raw asyncio client speaking draft-76 against a real server on
127.0.0.1, next to RFC 6455 clients, with the same Handler API."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import websockets

from livews import Handler, Resource, Server, origin_exact
from tests.hixie76_wire import ClientKeys, closing_frame, make_keys, opening_handshake, text_frame

#: Upper bound on any single wait in these tests; nothing sleeps, this only keeps a broken run from hanging.
TIMEOUT = 5.0
ROOT = Path(__file__).resolve().parents[2]


class Echo(Handler):
    """Says which protocol version the client speaks, echoes text, and tries binary on request."""

    closes: asyncio.Queue[tuple[int, str]]

    def on_open(self) -> None:
        self.send_text(f"version {self.client.version}")

    def on_text(self, message: str) -> None:
        if message == "binary please":
            try:
                self.send_binary(b"\x00\x01")
            except TypeError as exc:
                self.send_text(f"TypeError: {exc}")
        else:
            self.send_text(message)

    def on_close(self, code: int, reason: str) -> None:
        type(self).closes.put_nowait((code, reason))


class HixieClient:
    """The client side of draft-76 over a real socket: handshake, text frames, closing handshake."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.response = response

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str = "/",
        *,
        keys: ClientKeys | None = None,
        origin: str | None = "http://example.com",
        protocol: str | None = None,
        early: bytes = b"",
    ) -> HixieClient:
        keys = keys or make_keys(port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        host = f"127.0.0.1:{port}"
        writer.write(opening_handshake(keys, path=path, host=host, origin=origin, protocol=protocol) + early)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        client = cls(reader, writer, head)
        if head.startswith(b"HTTP/1.1 101 "):
            body = await asyncio.wait_for(reader.readexactly(16), TIMEOUT)
            assert body == keys.expected, "wrong MD5 challenge response"
            client.response = head + body
        return client

    @property
    def status(self) -> int:
        return int(self.response.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        for line in self.response.split(b"\r\n")[1:]:
            key, _, value = line.partition(b": ")
            if key.decode().lower() == name.lower():
                return value.decode()
        return None

    def send(self, text: str) -> None:
        self.writer.write(text_frame(text))

    async def recv(self) -> str | None:
        """The next text message, or None for the server's closing frame."""
        first = await asyncio.wait_for(self.reader.readexactly(1), TIMEOUT)
        if first == b"\xff":
            assert await asyncio.wait_for(self.reader.readexactly(1), TIMEOUT) == b"\x00"
            return None
        assert first == b"\x00", f"unexpected frame type {first!r}"
        data = await asyncio.wait_for(self.reader.readuntil(b"\xff"), TIMEOUT)
        return data[:-1].decode("utf-8")

    async def at_eof(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), TIMEOUT) == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def server():
    Echo.closes = asyncio.Queue()
    resources = [
        Resource("/", Echo),
        Resource("/strict", Echo, origin=origin_exact("http://good.example")),
        Resource("/chat", Echo, subprotocols=["chat"]),
        Resource("/small", Echo, max_message_size=8),
    ]
    async with Server(resources, port=0, legacy_hixie76=True, ping_interval=None) as s:
        yield s


async def next_close() -> tuple[int, str]:
    return await asyncio.wait_for(Echo.closes.get(), TIMEOUT)


# ------------------------------------------------------------------------------------ switch on


async def test_hixie76_handshake_gets_the_draft_response(server: Server) -> None:
    client = await HixieClient.connect(server.port, "/?room=1")
    assert client.response.startswith(
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
    )
    assert client.header("Sec-WebSocket-Origin") == "http://example.com"
    assert client.header("Sec-WebSocket-Location") == f"ws://127.0.0.1:{server.port}/?room=1"
    client.close()


async def test_handler_sees_version_0_and_echoes_text(server: Server) -> None:
    client = await HixieClient.connect(server.port)
    assert await client.recv() == "version 0"
    client.send("héllo €")
    client.send("")
    assert await client.recv() == "héllo €"
    assert await client.recv() == ""
    client.close()


async def test_frames_sent_with_the_handshake_are_delivered(server: Server) -> None:
    client = await HixieClient.connect(server.port, early=text_frame("early"))
    assert await client.recv() == "version 0"
    assert await client.recv() == "early"
    client.close()


async def test_send_binary_to_a_hixie76_client_raises_type_error(server: Server) -> None:
    client = await HixieClient.connect(server.port)
    assert await client.recv() == "version 0"
    client.send("binary please")
    assert await client.recv() == "TypeError: hixie-76 clients cannot receive binary messages"
    client.send("still open")
    assert await client.recv() == "still open"
    client.close()


async def test_client_closing_handshake_is_answered_and_reported_as_1005(server: Server) -> None:
    client = await HixieClient.connect(server.port)
    assert await client.recv() == "version 0"
    client.writer.write(closing_frame())
    assert await client.recv() is None
    assert await client.at_eof()
    assert await next_close() == (1005, "")


async def test_server_shutdown_sends_the_closing_frame_and_reports_its_code(server: Server) -> None:
    client = await HixieClient.connect(server.port)
    assert await client.recv() == "version 0"
    shutdown = asyncio.create_task(server.close())
    assert await client.recv() is None
    client.writer.write(closing_frame())
    assert await client.at_eof()
    await asyncio.wait_for(shutdown, TIMEOUT)
    assert await next_close() == (1001, "server shutting down")


async def test_invalid_utf8_closes_the_connection_with_1007(server: Server) -> None:
    client = await HixieClient.connect(server.port)
    assert await client.recv() == "version 0"
    client.writer.write(b"\x00\xc0\xaf\xff")
    assert await client.at_eof()
    assert (await next_close())[0] == 1007


async def test_resource_limits_apply_to_hixie76_text(server: Server) -> None:
    client = await HixieClient.connect(server.port, "/small")
    assert await client.recv() == "version 0"
    client.writer.write(b"\x00" + b"x" * 9)  # no end in sight: refused at the limit
    assert await client.at_eof()
    assert (await next_close())[0] == 1009


async def test_origin_policy_applies_to_hixie76_clients(server: Server) -> None:
    client = await HixieClient.connect(server.port, "/strict", origin="http://evil.example")
    assert client.status == 403
    client.close()


async def test_subprotocol_is_selected_and_echoed(server: Server) -> None:
    client = await HixieClient.connect(server.port, "/chat", protocol="chat")
    assert client.status == 101
    assert client.header("Sec-WebSocket-Protocol") == "chat"
    assert server.clients("/chat")[0].subprotocol == "chat"
    client.close()


async def test_invalid_key_is_refused_with_400(server: Server) -> None:
    keys = make_keys(1)
    keys.key1 = keys.key1.replace(" ", "")  # no spaces: refused by the draft
    client = await HixieClient.connect(server.port, keys=keys)
    assert client.status == 400
    client.close()


async def test_broadcast_reaches_both_protocols_and_skips_hixie76_for_binary(server: Server) -> None:
    hixie = await HixieClient.connect(server.port)
    assert await hixie.recv() == "version 0"
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/") as rfc:
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == "version 13"
        assert server.broadcast("to all") == 2
        assert server.broadcast(b"\x01\x02") == 1
        assert server.broadcast("uncompressed", compress=False) == 2
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == "to all"
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == b"\x01\x02"
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == "uncompressed"
        # The binary message never reached the hixie-76 client: its next frames are the two text messages.
        assert await hixie.recv() == "to all"
        assert await hixie.recv() == "uncompressed"
    hixie.close()


async def test_rfc6455_clients_are_unaffected_by_the_switch(server: Server) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/") as rfc:
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == "version 13"
        await rfc.send("plain")
        assert await asyncio.wait_for(rfc.recv(), TIMEOUT) == "plain"


async def test_keepalive_does_not_drop_hixie76_clients_that_cannot_pong() -> None:
    Echo.closes = asyncio.Queue()
    unit = 0.05
    async with Server(
        [Resource("/", Echo)], port=0, legacy_hixie76=True, ping_interval=unit, ping_timeout=2 * unit
    ) as server:
        hixie = await HixieClient.connect(server.port)
        assert await hixie.recv() == "version 0"
        # An RFC 6455 client that never answers pings: once keepalive has dropped it, a full ping timeout
        # has passed for the hixie-76 client too, which connected earlier.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(reader.read(), TIMEOUT)  # until the server closes it
        writer.close()
        assert await next_close() == (1011, "keepalive ping timeout")
        hixie.send("still here")
        assert await hixie.recv() == "still here"
        hixie.close()


# ------------------------------------------------------------------------------------ switch off


def test_switch_off_refuses_hixie76_with_426_and_never_imports_the_module() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from livews import Handler, Resource, Server
        from tests.hixie76_wire import make_keys, opening_handshake

        async def main():
            async with Server([Resource("/", Handler)], port=0, ping_interval=None) as server:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(opening_handshake(make_keys(), host="127.0.0.1"))
                response = await asyncio.wait_for(reader.read(), 5)
                writer.close()
            print(response.split(b"\\r\\n")[0].decode())
            print("livews.engine.hixie76" in sys.modules)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["HTTP/1.1 426 Upgrade Required", "False"]
