"""A resource's observer sees every message before the handler, which stays an instance of its own class."""

from __future__ import annotations

import logging

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource
from livews.engine import Connection
from livews.server.observe import Observed
from tests.server.support import serving, url


class Echo(Handler):
    seen: list[str | bytes]

    def on_open(self) -> None:
        self.seen = []

    def on_text(self, message: str) -> None:
        self.seen.append(message)
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.seen.append(payload)
        self.send_binary(payload)


async def test_the_observer_sees_each_message_with_its_client_before_the_handler() -> None:
    observed: list[tuple[str, str | bytes, int]] = []

    def observer(client: object, message: str | bytes) -> None:
        handler = client.handler  # type: ignore[attr-defined]
        observed.append((client.path, message, len(handler.seen)))  # type: ignore[attr-defined]

    async with (
        serving(Resource("/watched", Echo, observer=observer)) as server,
        connect(url(server, "/watched")) as ws,
    ):
        await ws.send("one")
        assert await ws.recv() == "one"
        await ws.send(b"\x00two")
        assert await ws.recv() == b"\x00two"
        [client] = server.clients("/watched")
        assert type(client.handler) is Echo  # the class served is the one given, not a subclass of it
    # Each message was shown to the observer while the handler had not yet seen it.
    assert observed == [("/watched", "one", 0), ("/watched", b"\x00two", 1)]


async def test_a_path_without_an_observer_keeps_the_bare_engine_connection() -> None:
    async with (
        serving(Resource("/plain", Echo), Resource("/watched", Echo, observer=lambda c, m: None)) as server,
        connect(url(server, "/plain")) as plain,
        connect(url(server, "/watched")) as watched,
    ):
        await plain.send("x")
        await watched.send("y")
        assert (await plain.recv(), await watched.recv()) == ("x", "y")
        [p] = server.clients("/plain")
        [w] = server.clients("/watched")
        assert type(p._session.conn) is Connection
        assert type(w._session.conn) is Observed


async def test_an_observer_that_raises_is_logged_and_the_message_still_reaches_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def observer(client: object, message: str | bytes) -> None:
        raise RuntimeError("observer bug")

    caplog.set_level(logging.ERROR, logger="livews.server")
    async with (
        serving(Resource("/watched", Echo, observer=observer)) as server,
        connect(url(server, "/watched")) as ws,
    ):
        await ws.send("still echoed")
        assert await ws.recv() == "still echoed"
        await ws.close()
        assert ws.close_code == 1000
    assert any("observer" in r.getMessage() and r.exc_info for r in caplog.records)
