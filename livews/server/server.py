"""The server: listen, hand each connection to a protocol, index live clients, shut down gracefully.

Knows resources only through ``resolve(path)`` and an iteration of them, so the live layer can hand it an
editable table. Keeps, per
path, the set of open clients: ``clients(path)`` and broadcast read it, ``max_clients`` counts it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl as _ssl
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..engine.codes import CloseCode
from ..engine.limits import HandshakeLimits
from ..resource import Resource, Resources, ResourceTable
from .accept import quiet_accept_errors
from .allocator import keep_freed_memory
from .broadcast import broadcast
from .bus import Bus, Member, default_node_name, open_bus
from .deadlines import HandshakeDeadlines
from .defaults import ResourceDefaults
from .dispatch import DEFAULT_MAX_PENDING
from .errors import ErrorLog
from .groups import Groups
from .http import HttpHook, UpgradeHeaders
from .keepalive import keepalive
from .metrics import Figures
from .probe import answer_probes
from .protocol import DIRECT_READ_SIZE, DirectReadProtocol, ServerProtocol
from .proxy import TrustedProxies
from .records import connection_fields
from .slow import DEFAULT_SLOW_CALLBACK, SlowCalls
from .transports import Listening, check_transports, choose_transports, listen

if TYPE_CHECKING:
    from ..engine.handshake import Request
    from .client import Client

__all__ = ["Server", "serve"]

_log = logging.getLogger("livews.server")


class Server:
    """A WebSocket server for a table of resources.

    resources: a ``Resources`` table, anything with ``resolve(path)`` that iterates its ``Resource`` objects,
        or an iterable of ``Resource``.
    host, port: where to listen (port 0 picks a free port; read it back from ``port``).
    ssl: an ``ssl.SSLContext`` to serve ``wss://``.
    ping_interval, ping_timeout: keepalive pings (seconds); ``ping_interval=None`` turns keepalive off.
    handshake_timeout: seconds a client has to complete its opening handshake.
    close_timeout: seconds a peer has to answer our close frame (and to read it) before it is dropped.
    write_limit: per-client write buffer high-water mark; ``await client.drain()`` waits below a quarter.
    max_write_buffer: hard per-client limit, for every way of sending (a plain or async handler method, a
        broadcast): a client whose unsent bytes exceed it is closed with 1008.
    max_connections: open WebSocket connections on this server at once (all paths); one more answers 503.
        ``None`` (the default) leaves it to ``max_clients`` per resource and to the process's descriptors.
    max_handshake_buffer: bytes all opening handshakes still incomplete after a read may hold together
        (each at most the head limits of ``limits``); a handshake whose bytes would pass it answers 503.
    limits: opening-handshake limits, a ``HandshakeLimits`` (``max_head_size``, ``max_request_line``,
        ``max_header_size``, ``max_header_count``, ``max_list_items``). Message limits are each resource's
        (``Resource(max_frame_size=...)``): anything else here is a ``TypeError`` that says so.
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
    slow_callback: seconds a plain (``def``) handler method may hold the loop before it is logged by name
        and kept in ``slow_calls`` (every client waits meanwhile); ``None`` turns the check off.
    backlog: connections the kernel queues before they are accepted (``listen()``'s backlog, capped by
        ``net.core.somaxconn``).
    debug_on_error: hold a connection whose handler method raised instead of closing it with 1011, for
        ``retry``/``skip`` after a fix (``livews.server.hold``); also keep the frames of faults in livews
        itself for a debugger. A plain attribute: set it on a running server to turn it on or off.
    debug_hold_timeout: seconds a held connection waits for someone before it is closed with 1011.
    http: ``callable(request) -> Response | None`` answering plain HTTP requests (no ``Upgrade`` header) on
        this port (``livews.server.http``); a resource's own ``http`` hook is asked first.
    health_path: a path (``"/healthz"``) answering a plain GET or HEAD with 200 ``ok``.
    response_headers: ``callable(request) -> headers`` added to every 101 response (cookies, custom
        headers); a resource's own hook adds its headers after these.
    metrics: ``True`` serves the server's figures (see ``stats()``) in the Prometheus text format at
        ``/metrics`` on this port (a string picks another path); needs ``livews[metrics]``.
    trusted_proxies: peers whose ``Forwarded`` / ``X-Forwarded-For`` / ``X-Forwarded-Proto`` headers give the
        client's address (``client.host``) and scheme (``client.scheme``): addresses or networks, ``"*"``,
        or ``TrustedProxies(trusted, hops=N)`` for N proxies in a row (``livews.server.proxy``).
    shutdown_grace: seconds ``close()`` first gives connected clients to finish and leave by themselves,
        accepting no one new, before it closes the rest with 1001 (drain mode; 0: close at once).
    bus: what carries groups to other nodes: ``None`` (this server only), a ``redis://host:port/db`` URL
        (the ``livews[redis]`` extra), or a ``Bus`` (an ``InProcessBus`` shared by servers in one loop).
    node: this server's name on the bus (default ``host-pid``); distinct for every node sharing a bus.
    max_message_size / compression: server-wide defaults for every resource, wherever it comes from (a
        handler file, ``register``): a resource still at livews' default takes them, one that chose its own
        value keeps it (``livews.server.defaults``). ``compression=False`` turns permessage-deflate off
        except for resources given a ``DeflateConfig``.
    deflate_backend: the DEFLATE implementation of resources with ``compression=True``: ``"auto"`` (zlib-ng
        if installed, else zlib), ``"zlib"``, ``"zlib-ng"`` or ``"isal"`` (``livews[deflate]``; see
        ``DeflateConfig``). A resource given a ``DeflateConfig`` uses that config's ``backend``. A backend
        that is not installed is an ``ImportError`` here.
    transports: what carries the connections (``livews.server.transports``): ``"loop"`` (the default: the
        event loop's own, asyncio's or uvloop's), ``"aiofastnet"`` (``livews[fast]``: fewer instructions per
        message on asyncio's loop, about 4.7 KiB more per connection; when it is not installed, an
        ``ImportError`` here) or ``"auto"`` (aiofastnet's when it is installed and the loop is asyncio's
        own, else the loop's). Once started, ``transports`` says which were chosen: ``loop``, ``aiofastnet``.

    Every handler error and server fault is kept in ``errors`` (an ``ErrorLog``, bounded: see
    ``livews.server.errors``) and counted in ``handler_errors`` / ``server_errors``.

    Starting a server also wraps its loop's exception handler (once per loop, ``accept.py``): ``accept()``
    failing for lack of descriptors is logged once a second instead of a traceback per try; every other
    report reaches the handler that was there before.
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
        max_connections: int | None = None,
        max_handshake_buffer: int = 16 * 1024 * 1024,
        limits: HandshakeLimits | None = None,
        legacy_hixie76: bool = False,
        max_pending_events: int = DEFAULT_MAX_PENDING,
        reuse_port: bool = False,
        tune_allocator: bool = True,
        slow_callback: float | None = DEFAULT_SLOW_CALLBACK,
        backlog: int = 100,
        debug_on_error: bool = False,
        debug_hold_timeout: float = 600.0,
        http: HttpHook | None = None,
        health_path: str | None = None,
        response_headers: UpgradeHeaders | None = None,
        metrics: bool | str = False,
        trusted_proxies: Iterable[str] | str | TrustedProxies | None = None,
        shutdown_grace: float = 0.0,
        bus: Bus | str | None = None,
        node: str | None = None,
        max_message_size: int | None = None,
        compression: bool = True,
        deflate_backend: str = "auto",
        transports: str = "loop",
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
        self.max_connections = max_connections
        self.max_handshake_buffer = max_handshake_buffer
        self.limits = _handshake_limits(limits)
        self.resource_defaults = ResourceDefaults(max_message_size, compression, deflate_backend)
        check_transports(transports)
        self._requested_transports = transports
        self._transports = transports  # "loop" or "aiofastnet" once started
        self.legacy_hixie76 = legacy_hixie76
        self.max_pending_events = max_pending_events
        self.reuse_port = reuse_port
        self.tune_allocator = tune_allocator
        self.backlog = backlog
        self.debug_on_error = debug_on_error
        self.debug_hold_timeout = debug_hold_timeout
        self.errors = ErrorLog()
        self.http = http
        self.health_path = health_path
        self.response_headers = response_headers
        #: Where plain GETs get the Prometheus text of ``figures`` (``metrics=True``: ``/metrics``), or None.
        self.metrics_path = "/metrics" if metrics is True else (metrics or None)
        if self.metrics_path is not None:
            try:
                import prometheus_client  # noqa: F401
            except ImportError:
                raise ImportError("metrics need prometheus-client: pip install 'livews[metrics]'") from None
        self.figures = Figures()
        if trusted_proxies is not None and not isinstance(trusted_proxies, TrustedProxies):
            trusted_proxies = TrustedProxies(trusted_proxies)
        self.trusted_proxies: TrustedProxies | None = trusted_proxies
        self.shutdown_grace = shutdown_grace
        self.handler_errors = 0
        self.server_errors = 0
        #: Plain handler calls that held the loop longer than ``slow_callback`` (recent ones, and a count).
        self.slow_calls = SlowCalls(slow_callback)
        #: The threshold the dispatcher compares with (seconds; infinite when the check is off).
        self.slow_callback = self.slow_calls.threshold
        self.connections_total = 0
        self._by_path: dict[str, dict[Client, None]] = {}
        self._open = 0  # connections registered and not yet forgotten (what max_connections counts)
        self._head_bytes = 0  # bytes held by incomplete handshake heads (what max_handshake_buffer bounds)
        self._handshaking = HandshakeDeadlines(self)  # the handshake timeout of every connection, one timer
        #: Every connection with a live transport, still in its handshake or not (shutdown reaches all).
        self._protocols: set[ServerProtocol] = set()
        self._ids = itertools.count(1)
        #: Tasks running async handler methods; shutdown lets them finish for a while, then cancels them.
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._server: Listening | None = None
        self._keepalive: asyncio.Task[None] | None = None
        #: With ``DirectReadProtocol``, where every connection of this server reads into, unless the engine
        #: offers the bytes of a large payload (``Connection.receive_buffer``). The loop fills and empties it
        #: in one callback, so connections never see each other's bytes in it.
        self._read_buffer = memoryview(b"")
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        #: Groups of this node and its end of the bus (``join``, ``leave``, ``publish``, ``members``).
        self.groups = Groups(open_bus(bus), node or default_node_name())

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> Server:
        """Start listening; returns once the socket is bound."""
        self.loop = asyncio.get_running_loop()
        quiet_accept_errors(self.loop)
        protocol = ServerProtocol
        if self.tune_allocator and keep_freed_memory():
            protocol = DirectReadProtocol
            self._read_buffer = memoryview(bytearray(DIRECT_READ_SIZE))
        self._transports = choose_transports(self._requested_transports, self.loop)
        await self.groups.start()  # before the first client can join a group
        try:
            self._server = await listen(
                self.loop,
                lambda: protocol(self),
                self.host,
                self._requested_port,
                transports=self._transports,
                ssl=self.ssl,
                reuse_port=self.reuse_port,
                backlog=self.backlog,
            )
        except BaseException:
            await self.groups.stop()
            raise
        if self.ping_interval:
            self._keepalive = self.loop.create_task(keepalive(self, self.ping_interval, self.ping_timeout))
        answer_probes(self.loop)  # a worker under the supervisor proves its loop turns
        _log.info("listening on %s (%s transports)", ", ".join(self.urls), self._transports)
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
        self,
        code: int = CloseCode.GOING_AWAY,
        reason: str = "server shutting down",
        timeout: float = 5.0,
        *,
        grace: float | None = None,
    ) -> None:
        """Graceful shutdown: stop accepting, close every client with ``code``, wait at most ``timeout``.

        With ``grace`` seconds (default: the server's ``shutdown_grace``), connected clients first get that
        long to finish and leave by themselves (drain mode); only those still there are then closed.
        Clients that have not finished their closing handshake within ``timeout`` are dropped; async
        handler methods still running get what is left of ``timeout`` and are then cancelled (``on_close``
        still runs).
        """
        loop = asyncio.get_running_loop()
        if self._server is not None:
            self._server.close()
        grace = self.shutdown_grace if grace is None else grace
        if grace > 0:
            await self._drain(grace)
        deadline = loop.time() + timeout
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        for session in list(self._protocols):
            session.close_if_handshaking()  # nothing to say goodbye with
        clients = self._live()
        waiters = self._lost_futures(clients)
        for client in clients:
            client.close(code, reason)
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        await asyncio.sleep(0)  # let the transports closed above report connection_lost
        for session in list(self._protocols):
            session.abort()
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
        self._handshaking.stop()
        await self.groups.stop()
        self._stopped.set()

    async def _drain(self, grace: float) -> None:
        """Accept nothing new and wait up to ``grace`` seconds for the connected clients to leave."""
        for session in list(self._protocols):
            session.close_if_handshaking()  # a handshake under way would only join a server that leaves
        waiters = self._lost_futures(self._live())
        if waiters:
            _log.info("draining: %d client(s) have %.1fs to finish", len(waiters), grace)
            await asyncio.wait(waiters, timeout=grace)

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
    def transports(self) -> str:
        """The transports asked for (``auto``, ``loop``, ``aiofastnet``) until started, then those chosen."""
        return self._transports

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def urls(self) -> list[str]:
        return [self.url + resource.path for resource in self.resources] or [self.url]

    def clients(self, path: str | None = None) -> list[Client]:
        """Open (and closing) clients: all of them, or those connected to ``path`` (a snapshot list).

        ``path`` is a path as requested (``/rooms/42``) or a resource's pattern (``/rooms/{room}``: every
        client that pattern serves).
        """
        return list(self._live(path))

    def _live(self, path: str | None = None) -> list[Client]:
        if path is not None:
            clients = self._by_path.get(path)
            if clients is None and "{" in path:
                return [c for group in self._by_path.values() for c in group if c.resource.path == path]
            return list(clients or ())
        return [c for clients in self._by_path.values() for c in clients]

    def held(self) -> list[Client]:
        """Clients held for the debugger after a handler error (``debug_on_error``), oldest error first."""
        held = [(record.number, c) for c in self._live() if (record := c._session.held_error()) is not None]
        return [client for _, client in sorted(held, key=lambda pair: pair[0])]

    def count(self, path: str) -> int:
        return len(self._by_path.get(path, ()))

    def broadcast(self, message: str | bytes, path: str | None = None, *, compress: bool = True) -> int:
        """Send ``message`` to every open client (of ``path``, if given); see ``livews.broadcast``."""
        return broadcast(self.clients(path), message, compress=compress)

    @property
    def node(self) -> str:
        """This server's name on the bus."""
        return self.groups.node

    def publish(self, group: str, message: str | bytes) -> int:
        """Send ``message`` to ``group``'s members on every node; return how many local ones it reached."""
        return self.groups.publish(group, message)

    async def members(self, group: str) -> list[Member]:
        """Members of ``group`` on every node the bus reaches."""
        return await self.groups.members(group)

    def stats(self) -> dict[str, Any]:
        """The server's figures: what ``/metrics`` serves (``metrics=True``), as plain values.

        Messages and bytes count every connection since the start, open or closed; ``by_resource`` splits
        them per resource path as declared (a pattern is one row).
        """
        figures = self.figures
        by_resource = figures.resources(self)
        return {
            "clients": len(self._live()),
            "connections_total": self.connections_total,
            "handler_errors": self.handler_errors,
            "slow_calls": self.slow_calls.total,
            "server_errors": self.server_errors,
            "held": sum(1 for c in self._live() if c._session.held_error() is not None),
            "messages_in": sum(row["messages_in"] for row in by_resource.values()),
            "messages_out": sum(row["messages_out"] for row in by_resource.values()),
            "bytes_in": sum(row["bytes_in"] for row in by_resource.values()),
            "bytes_out": sum(row["bytes_out"] for row in by_resource.values()),
            "handshake_refusals": dict(sorted(figures.handshake_refusals.items())),
            "http_responses": dict(sorted(figures.http_responses.items())),
            "closes": dict(sorted(figures.closes.items())),
            "write_buffer_drops": figures.write_buffer_drops,
            "broadcasts": figures.broadcasts,
            "broadcast_recipients": figures.broadcast_recipients,
            "reloads": figures.reloads,
            "reloads_failed": figures.reloads_failed,
            "by_resource": by_resource,
        } | self.groups.stats()

    # ------------------------------------------------------------------------- used by the protocol

    def negotiate_extensions(self, resource: Resource, request: Request) -> tuple[str | None, Any]:
        """Agree permessage-deflate if the resource allows it and the client offers it."""
        config = self.resource_defaults.compression_of(resource)
        if config is None or not request.extensions:
            return None, None
        from ..engine.deflate import negotiate

        return negotiate(request.extensions, config)

    def _register(self, client: Client) -> None:
        self.connections_total += 1
        self._open += 1
        client.id = next(self._ids)
        self._by_path.setdefault(client.path, {})[client] = None
        self.figures.opened(client)
        if _log.isEnabledFor(logging.INFO):
            fields = connection_fields(client)
            _log.info("client #%d opened %s from %s", client.id, client.path, fields["peer"], extra=fields)

    def _lost_futures(self, clients: list[Client]) -> list[asyncio.Future[None]]:
        """A future per client in ``clients`` (registered, not yet forgotten), done when it is forgotten.

        Made here, for shutdown and drain, the only ones that wait for clients to leave, rather than in
        ``_register``: a future per handshake that nobody awaits was a cost of every connection.
        """
        waiters = []
        for client in clients:
            session = client._session
            lost = session.lost
            if lost is None:
                session.lost = lost = self.loop.create_future()
            waiters.append(lost)
        return waiters

    def _forget(self, client: Client) -> None:
        clients = self._by_path.get(client.path)
        if clients is not None and client in clients:
            self._open -= 1
            clients.pop(client)
            if not clients:
                del self._by_path[client.path]
        self.groups.forget(client)
        self.figures.closed(client)
        if _log.isEnabledFor(logging.INFO):
            fields = connection_fields(client)
            fields["code"] = code = client.close_code or CloseCode.ABNORMAL
            fields["duration"] = round(time.monotonic() - client.connected_at, 3)
            _log.info(
                "client #%d closed %s from %s: %d after %.3fs",
                client.id,
                client.path,
                fields["peer"],
                code,
                fields["duration"],
                extra=fields,
            )
        lost = client._session.lost
        if lost is not None and not lost.done():
            lost.set_result(None)


def _handshake_limits(limits: object) -> HandshakeLimits:
    """``limits`` if they are handshake limits; a ``TypeError`` naming the right owner for anything else."""
    if limits is None:
        return HandshakeLimits()
    if not isinstance(limits, HandshakeLimits):
        raise TypeError(
            f"Server(limits=...) takes HandshakeLimits (the opening handshake's), not "
            f"{type(limits).__name__}: message limits (max_frame_size, max_message_size, max_frame_count) "
            "are set per resource, Resource(path, handler, max_frame_size=...)"
        )
    return limits


async def serve(resources: ResourceTable | Iterable[Resource], **options: Any) -> None:
    """Run a ``Server`` for ``resources`` until cancelled (then it closes every client with 1001).

    ``options`` are ``Server``'s keyword arguments::

        asyncio.run(serve([Resource("/echo", Echo)], port=8765))
    """
    await Server(resources, **options).serve_forever()
