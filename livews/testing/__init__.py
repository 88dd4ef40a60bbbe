"""A test kit for livews applications: real servers, a real client, an in-memory communicator, live edits.

    from livews.testing import connect

    async def test_echo(livews_server):                 # the fixture comes from the pytest plugin
        server = await livews_server(Echo, path="/echo")
        async with connect(server, "/echo") as ws:
            await ws.send_text("hi")
            assert await ws.receive_text() == "hi"

Installing ``livews[testing]`` registers the pytest plugin (``livews.testing.plugin``) through the
``pytest11`` entry point, so the fixtures ``livews_server`` and ``livews_live_edit`` need no import.
``connect`` drives the ``websockets`` client, imported on first use. Everything here sits above the live
layer and is never imported by the server.
"""

from __future__ import annotations

from .client import TIMEOUT, Closed, HandshakeRefused, TestClient, connect
from .memory import Communicator
from .servers import LiveEdit, serving, start_live

__all__ = [
    "TIMEOUT",
    "Closed",
    "Communicator",
    "HandshakeRefused",
    "LiveEdit",
    "TestClient",
    "connect",
    "serving",
    "start_live",
]
