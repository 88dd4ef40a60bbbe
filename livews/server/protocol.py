"""The asyncio side of one connection: handshake, feeding the engine, dispatching events, writing, timers.

One object per connection (it is also the ``Client`` users see), built on ``asyncio.Protocol`` callbacks
rather than streams: the hot path is ``data_received`` -> engine -> handler method -> ``transport.write``,
with no task, queue or future in between unless a handler method is ``async``.

``DirectReadProtocol`` reads with ``recv_into`` instead (``asyncio.BufferedProtocol``): into the server's read
buffer, or, while a large binary payload arrives, straight into the bytes it becomes. The server uses it when
freed memory is kept for reuse (``allocator``); otherwise each message's memory is fresh, and faulting it in
during the reads measured slower than letting asyncio allocate read buffers as it does.

Events reach the handler through ``Dispatcher`` (``dispatch.py``): in order, plain methods inline, async ones
in a per-connection task, errors isolated with 1011, ``on_close`` exactly once and last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, cast

from ..engine.connection import Connection, State
from ..engine.errors import HandshakeError
from ..engine.handshake import accept_response, parse_request, reject_response, select_subprotocol
from ..resource import Reject
from .client import Client
from .dispatch import Dispatcher

if TYPE_CHECKING:
    from ..engine.handshake import Request
    from ..resource import Resource
    from .server import Server

__all__ = ["DirectReadProtocol", "ServerProtocol"]

_log = logging.getLogger("livews.server")


class ServerProtocol(Dispatcher, Client, asyncio.BaseProtocol):
    """One connection, from the first byte of its handshake to ``connection_lost``.

    A streaming protocol (``data_received``, ``eof_received``) deriving from ``BaseProtocol``, not
    ``asyncio.Protocol``: asyncio reads with ``get_buffer`` into any ``BufferedProtocol`` and calls
    ``data_received`` on anything else, but uvloop uses ``get_buffer`` only on a protocol that is not an
    ``asyncio.Protocol``, so ``DirectReadProtocol`` must not inherit that class to read directly there.
    """

    # Every attribute the server sets lives in a slot: with more than 30 of them an instance dict would stop
    # sharing its keys and cost over a kilobyte per connection. ``__dict__`` stays (the mixins have no
    # slots), empty unless a user puts attributes of their own on a client.
    __slots__ = (
        "_batching",
        "_closed_reported",
        "_conn",
        "_drain_waiter",
        "_failed",
        "_head",
        "_last_ping_at",
        "_lost",
        "_max_write_buffer",
        "_ping_payload",
        "_ping_sent_at",
        "_queue",
        "_reading_paused",
        "_task",
        "_timer",
        "_transport",
        "bytes_in",
        "bytes_out",
        "close_code",
        "close_reason",
        "connected_at",
        "handler",
        "headers",
        "host",
        "id",
        "latency",
        "messages_in",
        "messages_out",
        "path",
        "port",
        "query_string",
        "resource",
        "server",
        "subprotocol",
        "version",
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        self.handler = None
        self.latency = None
        self.messages_in = self.messages_out = self.bytes_in = self.bytes_out = 0
        self._conn = None
        self._transport = None
        self._drain_waiter = None
        self._head = bytearray()  # the request head so far (appends are amortised O(1))
        self._timer: asyncio.TimerHandle | None = None
        self._queue = None
        self._task = None
        self._reading_paused = False
        self._closed_reported = False
        self._failed = False
        self._batching = False
        self._max_write_buffer = server.max_write_buffer
        self._ping_sent_at: float | None = None  # keepalive: when the unanswered ping went out
        self._ping_payload = b""
        self._last_ping_at: float | None = None
        self._lost: asyncio.Future[None] | None = None  # set when the server indexes this client
        self.id = 0  # numbered when the handshake succeeds
        self.close_code: int | None = None
        self.close_reason = ""

    # ------------------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not checked with isinstance: uvloop's implement asyncio.Transport's methods
        # without deriving from it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.host, self.port = peer[0], peer[1]
        server = self.server
        server._protocols.add(self)
        transport.set_write_buffer_limits(high=server.write_limit, low=server.write_limit // 4)
        self._timer = server.loop.call_later(server.handshake_timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            self._handshake_data(data)
            return
        self.bytes_in += len(data)
        conn.receive_data(data)
        self._received(conn)

    def _received(self, conn: Connection) -> None:
        """Dispatch what the engine made of the bytes just read, then write what that produced."""
        events = conn.events_received()
        if events:
            # What handlers send while this read is dispatched goes out in one write at the end.
            self._batching = True
            try:
                while events:
                    self._dispatch(events)
                    events = conn.events_received()
            finally:
                self._batching = False
        self._flush()

    def eof_received(self) -> bool | None:
        conn = self._conn
        if conn is not None:
            conn.receive_eof()
            self._dispatch_pending(conn)
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.server._protocols.discard(self)
        conn = self._conn
        if conn is not None:
            if conn.state is not State.CLOSED:
                conn.receive_eof()
            self._dispatch_pending(conn)
            self.server._forget(self)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._drain_waiter = None

    def pause_writing(self) -> None:
        if self._drain_waiter is None:
            self._drain_waiter = self.server.loop.create_future()

    def resume_writing(self) -> None:
        waiter = self._drain_waiter
        self._drain_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------------------------- handshake

    def _handshake_data(self, data: bytes) -> None:
        self._head += data
        server = self.server
        try:
            try:
                request: Any = parse_request(self._head, server.limits)
            except HandshakeError as exc:
                request = self._hixie76_request(exc)  # legacy hixie-76 (issue 7): re-raises if not one
            if request is None:
                return
            resource, subprotocol, extensions, deflate = self._accept(request)
        except HandshakeError as exc:
            _log.debug("handshake from %s:%s refused: %s", self.host, self.port, exc)
            self._refuse(exc)
            return
        assert self._transport is not None
        if request.version:
            self._transport.write(accept_response(request, subprotocol=subprotocol, extensions=extensions))
            conn: Any = Connection(resource.limits, deflate=deflate, version=request.version)
        else:
            conn = self._hixie76_accept(request, resource, subprotocol)  # legacy hixie-76 (issue 7)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rest = bytes(self._head[request.consumed :])
        self._head = bytearray()
        self.resource = resource
        self.path = request.path
        self.query_string = request.query_string
        self.headers = request.headers
        self.subprotocol = subprotocol
        self.version = request.version
        self.connected_at = time.monotonic()
        self._conn = conn
        if resource.max_write_buffer is not None:
            self._max_write_buffer = resource.max_write_buffer
        if resource.write_limit is not None:
            self._transport.set_write_buffer_limits(high=resource.write_limit, low=resource.write_limit // 4)
        server._register(self)
        try:
            self.handler = resource.handler()
            self.handler.client = self
        except Exception:
            _log.exception("handler %s for %s could not be created", resource.handler.__qualname__, self.path)
            self._conn.fail(1011, "internal error")
            self._flush()
            self._dispatch_pending(self._conn)
            return
        self._call("on_open", ())
        if rest:
            self.data_received(rest)
        else:
            self._flush()

    def _accept(self, request: Request) -> tuple[Resource, str | None, str | None, Any]:
        """Everything that decides whether this request becomes a connection (RFC 6455 §4.2.2)."""
        server = self.server
        resource = server.resources.resolve(request.path)
        if resource is None:
            raise HandshakeError(404, "no WebSocket resource at this path")
        if not resource.origin(request.origin):
            raise HandshakeError(403, "origin not allowed")
        if resource.max_clients is not None and server.count(request.path) >= resource.max_clients:
            raise HandshakeError(503, "too many clients on this resource")
        if resource.on_connect is not None:
            try:
                verdict = resource.on_connect(request)
            except Reject as exc:
                raise HandshakeError(exc.status, exc.reason) from None
            except Exception:
                _log.exception("on_connect of %s raised", request.path)
                raise HandshakeError(500, "internal error") from None
            if verdict is False:
                raise HandshakeError(403, "connection refused")
        supported = resource.subprotocols
        if callable(supported):
            subprotocol = supported(list(request.subprotocols))
            if subprotocol is not None and subprotocol not in request.subprotocols:
                _log.error(
                    "subprotocol chooser of %s chose %r, which was not offered", request.path, subprotocol
                )
                raise HandshakeError(500, "internal error")
        else:
            subprotocol = select_subprotocol(request.subprotocols, supported)
        extensions, deflate = server.negotiate_extensions(resource, request)
        return resource, subprotocol, extensions, deflate

    def _refuse(self, error: HandshakeError) -> None:
        transport = self._transport
        if transport is not None:
            transport.write(reject_response(error))
            transport.close()

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._conn is None and self._transport is not None:
            _log.debug("handshake from %s:%s timed out", self.host, self.port)
            self._transport.abort()

    # ------------------------------------------------------------------------- legacy hixie-76 (issue 7)
    # The draft-76 integration is these two methods, the two calls marked "legacy hixie-76" in
    # _handshake_data and the guard in _keepalive_ping. livews.engine.hixie76 is imported only when the
    # server's switch is on and a request failed the RFC 6455 parse.

    def _hixie76_request(self, error: HandshakeError) -> Any:
        """The draft-76 request in the head (None until its 8 key bytes arrive), or re-raise ``error``.

        The RFC 6455 parse refuses every draft-76 request with 400 or 426 (no key, no version); with the
        switch off, or for any other request, that refusal stays the answer.
        """
        server = self.server
        if not server.legacy_hixie76 or error.status not in (400, 426):
            raise error
        from ..engine import hixie76

        if not hixie76.is_hixie76_request(self._head, server.limits):
            raise error
        return hixie76.parse_request(self._head, server.limits)

    def _hixie76_accept(self, request: Any, resource: Resource, subprotocol: str | None) -> Any:
        """Write the draft-76 response; return the connection that speaks the draft."""
        from ..engine import hixie76

        assert self._transport is not None
        secure = self.server.ssl is not None
        self._transport.write(hixie76.accept_response(request, secure=secure, subprotocol=subprotocol))
        return hixie76.Hixie76Connection(resource.limits)

    # --------------------------------------------------------------------------------------- writing

    def _flush(self) -> None:
        conn = self._conn
        if conn is None:
            return
        chunks = conn.chunks_to_send()
        transport = self._transport
        if transport is None:
            return
        if chunks:
            if self._drain_waiter is not None and self._over_hard_limit(transport):
                return
            for chunk in chunks:  # a large payload is its own chunk: written without a join
                self.bytes_out += len(chunk)
                transport.write(chunk)
        if conn.close_transport and not transport.is_closing():
            transport.close()
            self._closing_started()

    def _write_frame(self, frame: bytes) -> None:
        """Write a pre-encoded data frame (broadcast); the caller checked the connection is open."""
        if self._batching:  # behind what this client's handler already sent during this read
            assert self._conn is not None
            self._conn.send_encoded(frame)
            self.messages_out += 1
            return
        transport = self._transport
        assert transport is not None
        if self._drain_waiter is not None and self._over_hard_limit(transport):
            return
        self.messages_out += 1
        self.bytes_out += len(frame)
        transport.write(frame)

    def _over_hard_limit(self, transport: asyncio.Transport) -> bool:
        """Whether the bytes still unsent exceed the hard limit; if so, drop the client (1008) and say so.

        Checked before a write, only while writing is paused (over the high-water mark), against what is
        already buffered: one large answer to a client that reads is fine, a client that does not read is
        closed at its next write (at the latest the next keepalive ping).
        """
        if transport.get_write_buffer_size() <= self._max_write_buffer:
            return False
        self._too_slow()
        return True

    def _too_slow(self) -> None:
        """A client that does not read what we send is closed with 1008, without waiting on it.

        Its close frame could only queue behind what it does not read, so the transport is aborted. The
        handler's ``on_close(1008, ...)`` runs from ``connection_lost``, on a later loop turn: never inside
        the send or broadcast that found the client over its limit (whose caller may be iterating a set
        that ``on_close`` changes).
        """
        _log.warning(
            "closing %s with 1008: write buffer over %d bytes (the client does not read)",
            self,
            self._max_write_buffer,
        )
        conn = self._conn
        assert conn is not None and self._transport is not None
        conn.fail(1008, "client not reading")
        conn.data_to_send()  # the close frame cannot get past the unread bytes
        self._transport.abort()

    def _closing_started(self) -> None:
        """Bound the closing handshake: a peer that never answers or never reads is dropped."""
        if self._timer is None:
            self._timer = self.server.loop.call_later(self.server.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.abort()

    # ------------------------------------------------------------------------------------- keepalive

    def _keepalive_ping(self, payload: bytes, now: float) -> None:
        if not getattr(self._conn, "supports_ping", True):
            return  # legacy hixie-76 (issue 7): the draft has no ping, so no pong will ever come
        self._ping_sent_at = self._last_ping_at = now
        self._ping_payload = payload
        self.ping(payload)

    def _pong(self, payload: bytes) -> None:
        if self._ping_sent_at is not None and payload == self._ping_payload:
            self.latency = time.monotonic() - self._ping_sent_at
            self._ping_sent_at = None
        Dispatcher._pong(self, payload)


class DirectReadProtocol(ServerProtocol, asyncio.BufferedProtocol):
    """``ServerProtocol`` reading with ``recv_into``: large payloads land in the message they become."""

    __slots__ = ("_reading_direct",)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self._reading_direct = False  # the last get_buffer() was the engine's view of a large payload

    def get_buffer(self, sizehint: int) -> memoryview:
        conn = self._conn
        if conn is not None:
            view = conn.receive_buffer()
            if view is not None:
                self._reading_direct = True
                return view
        self._reading_direct = False
        return self.server._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._reading_direct:
            # Straight into a large payload: no copy, and the engine unmasks it where it landed.
            self._reading_direct = False
            conn = self._conn
            assert conn is not None
            self.bytes_in += nbytes
            conn.receive_buffer_updated(nbytes)
            self._received(conn)
        else:
            self.data_received(self.server._read_buffer[:nbytes].tobytes())
