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

The names below are imported on first use: pytest loads the plugin in every run of every project where
livews is installed, and that must not cost the import of the server and the live layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "TIMEOUT": "client",
    "Closed": "client",
    "HandshakeRefused": "client",
    "TestClient": "client",
    "connect": "client",
    "Communicator": "memory",
    "LiveEdit": "servers",
    "serving": "servers",
    "start_live": "servers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'livews.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
