"""The server: listen, hand each connection to a protocol, index live clients, shut down gracefully.

Knows resources only through ``resolve(path)``, so the live layer can hand it an editable table. Keeps, per
path, the set of open clients: ``clients(path)`` and broadcast read it, ``max_clients`` counts it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl as _ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..engine.limits import Limits
from ..resource import Resource, Resources, ResourceTable
from .allocator import keep_freed_memory
from .broadcast import broadcast
from .dispatch import DEFAULT_MAX_PENDING
from .keepalive import keepalive
from .protocol import DirectReadProtocol, ServerProtocol

if TYPE_CHECKING:
    from ..engine.handshake import Request
    from .client import Client

__all__ = ["Server", "serve"]

_log = logging.getLogger("livews.server")
#: Bytes one read may take (asyncio's own default read size).
_READ_SIZE = 256 * 1024


class Server:
    """A WebSocket server for a table of resources.

    resources: a ``Resources`` table, anything with ``resolve(path)``, or an iterable of ``Resource``.
    host, port: where to listen (port 0 picks a free port; read it back from ``port``).
    ssl: an ``ssl.SSLContext`` to serve ``wss://``.
    ping_interval, ping_timeout: keepalive pings (seconds); ``ping_interval=None`` turns keepalive off.
    handshake_timeout: seconds a client has to complete its opening handshake.
    close_timeout: seconds a peer has to answer our close frame (and to read it) before it is dropped.
    write_limit: per-client write buffer high-water mark; ``await client.drain()`` waits below a quarter.
    max_write_buffer: hard per-client limit; a client whose unsent bytes exceed it is closed with 1008.
    limits: opening-handshake limits, a ``Limits`` (``max_head_size``, ``max_request_line``,
        ``max_header_size``, ``max_header_count``, ``max_list_items``; message limits are per resource).
    max_pending_events: events that may wait behind a running ``async`` handler method before the server
        stops reading from that client (it resumes when half of them are delivered).
    reuse_port: set ``SO_REUSEPORT`` so several processes can serve the same port (the kernel spreads
        connections over them; broadcasts then reach only this process's clients).
    legacy_hixie76: also accept clients of the pre-RFC draft hixie-76 / hybi-00 (``client.version == 0``):
        text only (``send_binary`` raises ``TypeError``, binary broadcasts skip them), no ping. Off by
        default; when off, such a client gets the normal 426 and the draft's code is never imported.
    tune_allocator: on glibc, keep freed memory mapped for reuse (``livews.server.allocator``) so large
        messages do not page-fault their memory in each time, and then read large payloads straight into
        their messages (``DirectReadProtocol``); process-wide, so ``False`` opts out.
    """

    def __init__(
        self,
        resources: ResourceTable | Iterable[Resource],
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        ssl: _ssl.SSLContext | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        handshake_timeout: float = 10.0,
        close_timeout: float = 5.0,
        write_limit: int = 64 * 1024,
        max_write_buffer: int = 16 * 1024 * 1024,
        limits: Limits | None = None,
        legacy_hixie76: bool = False,
        max_pending_events: int = DEFAULT_MAX_PENDING,
        reuse_port: bool = False,
        tune_allocator: bool = True,
    ) -> None:
        self.resources: ResourceTable = resources if hasattr(resources, "resolve") else Resources(resources)  # type: ignore[assignment]
        self.host = host
        self._requested_port = port
        self.ssl = ssl
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self.write_limit = write_limit
        self.max_write_buffer = max_write_buffer
        self.limits = limits or Limits()
        self.legacy_hixie76 = legacy_hixie76
        self.max_pending_events = max_pending_events
        self.reuse_port = reuse_port
        self.tune_allocator = tune_allocator
        self.handler_errors = 0
        self.connections_total = 0
        self._by_path: dict[str, dict[ServerProtocol, None]] = {}
        #: Every connection with a live transport, still in its handshake or not (shutdown reaches all).
        self._protocols: set[ServerProtocol] = set()
        self._ids = itertools.count(1)
        #: Tasks running async handler methods; shutdown lets them finish for a while, then cancels them.
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._keepalive: asyncio.Task[None] | None = None
        #: With ``DirectReadProtocol``, where every connection of this server reads into, unless the engine
        #: offers the bytes of a large payload (``Connection.receive_buffer``). The loop fills and empties it
        #: in one callback, so connections never see each other's bytes in it.
        self._read_buffer = memoryview(b"")
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> Server:
        """Start listening; returns once the socket is bound."""
        self.loop = asyncio.get_running_loop()
        protocol = ServerProtocol
        if self.tune_allocator and keep_freed_memory():
            protocol = DirectReadProtocol
            self._read_buffer = memoryview(bytearray(_READ_SIZE))
        self._server = await self.loop.create_server(
            lambda: protocol(self),
            self.host,
            self._requested_port,
            ssl=self.ssl,
            reuse_address=True,
            reuse_port=self.reuse_port or None,
        )
        if self.ping_interval:
            self._keepalive = self.loop.create_task(keepalive(self, self.ping_interval, self.ping_timeout))
        _log.info("listening on %s", ", ".join(self.urls))
        return self

    async def serve_forever(self) -> None:
        """Serve until ``close()`` has finished (then return); if cancelled, shut down gracefully first."""
        if self._server is None:
            await self.start()
        try:
            await self._stopped.wait()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(
        self, code: int = 1001, reason: str = "server shutting down", timeout: float = 5.0
    ) -> None:
        """Graceful shutdown: stop accepting, close every client with ``code``, wait at most ``timeout``.

        Clients that have not finished their closing handshake by then are dropped; async handler methods
        still running get what is left of ``timeout`` and are then cancelled (``on_close`` still runs).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._server is not None:
            self._server.close()
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        for proto in list(self._protocols):
            if proto._conn is None and proto._transport is not None:
                proto._transport.close()  # still in its handshake: nothing to say goodbye with
        clients = self._live()
        for client in clients:
            client.close(code, reason)
        waiters = [c._lost for c in clients if c._lost is not None]
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        await asyncio.sleep(0)  # let the transports closed above report connection_lost
        for proto in list(self._protocols):
            if proto._transport is not None:
                proto._transport.abort()
        await asyncio.sleep(0)  # connection_lost of the aborted ones: their on_close is delivered or queued
        if self._tasks:
            _done, running = await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._stopped.set()

    shutdown = close

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --------------------------------------------------------------------------------------- facts

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (empty before ``start`` and after ``close``)."""
        if self._server is None:
            return ()
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def urls(self) -> list[str]:
        return [self.url + r.path for r in _paths(self.resources)] or [self.url]

    def clients(self, path: str | None = None) -> list[Client]:
        """Open (and closing) clients: all of them, or those connected to ``path`` (a snapshot list)."""
        return list(self._live(path))

    def _live(self, path: str | None = None) -> list[ServerProtocol]:
        if path is not None:
            return list(self._by_path.get(path, ()))
        return [c for clients in self._by_path.values() for c in clients]

    def count(self, path: str) -> int:
        return len(self._by_path.get(path, ()))

    def broadcast(self, message: str | bytes, path: str | None = None, *, compress: bool = True) -> int:
        """Send ``message`` to every open client (of ``path``, if given); see ``livews.broadcast``."""
        return broadcast(self.clients(path), message, compress=compress)

    def stats(self) -> dict[str, Any]:
        clients = self.clients()
        return {
            "clients": len(clients),
            "connections_total": self.connections_total,
            "handler_errors": self.handler_errors,
            "messages_in": sum(c.messages_in for c in clients),
            "messages_out": sum(c.messages_out for c in clients),
            "bytes_in": sum(c.bytes_in for c in clients),
            "bytes_out": sum(c.bytes_out for c in clients),
        }

    # ------------------------------------------------------------------------- used by the protocol

    def negotiate_extensions(self, resource: Resource, request: Request) -> tuple[str | None, Any]:
        """Agree permessage-deflate if the resource allows it and the client offers it."""
        config = resource.compression
        if not config or not request.extensions:
            return None, None
        try:
            from ..engine.deflate import DeflateConfig, negotiate
        except ImportError:  # compression not built yet
            return None, None
        if config is True:
            config = DeflateConfig()
        return negotiate(request.extensions, config)

    def _register(self, client: ServerProtocol) -> None:
        self.connections_total += 1
        client.id = next(self._ids)
        client._lost = self.loop.create_future()
        self._by_path.setdefault(client.path, {})[client] = None

    def _forget(self, client: ServerProtocol) -> None:
        clients = self._by_path.get(client.path)
        if clients is not None:
            clients.pop(client, None)
            if not clients:
                del self._by_path[client.path]
        lost = client._lost
        if lost is not None and not lost.done():
            lost.set_result(None)


def _paths(resources: Any) -> list[Any]:
    try:
        return [getattr(r, "resource", r) for r in resources]
    except TypeError:
        return []


async def serve(resources: ResourceTable | Iterable[Resource], **options: Any) -> None:
    """Run a ``Server`` for ``resources`` until cancelled (then it closes every client with 1001).

    ``options`` are ``Server``'s keyword arguments::

        asyncio.run(serve([Resource("/echo", Echo)], port=8765))
    """
    await Server(resources, **options).serve_forever()
