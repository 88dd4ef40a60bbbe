"""The server answers a handshake it refuses with the right HTTP status and a short reason."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from livews import Handler, Reject, Resource, origin_exact, origin_prefix
from tests.server.support import eventually, serving, url


class Quiet(Handler):
    pass


async def status_of(server_url: str, **kwargs: object) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server_url, **kwargs):  # type: ignore[arg-type]
            pass
    return info.value.response.status_code


async def raw_request(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return response


async def test_unknown_path_answers_404() -> None:
    async with serving(Resource("/here", Quiet)) as server:
        assert await status_of(url(server, "/elsewhere")) == 404


async def test_origin_not_allowed_answers_403() -> None:
    async with serving(Resource("/o", Quiet, origin=origin_exact("https://good.example"))) as server:
        assert await status_of(url(server, "/o"), origin="https://evil.example") == 403
        async with connect(url(server, "/o"), origin="https://good.example"):
            pass


async def test_origin_prefix_accepts_matching_origins_only() -> None:
    async with serving(Resource("/o", Quiet, origin=origin_prefix("https://app."))) as server:
        async with connect(url(server, "/o"), origin="https://app.example"):
            pass
        assert await status_of(url(server, "/o"), origin="https://other.example") == 403
        assert await status_of(url(server, "/o")) == 403  # no Origin header at all


async def test_client_over_max_clients_answers_503_and_a_freed_slot_is_reused() -> None:
    async with serving(Resource("/few", Quiet, max_clients=2)) as server:
        async with connect(url(server, "/few")), connect(url(server, "/few")):
            assert await status_of(url(server, "/few")) == 503
        await eventually(lambda: server.count("/few") == 0)
        async with connect(url(server, "/few")):
            pass


async def test_on_connect_may_reject_with_a_status() -> None:
    def only_named(request: object) -> None:
        if "name=" not in request.query_string:  # type: ignore[attr-defined]
            raise Reject("a name is required", status=401)

    async with serving(Resource("/named", Quiet, on_connect=only_named)) as server:
        assert await status_of(url(server, "/named")) == 401
        async with connect(url(server, "/named?name=ann")):
            pass


async def test_on_connect_returning_false_answers_403() -> None:
    async with serving(Resource("/no", Quiet, on_connect=lambda request: False)) as server:
        assert await status_of(url(server, "/no")) == 403


async def test_unsupported_version_answers_426_with_the_supported_versions() -> None:
    async with serving(Resource("/v", Quiet)) as server:
        response = await raw_request(
            server.port,
            b"GET /v HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
        )
        assert response.startswith(b"HTTP/1.1 426 ")
        assert b"\r\nSec-WebSocket-Version: 13, 8, 7\r\n" in response


async def test_plain_http_get_is_told_to_upgrade() -> None:
    async with serving(Resource("/v", Quiet)) as server:
        response = await raw_request(server.port, b"GET /v HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 426 ")
        assert b"WebSocket" in response


async def test_malformed_request_answers_400() -> None:
    async with serving(Resource("/v", Quiet)) as server:
        response = await raw_request(server.port, b"GARBAGE\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("version", [b"8", b"7"])
async def test_hybi_draft_versions_are_accepted(version: bytes) -> None:
    async with serving(Resource("/v", Quiet, origin=origin_exact("http://o"))) as server:
        response = await raw_request(
            server.port,
            b"GET /v HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Origin: http://o\r\n"
            b"Sec-WebSocket-Version: " + version + b"\r\n\r\n" + bytes((0x88, 0x80)) + b"mask",
        )
        assert response.startswith(b"HTTP/1.1 101 ")
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in response


async def test_handshake_that_never_completes_is_dropped_after_the_timeout() -> None:
    async with serving(Resource("/v", Quiet), handshake_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /v HTTP/1.1\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_every_stalled_handshake_times_out_and_a_completed_one_stays_open() -> None:
    """One timer serves every handshake in progress: those that stall are each dropped, whether they came
    before or after a completed one, while the timer was armed or after it had nothing left to watch."""

    async def stalled() -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /v HTTP/1.1\r\n")
        await writer.drain()
        writers.append(writer)
        return reader

    writers: list[asyncio.StreamWriter] = []
    async with serving(Resource("/v", Quiet), handshake_timeout=0.2, ping_interval=None) as server:
        first = await stalled()
        async with connect(url(server, "/v")) as ws:
            second = await stalled()
            assert await asyncio.wait_for(first.read(), 5) == b""
            assert await asyncio.wait_for(second.read(), 5) == b""
            third = await stalled()  # the deadlines are all gone: the timer starts again
            assert await asyncio.wait_for(third.read(), 5) == b""
            await asyncio.wait_for(await ws.ping(), 5)  # the completed one was never subject to the timeout
            assert len(server.clients("/v")) == 1
        for writer in writers:
            writer.close()


async def test_subprotocol_is_chosen_in_the_servers_order() -> None:
    async with serving(Resource("/p", Quiet, subprotocols=["v2.chat", "v1.chat"])) as server:
        async with connect(url(server, "/p"), subprotocols=["v1.chat", "v2.chat"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "v2.chat"
            (client,) = server.clients("/p")
            assert client.subprotocol == "v2.chat"
        async with connect(url(server, "/p")) as ws:
            assert ws.subprotocol is None
