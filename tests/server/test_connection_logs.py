"""Records about a connection: open and close at INFO; each carries the client's fields in ``extra``."""

from __future__ import annotations

import json
import logging

import pytest

from livews import Handler, Resource
from livews.server.records import JsonFormatter
from livews.testing import connect, serving

from .support import eventually


class Fragile(Handler):
    def on_text(self, message: str) -> None:
        raise ValueError("handler bug")


async def test_open_close_and_handler_errors_carry_client_id_path_and_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "livews.server")
    async with serving(Resource("/f", Fragile)) as server:
        async with connect(server, "/f?x=1") as ws:
            await ws.send_text("boom")
            assert await ws.wait_closed() == (1011, "internal error")
        await eventually(lambda: any("closed" in r.getMessage() for r in caplog.records))
    about = [r for r in caplog.records if getattr(r, "client_id", None) == 1]
    opened, failed, closed = (
        next(r for r in about if word in r.getMessage()) for word in ("opened", "raised", "closed")
    )
    for record in (opened, failed, closed):
        assert record.path == "/f" and record.peer.startswith("127.0.0.1:")
    assert opened.levelno == closed.levelno == logging.INFO and failed.levelno == logging.ERROR
    assert closed.code == 1011 and closed.duration >= 0
    line = json.loads(JsonFormatter().format(failed))
    assert line["client_id"] == 1 and line["path"] == "/f" and "ValueError: handler bug" in line["exception"]


async def test_nothing_is_logged_about_connections_at_the_default_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "livews.server")
    async with serving(Resource("/f", Fragile)) as server:
        async with connect(server, "/f"):
            pass
    assert not [r for r in caplog.records if getattr(r, "client_id", None) is not None]
