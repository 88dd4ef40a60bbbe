"""``livews.testing.connect`` against a real server started by the ``livews_server`` fixture."""

from __future__ import annotations

import json

import pytest

from livews import Handler, Reject, Resource, resource
from livews.testing import Closed, HandshakeRefused, connect


@resource("/echo")
class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


class Quiet(Handler):
    """Answers "ping" only, and closes with 4001 on "bye"."""

    def on_text(self, message: str) -> None:
        if message == "ping":
            self.send_text("pong")
        elif message == "bye":
            self.close(4001, "asked to leave")


class Facts(Handler):
    def on_open(self) -> None:
        facts = {"subprotocol": self.client.subprotocol, "token": self.client.headers.get("X-Token")}
        self.send_text(json.dumps(facts))


async def test_marked_handler_class_is_served_at_its_own_path(livews_server) -> None:
    server = await livews_server(Echo)
    async with connect(server, "/echo") as ws:
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"
        await ws.send_binary(b"\x00\x01")
        assert await ws.receive_bytes() == b"\x00\x01"


async def test_send_json_and_receive_json_round_trip(livews_server) -> None:
    server = await livews_server(Echo, path="/json")
    async with connect(server, "/json") as ws:
        await ws.send_json({"a": [1, 2]})
        assert await ws.receive_json() == {"a": [1, 2]}


async def test_receive_text_of_a_binary_message_fails_the_test(livews_server) -> None:
    server = await livews_server(Echo)
    async with connect(server, "/echo") as ws:
        await ws.send_binary(b"raw")
        with pytest.raises(AssertionError, match="expected a text message"):
            await ws.receive_text()


async def test_receive_nothing_passes_when_quiet_and_fails_on_a_message(livews_server) -> None:
    server = await livews_server(Quiet, path="/quiet")
    async with connect(server, "/quiet") as ws:
        await ws.send_text("hello")
        await ws.send_text("ping")
        assert await ws.receive_text() == "pong"  # in order: "hello" had its chance to answer first
        await ws.receive_nothing(timeout=0.05)
        await ws.send_text("ping")
        with pytest.raises(AssertionError, match="pong"):
            await ws.receive_nothing(timeout=5)


async def test_receive_with_nothing_coming_raises_timeout_error(livews_server) -> None:
    server = await livews_server(Quiet, path="/quiet")
    async with connect(server, "/quiet") as ws:
        with pytest.raises(TimeoutError):
            await ws.receive_text(timeout=0.05)


async def test_server_close_code_and_reason_reach_the_test(livews_server) -> None:
    server = await livews_server(Quiet, path="/quiet")
    async with connect(server, "/quiet") as ws:
        assert ws.close_code is None
        await ws.send_text("bye")
        with pytest.raises(Closed) as closed:
            await ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (4001, "asked to leave")
        assert (ws.close_code, ws.close_reason) == (4001, "asked to leave")


async def test_wait_closed_returns_the_servers_close(livews_server) -> None:
    server = await livews_server(Quiet, path="/quiet")
    async with connect(server, "/quiet") as ws:
        await ws.send_text("bye")
        assert await ws.wait_closed() == (4001, "asked to leave")


async def test_subprotocols_and_headers_reach_the_handler(livews_server) -> None:
    server = await livews_server(Resource("/facts", Facts, subprotocols=["v2", "v1"]))
    async with connect(server, "/facts", subprotocols=["v1", "v2"], headers={"X-Token": "t0k"}) as ws:
        assert ws.subprotocol == "v2"
        assert await ws.receive_json() == {"subprotocol": "v2", "token": "t0k"}


async def test_refused_handshake_raises_with_the_http_status(livews_server) -> None:
    def refuse(request: object) -> None:
        raise Reject("members only", status=401)

    server = await livews_server(Resource("/private", Echo, on_connect=refuse))
    with pytest.raises(HandshakeRefused) as refused:
        async with connect(server, "/private"):
            pass
    assert refused.value.status == 401
    assert b"members only" in refused.value.body
    with pytest.raises(HandshakeRefused) as missing:
        async with connect(server, "/nowhere"):
            pass
    assert missing.value.status == 404
