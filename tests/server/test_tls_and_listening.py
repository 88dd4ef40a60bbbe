"""Listening: wss:// with an ``ssl.SSLContext``, the sockets and URLs a server reports, SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, Server
from tests.server.support import serving
from tests.server.units import T


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=T,
    )  # fmt: skip
    return cert, key


async def test_wss_with_an_ssl_context_echoes_text_and_large_binary(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    payload = bytes(range(256)) * 4096  # 1 MiB: many TLS records, backpressure through the SSL transport
    async with serving(Resource("/echo", Echo), ssl=server_ctx) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        async with connect(f"{server.url}/echo", ssl=client_ctx, max_size=None) as ws:
            await ws.send("secret")
            assert await ws.recv() == "secret"
            await ws.send(payload)
            assert await ws.recv() == payload
            (client,) = server.clients("/echo")
            assert client.messages_in == 2 and client.messages_out == 2


async def test_the_server_reports_its_sockets_port_and_urls() -> None:
    server = Server([Resource("/a", Echo), Resource("/b", Echo)], port=0, ping_interval=None)
    assert server.sockets == ()
    await server.start()
    try:
        (sock,) = server.sockets
        assert sock.getsockname()[1] == server.port != 0
        assert server.urls == [f"ws://127.0.0.1:{server.port}/a", f"ws://127.0.0.1:{server.port}/b"]
    finally:
        await server.close(timeout=T)
    assert server.sockets == ()


async def test_two_servers_share_a_port_with_reuse_port() -> None:
    first = await Server([Resource("/a", Echo)], port=0, reuse_port=True, ping_interval=None).start()
    second: Server | None = None
    try:
        with pytest.raises(OSError):  # without the option the port is taken
            await Server([Resource("/a", Echo)], port=first.port, ping_interval=None).start()
        second = await Server(
            [Resource("/a", Echo)], port=first.port, reuse_port=True, ping_interval=None
        ).start()
        assert second.port == first.port
        await first.close(timeout=T)
        async with connect(f"ws://127.0.0.1:{second.port}/a") as ws:  # the second server still listens
            await ws.send("shared")
            assert await asyncio.wait_for(ws.recv(), T) == "shared"
    finally:
        await first.close(timeout=T)
        if second is not None:
            await second.close(timeout=T)


async def test_serve_forever_returns_once_the_server_is_closed() -> None:
    server = await Server([Resource("/a", Echo)], port=0, ping_interval=None).start()
    forever = asyncio.ensure_future(server.serve_forever())
    async with connect(f"{server.url}/a") as ws:
        await server.close(timeout=T)
        await asyncio.wait_for(forever, T)  # returns, does not raise CancelledError
        await asyncio.wait_for(ws.wait_closed(), T)
        assert ws.close_code == 1001


async def test_cancelling_serve_forever_closes_every_client_with_1001() -> None:
    """``livews.server.serve`` is ``Server(...).serve_forever()``: cancelling it is a graceful shutdown."""
    server = await Server([Resource("/a", Echo)], port=0, ping_interval=None).start()
    task = asyncio.ensure_future(server.serve_forever())
    async with connect(f"{server.url}/a") as ws:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, T)
        await asyncio.wait_for(ws.wait_closed(), T)
        assert ws.close_code == 1001
    assert server.sockets == ()
