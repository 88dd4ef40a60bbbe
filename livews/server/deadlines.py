"""The handshake timeout of every connection, kept by one timer per server.

A timer per connection (``call_later`` on arrival, ``cancel`` when the head is read) cost a heap push, a
handle and a cancellation for every handshake, though almost none of them ever fires. Connections arrive in
order, so their deadlines (arrival + ``handshake_timeout``) are in order too: they are kept in an
insertion-ordered dict, the oldest first, and a single timer, armed for the oldest deadline, drops whatever
is past its deadline when it fires and re-arms itself for the next. A handshake that completes (or a
connection that ends) just leaves the dict. The deadline is reckoned from the arrival time with the
server's ``handshake_timeout`` of the moment the timer fires, so changing it on a running server keeps the
order and applies to the handshakes in progress.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import ServerProtocol
    from .server import Server

__all__ = ["HandshakeDeadlines"]


class HandshakeDeadlines:
    """The connections still in their opening handshake, by arrival time, and the one timer over them."""

    __slots__ = ("_arrived", "_server", "_timer")

    def __init__(self, server: Server) -> None:
        self._server = server
        self._arrived: dict[ServerProtocol, float] = {}  # in arrival order, so by deadline
        self._timer: asyncio.TimerHandle | None = None

    def start(self, proto: ServerProtocol) -> None:
        """``proto`` just connected: it has ``handshake_timeout`` seconds to complete its head."""
        loop = self._server.loop
        now = loop.time()
        self._arrived[proto] = now
        if self._timer is None:
            self._timer = loop.call_at(now + self._server.handshake_timeout, self._expire)

    def done(self, proto: ServerProtocol) -> None:
        """``proto``'s handshake completed, or it ended: no deadline any more."""
        self._arrived.pop(proto, None)

    def stop(self) -> None:
        """Cancel the timer (the server is closed); the handshakes left are closed by the server."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """Drop every connection past its deadline; re-arm for the oldest one left, if any."""
        self._timer = None
        server = self._server
        loop = server.loop
        timeout = server.handshake_timeout
        cutoff = loop.time() - timeout
        late = []
        for proto, arrived in self._arrived.items():
            if arrived > cutoff:
                break
            late.append(proto)
        for proto in late:
            del self._arrived[proto]
            proto._handshake_timed_out()
        if self._arrived:
            oldest = next(iter(self._arrived.values()))
            self._timer = loop.call_at(oldest + timeout, self._expire)
