"""The asyncio server that drives the engine: connections, dispatch, broadcast, keepalive, shutdown."""

from __future__ import annotations

from .broadcast import broadcast
from .client import Client, ConnectionClosed
from .server import Server, serve

__all__ = ["Client", "ConnectionClosed", "Server", "broadcast", "serve"]
