"""Keepalive: ping every client that has been quiet on the ping front, drop those that never answer.

One task per server, not one timer per connection: every tick it walks the clients once. A pong that answers
our ping records the round trip as ``client.latency``. A client that leaves a ping unanswered for
``ping_timeout`` seconds is closed with 1011, unless it is held for the debugger (its pong may wait behind
paused reading; the hold has its own time limit).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import TYPE_CHECKING

from ..engine.codes import CloseCode
from .records import connection_fields

if TYPE_CHECKING:
    from .server import Server

__all__ = ["keepalive"]

_log = logging.getLogger("livews.server")


async def keepalive(server: Server, interval: float, timeout: float) -> None:
    """Run until cancelled."""
    tick = min(interval, timeout) / 4
    counter = itertools.count()
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        for client in server._live():
            session = client._session
            if session.pong_overdue(now, timeout):
                _log.info(
                    "closing %s:%s: no pong within %.1fs",
                    client.host,
                    client.port,
                    timeout,
                    extra=connection_fields(client),
                )
                session.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            elif session.ping_due(now, interval):
                session.keepalive_ping(next(counter).to_bytes(8, "big"), now)
