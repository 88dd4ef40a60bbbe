"""Handler lifecycle: ordering, async methods, errors isolated with 1011, closing from both sides, pings."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from livews import Handler, Resource
from tests.server.support import eventually, serving, url
from tests.server.units import UNIT

log: list[tuple[str, object]] = []


class Recorder(Handler):
    def on_open(self) -> None:
        log.append(("open", self.client.path))

    def on_text(self, message: str) -> None:
        if message == "boom":
            raise RuntimeError("handler bug")
        if message.startswith("close:"):
            code, _, reason = message[6:].partition(":")
            self.close(int(code), reason)
            return
        log.append(("text", message))
        self.send_text(message)

    def on_pong(self, payload: bytes) -> None:
        log.append(("pong", payload))

    def on_close(self, code: int, reason: str) -> None:
        log.append(("close", (code, reason)))


class SlowAsync(Handler):
    async def on_text(self, message: str) -> None:
        await asyncio.sleep(UNIT / 5 if message == "first" else 0)  # the first answer comes last
        self.send_text(message)


@pytest.fixture(autouse=True)
def clear_log() -> None:
    log.clear()


async def test_async_handler_methods_see_events_in_order() -> None:
    async with serving(Resource("/s", SlowAsync)) as server, connect(url(server, "/s")) as ws:
        for word in ["first", "second", "third"]:
            await ws.send(word)
        assert [await ws.recv() for _ in range(3)] == ["first", "second", "third"]


async def test_handler_exception_closes_that_client_with_1011_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "livews.server")
    async with serving(Resource("/r", Recorder)) as server:
        async with connect(url(server, "/r")) as bystander, connect(url(server, "/r")) as victim:
            await victim.send("boom")
            with pytest.raises(ConnectionClosed) as info:
                await victim.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1011
            assert "handler bug" not in info.value.rcvd.reason  # no internals on the wire
            await bystander.send("still here")
            assert await bystander.recv() == "still here"
        assert "RuntimeError: handler bug" in caplog.text
        assert server.handler_errors == 1
    assert ("close", (1011, "internal error")) in log


async def test_server_close_sends_code_and_reason_and_reports_on_close_once() -> None:
    async with serving(Resource("/r", Recorder)) as server, connect(url(server, "/r")) as ws:
        await ws.send("close:4000:bye now")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "bye now")
    await eventually(lambda: any(e[0] == "close" for e in log))
    assert [e for e in log if e[0] == "close"] == [("close", (4000, "bye now"))]  # the peer echoed both


async def test_client_close_code_and_reason_reach_on_close() -> None:
    async with serving(Resource("/r", Recorder)) as server:
        async with connect(url(server, "/r")) as ws:
            await ws.close(3001, "client leaving")
        await eventually(lambda: ("close", (3001, "client leaving")) in log)


async def test_client_vanishing_reports_1006() -> None:
    async with serving(Resource("/r", Recorder)) as server:
        ws = await connect(url(server, "/r"))
        await eventually(lambda: len(server.clients()) == 1)
        ws.transport.abort()
        await eventually(lambda: ("close", (1006, "")) in log)


async def test_close_with_a_reason_over_123_bytes_raises_value_error() -> None:
    async with serving(Resource("/r", Recorder)) as server, connect(url(server, "/r")):
        await eventually(lambda: len(server.clients()) == 1)
        (client,) = server.clients()
        with pytest.raises(ValueError, match="123"):
            client.close(1000, "x" * 124)
        with pytest.raises(ValueError, match="close code"):
            client.close(1005)


async def test_server_ping_is_answered_and_the_pong_reaches_on_pong() -> None:
    async with serving(Resource("/r", Recorder)) as server, connect(url(server, "/r")):
        await eventually(lambda: len(server.clients()) == 1)
        server.clients()[0].ping(b"are you there")
        await eventually(lambda: ("pong", b"are you there") in log)


async def test_keepalive_measures_latency() -> None:
    async with (
        serving(Resource("/r", Recorder), ping_interval=0.05, ping_timeout=2) as server,
        connect(url(server, "/r")),
    ):
        await eventually(lambda: len(server.clients()) == 1)
        client = server.clients()[0]
        await eventually(lambda: client.latency is not None)
        assert 0 <= client.latency < 2  # type: ignore[operator]


async def test_keepalive_closes_a_client_that_never_answers_pings_with_1011() -> None:
    async with serving(Resource("/r", Recorder), ping_interval=0.05, ping_timeout=0.1) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /r HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 5)  # read until the server closes
        assert b"\x88" in data and b"\x03\xf3" in data  # a close frame with 1011
        writer.close()
    assert ("close", (1011, "keepalive ping timeout")) in log


async def test_graceful_shutdown_closes_every_client_with_1001() -> None:
    server_cm = serving(Resource("/r", Recorder))
    server = await server_cm.__aenter__()
    clients = [await connect(url(server, "/r")) for _ in range(3)]
    await eventually(lambda: len(server.clients()) == 3)
    await asyncio.wait_for(server.close(timeout=2), 5)
    for ws in clients:
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1001
    await server_cm.__aexit__(None, None, None)
    assert [e[1][0] for e in log if e[0] == "close"] == [1001, 1001, 1001]  # type: ignore[index]
