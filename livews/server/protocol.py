"""The asyncio side of one connection: handshake, feeding the engine, dispatching events, writing, timers.

One session per connection, behind the public ``Client`` it makes (``client.py``), built on asyncio's protocol
callbacks rather than streams: the hot path is ``data_received`` -> engine -> handler method ->
``transport.write``, with no task, queue or future in between unless a handler method is ``async``.

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

from ..engine.codes import CloseCode
from ..engine.connection import Connection, State
from ..engine.errors import HandshakeError
from ..engine.handshake import HeadReader, Request, accept_response, reject_response, select_subprotocol
from ..engine.interface import EngineConnection, UpgradeRequest
from ..resource import Reject
from .client import Client
from .dispatch import Dispatcher
from .http import plain_answer, upgrade_headers
from .observe import Observed
from .records import connection_fields

if TYPE_CHECKING:
    from ..engine.events import Event
    from ..engine.handshake import Headers, Request
    from ..resource import Resource
    from .errors import ErrorRecord
    from .proxy import TrustedProxies
    from .server import Server

__all__ = ["DirectReadProtocol", "ServerProtocol"]

#: Engine states as module constants: ``State.OPEN`` is a metaclass ``__getattr__`` call on Python 3.11
#: (about ten times a global's cost), and these are read on every send.
_OPEN = State.OPEN
_CLOSED = State.CLOSED

_log = logging.getLogger("livews.server")

#: Bytes still read from a client once its handler's backlog has paused reading, so that a close frame sent
#: right behind the backlog is answered at once rather than once the backlog has drained.
_PAUSED_READ_ALLOWANCE = 16 * 1024

#: Messages and other events one loop turn delivers to a connection's handler. A read of tiny messages can
#: hold tens of thousands (256 KiB of 1-byte frames is about 37,000): past this many the rest is held,
#: reading pauses, and delivery resumes on the next loop turn, after every other connection that had bytes
#: ready. A few hundred plain handler calls are a few milliseconds; ordinary traffic never gets near it, so
#: the fast path stays one callback per read.
DISPATCH_BUDGET = 256

#: Bytes of a longer read the engine parses per loop turn. asyncio's plain reads take up to 256 KiB, which
#: in 1-byte frames is about 37,000 of them and tens of milliseconds of parsing in one callback; 64 KiB of
#: them is a few milliseconds, and for large frames a slice costs next to nothing. ``DirectReadProtocol``
#: reads at most ``DIRECT_READ_SIZE`` at once into its shared buffer, so it never slices.
READ_SLICE = 64 * 1024

#: The shared read buffer of ``DirectReadProtocol``: 16 KiB of 1-byte frames is about 2,300 of them (large
#: payloads do not pass through it: they are read straight into their message).
DIRECT_READ_SIZE = 16 * 1024


class ServerProtocol(asyncio.BaseProtocol):
    """One connection's session, from the first byte of its handshake to ``connection_lost``.

    The asyncio side of a connection: it owns the transport and, once the handshake succeeded, the engine
    connection (``conn``) and the ``Dispatcher`` that delivers its events; ``client`` is the public
    ``Client`` it works for. Its interface to those two and to the server's other modules is the attributes
    and methods without a leading underscore.

    A streaming protocol (``data_received``, ``eof_received``) deriving from ``BaseProtocol``, not
    ``asyncio.Protocol``: asyncio reads with ``get_buffer`` into any ``BufferedProtocol`` and calls
    ``data_received`` on anything else, but uvloop uses ``get_buffer`` only on a protocol that is not an
    ``asyncio.Protocol``, so ``DirectReadProtocol`` must not inherit that class to read directly there.
    """

    __slots__ = (
        "_head",
        "_head_held",
        "_held",
        "_last_ping_at",
        "_max_write_buffer",
        "_ping_payload",
        "_ping_sent_at",
        "_read_allowance",
        "_reading_paused",
        "_stepping",
        "_timer",
        "_unparsed",
        "_unparsed_at",
        "_yielding",
        "batched",
        "client",
        "conn",
        "dispatcher",
        "drain_waiter",
        "lost",
        "server",
        "transport",
        "write_limit",
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = Client(self, server)
        #: The engine connection, from the handshake on (``None`` before it).
        self.conn: EngineConnection | None = None
        #: Delivers the engine's events to the handler, from the handshake on (``None`` before it).
        self.dispatcher: Dispatcher | None = None
        self.transport: asyncio.Transport | None = None
        #: Set while writing is paused (over the high-water mark); done when it resumes or the client is lost.
        self.drain_waiter: asyncio.Future[None] | None = None
        self._stepping = False
        self._head: HeadReader | None = HeadReader(server.limits)  # the request head so far
        self._head_held = 0  # bytes of it counted in the server's budget for incomplete heads
        self._timer: asyncio.TimerHandle | None = None
        self._reading_paused = False  # by a handler's backlog (``pause_for_backlog``)
        self._read_allowance = 0  # bytes still read while _reading_paused (so a close frame gets through)
        self._held: list[Event] | None = None  # events past one turn's budget, delivered on the next
        self._unparsed = b""  # a long read, given to the engine a slice at a time from _unparsed_at on
        self._unparsed_at = 0
        self._yielding = False  # reading is paused until held events and unparsed bytes are through
        #: While a read is dispatched, about how many bytes were sent since the batch was last written (they
        #: are written once, when it is done); -1 when no read is dispatched (a send is written at once).
        self.batched = -1
        #: The write buffer's high-water mark: a batch that grows past it is written at once.
        self.write_limit = server.write_limit
        self._max_write_buffer = server.max_write_buffer
        self._ping_sent_at: float | None = None  # keepalive: when the unanswered ping went out
        self._ping_payload = b""
        self._last_ping_at: float | None = None
        #: Made when shutdown or drain waits for this client; done when the server forgets it.
        self.lost: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return repr(self.client)

    # ------------------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not checked with isinstance: uvloop's implement asyncio.Transport's methods
        # without deriving from it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        client = self.client
        client.host, client.port = peer[0], peer[1]
        server = self.server
        server._protocols.add(self)
        transport.set_write_buffer_limits(high=server.write_limit, low=server.write_limit // 4)
        if getattr(transport, "max_size", 0) > READ_SLICE:
            # asyncio's socket transport reads up to ``max_size`` at once: reading a slice at a time spares
            # slicing (and copying) longer reads. Other transports (TLS, uvloop) get sliced as they come.
            transport.max_size = READ_SLICE  # type: ignore[attr-defined]
        server._handshaking.start(self)

    def data_received(self, data: bytes) -> None:
        try:
            conn = self.conn
            if conn is None:
                self._handshake_data(data)
                return
            size = len(data)
            self.client.bytes_in += size
            if self._reading_paused:
                self._spend_read_allowance(size)
            if size > READ_SLICE:
                self._unparsed = data
                self._step()
                return
            conn.receive_data(data)
            # _received, inline: this is the hot path, one read of one message in the common case.
            events = conn.events_received()
            if events:
                self._deliver(conn, events)
                if self._held is not None:
                    self._yield()
            self.flush()
        except Exception:  # handler errors never get here (dispatch isolates them): this is livews's fault
            self._server_fault("data_received")

    def _received(self, conn: EngineConnection) -> None:
        """Dispatch what the engine made of the bytes just read, then write what that produced."""
        events = conn.events_received()
        if events:
            self._deliver(conn, events)
            if self._held is not None:
                self._yield()
        self.flush()

    def _deliver(self, conn: EngineConnection, events: list[Event]) -> None:
        """Dispatch ``events`` and what follows them, at most ``DISPATCH_BUDGET`` of them; hold the rest.

        What handlers send meanwhile is batched: it goes out in one write at the end (or as soon as it
        passes the write buffer's high-water mark, so that the hard limit sees it).
        """
        dispatcher = self.dispatcher
        assert dispatcher is not None  # made with the engine connection
        self.batched = 0
        try:
            while events:
                if len(events) > DISPATCH_BUDGET:
                    dispatcher.dispatch(events[:DISPATCH_BUDGET])
                    self._held = events[DISPATCH_BUDGET:]
                    return
                dispatcher.dispatch(events)
                events = conn.events_received()
        finally:
            self.batched = -1

    def _step(self) -> None:
        """One loop turn of work for a connection that has more: held events first, then unparsed bytes.

        Bytes go to the engine a slice at a time, and slices keep going in this turn only while they make
        few events (large frames cost little per byte here); a slice of tiny frames makes thousands, and
        the turn ends with the budget's worth delivered.
        """
        conn = self.conn
        assert conn is not None
        held = self._held
        if held is not None:
            self._held = None
            self._deliver(conn, held)
        made = 0
        while self._held is None and self._unparsed and made < DISPATCH_BUDGET:
            data = self._unparsed
            at = self._unparsed_at
            end = at + READ_SLICE
            if end < len(data):
                self._unparsed_at = end
            else:
                self._unparsed = b""
                self._unparsed_at = 0
            conn.receive_data(data[at:end])
            events = conn.events_received()
            if events:
                made += len(events)
                self._deliver(conn, events)
        self.flush()
        if self._held is not None or self._unparsed:
            self._yield()
        elif self._yielding:
            self._yielding = False
            transport = self.transport
            if transport is not None and (not self._reading_paused or self._read_allowance > 0):
                transport.resume_reading()  # a no-op once the transport is closing

    def _yield(self) -> None:
        """Leave the rest for the next loop turn, after every other connection's ready bytes; read nothing."""
        if not self._yielding:
            self._yielding = True
            assert self.transport is not None
            self.transport.pause_reading()
        self.server.loop.call_soon(self._step_if_open)

    def _step_if_open(self) -> None:
        if self._held is not None or self._unparsed:  # else the connection ended and delivered them
            self._step()

    def _parse_unparsed(self, conn: EngineConnection) -> None:
        """The connection is ending: what was read still counts, before the end (at most one read)."""
        if self._unparsed:
            data, at = self._unparsed, self._unparsed_at
            self._unparsed, self._unparsed_at = b"", 0
            conn.receive_data(data[at:])

    def _dispatch_pending(self, conn: EngineConnection) -> None:
        """Deliver every event the engine has, including a failure it held back until earlier messages."""
        dispatcher = self.dispatcher
        assert dispatcher is not None  # made with the engine connection
        held = self._held
        if held is not None:  # they came before anything the engine has now
            self._held = None
            dispatcher.dispatch(held)
        self._unparsed, self._unparsed_at = b"", 0  # the engine has ended (EOF parses them first)
        events = conn.events_received()
        while events:
            dispatcher.dispatch(events)
            events = conn.events_received()

    def _spend_read_allowance(self, nbytes: int) -> None:
        """A handler's backlog paused reading: read only a little more (enough for a close frame)."""
        self._read_allowance -= nbytes
        if self._read_allowance <= 0 and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        conn = self.conn
        if conn is not None:
            try:
                self._parse_unparsed(conn)
                conn.receive_eof()
                self._dispatch_pending(conn)
            except Exception:
                self._server_fault("eof_received")
        return None  # close the transport

    def _server_fault(self, where: str) -> None:
        """An exception escaped livews's own processing of this connection: log it with context, count it,
        record it (with its frames for the debugger under ``debug_on_error``), and drop the connection."""
        server = self.server
        server.server_errors += 1
        conn = self.conn
        state = "handshake" if conn is None else conn.state.name
        what = f"livews fault in {where}"
        client = self.client
        record = server.errors.add(
            "server", client, where, what, frames=server.debug_on_error, outcome="dropped"
        )
        _log.error(
            "%s for %s (path %s, state %s, %d bytes in, %d messages in); dropping it (error #%d)",
            what,
            client,
            client.path or "?",
            state,
            client.bytes_in,
            client.messages_in,
            record.number,
            exc_info=True,
            extra={"livews_error": record},
        )
        transport = self.transport
        if conn is not None and conn.state is _OPEN:
            try:
                conn.fail(CloseCode.INTERNAL_ERROR, "internal error")
                self.flush()
            except Exception:
                _log.debug("%s: no 1011 close frame after the fault", self, exc_info=True)
        if transport is not None:
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.server._protocols.discard(self)
        conn = self.conn
        if conn is not None:
            if conn.state is not _CLOSED:
                self._parse_unparsed(conn)
                conn.receive_eof()
            self._dispatch_pending(conn)
            self.server._forget(self.client)
            assert self.dispatcher is not None  # made with the engine connection
            task = self.dispatcher.task
            if task is not None:
                # An async handler method that outlives its connection gets close_timeout, then is cancelled
                # (``on_close`` still runs).
                self.server.loop.call_later(self.server.close_timeout, task.cancel)
        else:
            self.server._handshaking.done(self)
            self._release_head()
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.drain_waiter = None

    def pause_writing(self) -> None:
        if self.drain_waiter is None:
            self.drain_waiter = self.server.loop.create_future()

    def resume_writing(self) -> None:
        waiter = self.drain_waiter
        self.drain_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------------------------- handshake

    def _handshake_data(self, data: bytes) -> None:
        head = self._head
        assert head is not None
        server = self.server
        client = self.client
        try:
            try:
                request: UpgradeRequest | None = head.feed(data)
            except HandshakeError as exc:
                request = self._hixie76_request(exc)  # legacy hixie-76: re-raises if not one
            if request is None:
                self._hold_head(len(head))
                return
            self._release_head()
            client.scheme = "wss" if server.ssl is not None else "ws"
            if server.trusted_proxies is not None:
                self._behind_proxy(server.trusted_proxies, request.headers)
            request.peer = client.host  # for on_connect (a check by address, such as the console's)
            resource, subprotocol, extensions, deflate = self._accept(request)
            # Most servers have no header hook: then there is nothing to call or collect.
            extra = None
            if server.response_headers is not None or resource.response_headers is not None:
                extra = upgrade_headers(server, resource, request)
        except HandshakeError as exc:
            if exc.status in (405, 426) and self._answer_plain(exc):
                return
            _log.debug("handshake from %s:%s refused: %s", client.host, client.port, exc)
            self._release_head()
            self._refuse(exc)
            return
        assert self.transport is not None
        conn: EngineConnection
        if isinstance(request, Request):
            self.transport.write(
                accept_response(request, subprotocol=subprotocol, extensions=extensions, extra_headers=extra)
            )
            limits = server.resource_defaults.limits(resource)
            conn = Connection(limits, deflate=deflate, version=request.version)
        else:
            conn = self._hixie76_accept(request, resource, subprotocol)  # legacy hixie-76
        server._handshaking.done(self)
        rest = bytes(head.data[request.consumed :])
        self._head = None
        client.resource = resource
        client.path = request.path
        client.query_string = request.query_string
        client.headers = request.headers
        client.subprotocol = subprotocol
        client.version = request.version
        client.connected_at = time.monotonic()
        if resource.observer is not None:  # once per connection: see observe.py
            conn = Observed(conn, resource.observer, client)
        self.conn = conn
        dispatcher = self.dispatcher = Dispatcher(self, client)
        if resource.max_write_buffer is not None:
            self._max_write_buffer = resource.max_write_buffer
        if resource.write_limit is not None:
            self.write_limit = resource.write_limit
            self.transport.set_write_buffer_limits(high=resource.write_limit, low=resource.write_limit // 4)
        server._register(client)
        try:
            handler = resource.handler()
            handler.client = client
            client.handler = handler
        except BaseException:  # KeyboardInterrupt, SystemExit too
            _log.exception(
                "handler %s for %s could not be created",
                resource.handler.__qualname__,
                client.path,
                extra=connection_fields(client),
            )
            conn.fail(CloseCode.INTERNAL_ERROR, "internal error")
            self.flush()
            self._dispatch_pending(conn)
            return
        dispatcher.call("on_open", ())
        if rest:
            self.data_received(rest)
        else:
            self.flush()

    def _hold_head(self, size: int) -> None:
        """Count an incomplete head against the server-wide budget; past it, refuse this one with 503.

        A head that arrives whole in one read is never counted: only heads left waiting for more bytes are,
        so the budget bounds what slow or stalled handshakes hold together, and refusing the one whose bytes
        would pass it (rather than dropping the oldest) keeps every other connection's handshake intact.
        """
        server = self.server
        grown = server._head_bytes + size - self._head_held
        if grown > server.max_handshake_buffer:
            raise HandshakeError(503, "too many handshakes in progress")
        server._head_bytes = grown
        self._head_held = size

    def _release_head(self) -> None:
        if self._head_held:
            self.server._head_bytes -= self._head_held
            self._head_held = 0

    def _accept(self, request: UpgradeRequest) -> tuple[Resource, str | None, str | None, Any]:
        """Everything that decides whether this request becomes a connection (RFC 6455 §4.2.2)."""
        server = self.server
        resource = server.resources.resolve(request.path)
        if resource is None:
            raise HandshakeError(404, "no WebSocket resource at this path")
        if not resource.origin(request.origin):
            raise HandshakeError(403, "origin not allowed")
        if server.max_connections is not None and server._open >= server.max_connections:
            raise HandshakeError(503, "too many connections")
        if resource.max_clients is not None and server.count(request.path) >= resource.max_clients:
            raise HandshakeError(503, "too many clients on this resource")
        if resource.on_connect is not None:
            try:
                verdict = resource.on_connect(request)
            except Reject as exc:
                raise HandshakeError(exc.status, exc.reason) from None
            except BaseException:  # KeyboardInterrupt, SystemExit too
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
        if not isinstance(request, Request):
            return resource, subprotocol, None, None  # hixie-76 has no extensions
        extensions, deflate = server.negotiate_extensions(resource, request)
        return resource, subprotocol, extensions, deflate

    def _behind_proxy(self, proxies: TrustedProxies, headers: Headers) -> None:
        """The client's own address and scheme, as a trusted proxy reports them (``proxy.py``)."""
        client = self.client
        forwarded = proxies.client_of(client.host, headers)
        if forwarded is not None:
            client.host = forwarded[0]
            client.scheme = forwarded[1] or client.scheme

    def _answer_plain(self, refusal: HandshakeError) -> bool:
        """Answer a request without ``Upgrade`` in plain HTTP (``http.py``); False if it is not one."""
        head = self._head
        answer = plain_answer(self.server, head.data if head is not None else b"", refusal)
        if answer is None or self.transport is None:
            return False
        self.server.figures.http_responses[int(answer[9:12])] += 1
        self.transport.write(answer)
        self.transport.close()
        return True

    def _refuse(self, error: HandshakeError) -> None:
        self.server.figures.handshake_refusals[error.status] += 1
        transport = self.transport
        if transport is not None:
            transport.write(reject_response(error))
            transport.close()

    def _handshake_timed_out(self) -> None:
        """Past ``handshake_timeout`` without a complete head (``deadlines.py``): drop the connection."""
        if self.conn is None and self.transport is not None:
            _log.debug("handshake from %s:%s timed out", self.client.host, self.client.port)
            self.transport.abort()

    # ------------------------------------------------------------------------- legacy hixie-76
    # The draft-76 integration is these two methods, the two calls marked "legacy hixie-76" in
    # _handshake_data and the guard in _keepalive_ping. livews.engine.hixie76 is imported only when the
    # server's switch is on and a request failed the RFC 6455 parse.

    def _hixie76_request(self, error: HandshakeError) -> UpgradeRequest | None:
        """The draft-76 request in the head (None until its 8 key bytes arrive), or re-raise ``error``.

        The RFC 6455 parse refuses every draft-76 request with 400 or 426 (no key, no version); with the
        switch off, or for any other request, that refusal stays the answer.
        """
        server = self.server
        if not server.legacy_hixie76 or error.status not in (400, 426):
            raise error
        from ..engine import hixie76

        assert self._head is not None
        if not hixie76.is_hixie76_request(self._head.data, server.limits):
            raise error
        return hixie76.parse_request(self._head.data, server.limits)

    def _hixie76_accept(
        self, request: UpgradeRequest, resource: Resource, subprotocol: str | None
    ) -> EngineConnection:
        """Write the draft-76 response; return the connection that speaks the draft."""
        from ..engine import hixie76

        assert self.transport is not None and isinstance(request, hixie76.Hixie76Request)
        secure = self.server.ssl is not None
        self.transport.write(hixie76.accept_response(request, secure=secure, subprotocol=subprotocol))
        return hixie76.Hixie76Connection(self.server.resource_defaults.limits(resource))

    # --------------------------------------------------------------------------------------- writing

    def flush(self) -> None:
        """Write what the engine has to send; close the transport once the engine says so."""
        conn = self.conn
        if conn is None:
            return
        chunks = conn.chunks_to_send()
        if self.batched > 0:
            self.batched = 0  # a batch that passed the high-water mark goes on from zero
        transport = self.transport
        if transport is None:
            return
        if chunks:
            if self.drain_waiter is not None and self._over_hard_limit(transport):
                return
            client = self.client
            for chunk in chunks:  # a large payload is its own chunk: written without a join
                client.bytes_out += len(chunk)
                transport.write(chunk)
        if conn.close_transport and not transport.is_closing():
            transport.close()
            # With nothing left to send, a plain TCP transport is gone at once (connection_lost is on its
            # way) and no timer is needed; bytes still queued wait for a peer that may never read them, and
            # a TLS transport has its goodbye to say: that wait is bounded by close_timeout.
            if self.server.ssl is not None or transport.get_write_buffer_size():
                self.closing_started()
        elif conn.compressing and not self._stepping:
            self._stepping = True
            self.server.loop.call_soon(self._compress_step)

    def _compress_step(self) -> None:
        """One step of a large message compressed a step per loop turn (``Connection.compress_step``), so
        other connections are served in between. Steps go on while the client is slow to read, so what they
        make reaches the write buffer, where the hard limit (``max_write_buffer``) sees it as before."""
        self._stepping = False
        conn = self.conn
        if conn is None or self.transport is None or self.transport.is_closing():
            return
        try:
            conn.compress_step()
            self.flush()
        except Exception:
            self._server_fault("compress_step")

    def write_frame(self, frame: bytes) -> None:
        """Write a data frame encoded by ``encode_message`` of a connection with this one's framing.

        For broadcast: the caller checked that the connection is open. Behind what this client's handler
        sent during the read being dispatched, if any; dropped (and the client closed with 1008) if the
        client is over its hard write-buffer limit.
        """
        batched = self.batched
        if batched < 0:
            transport = self.transport
            assert transport is not None  # set before the handshake, kept to the end
            if self.drain_waiter is not None and self._over_hard_limit(transport):
                return
            client = self.client
            client.messages_out += 1
            client.bytes_out += len(frame)
            transport.write(frame)
            return
        conn = self.conn
        assert conn is not None
        conn.send_encoded(frame)
        self.client.messages_out += 1
        self.batched = batched = batched + len(frame)
        if batched > self.write_limit:
            self.flush()  # so the hard write-buffer limit sees it, as it sees any other send

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
            self.client,
            self._max_write_buffer,
            extra=connection_fields(self.client),
        )
        self.server.figures.write_buffer_drops += 1
        conn = self.conn
        assert conn is not None and self.transport is not None
        conn.fail(CloseCode.POLICY_VIOLATION, "client not reading")
        conn.data_to_send()  # the close frame cannot get past the unread bytes
        self.transport.abort()

    def closing_started(self) -> None:
        """Bound the closing handshake: a peer that never answers or never reads is dropped."""
        if self._timer is None:
            self._timer = self.server.loop.call_later(self.server.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------------------------- keepalive

    def ping_due(self, now: float, interval: float) -> bool:
        """Whether keepalive should ping now: open, no ping unanswered, none sent for ``interval`` seconds."""
        conn = self.conn
        if conn is None or conn.state is not _OPEN or self._ping_sent_at is not None:
            return False
        return now - (self._last_ping_at or self.client.connected_at) >= interval

    def pong_overdue(self, now: float, timeout: float) -> bool:
        """Whether keepalive's ping has waited more than ``timeout`` seconds for its pong.

        Never for a client held for the debugger: its pong may wait behind paused reading, and the hold has
        its own time limit.
        """
        sent = self._ping_sent_at
        if sent is None or now - sent <= timeout or self.held_error() is not None:
            return False
        conn = self.conn
        return conn is not None and conn.state is _OPEN

    def keepalive_ping(self, payload: bytes, now: float) -> None:
        conn = self.conn
        if conn is None or not conn.supports_ping:
            return  # legacy hixie-76: the draft has no ping, so no pong will ever come
        self._ping_sent_at = self._last_ping_at = now
        self._ping_payload = payload
        self.client.ping(payload)

    def pong_received(self, payload: bytes) -> None:
        """A pong arrived (told before ``on_pong``): keepalive's round trip, if it answers its ping."""
        if self._ping_sent_at is not None and payload == self._ping_payload:
            self.client.latency = time.monotonic() - self._ping_sent_at
            self._ping_sent_at = None

    def restart_keepalive(self) -> None:
        """Forget the unanswered ping and count the interval from now (a hold for the debugger ended).

        Its pong may still wait behind the reading the hold paused: judged against the ping's age, keepalive
        would drop the client it was just told to go on with. A pong for it that arrives later is ignored.
        """
        self._ping_sent_at = None
        self._last_ping_at = time.monotonic()

    # ------------------------------------------------------------------------- for the dispatcher

    def pause_for_backlog(self) -> None:
        """Events pile up behind an ``async`` handler method: stop reading after a few more bytes.

        A close frame right behind the backlog still reaches the engine, which answers it at once.
        """
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self._read_allowance = _PAUSED_READ_ALLOWANCE

    def backlog_drained(self) -> None:
        """The backlog that paused reading is down to half: read again (unless a yield still waits)."""
        if self._reading_paused:
            self._reading_paused = False
            transport = self.transport
            if transport is not None and not transport.is_closing() and not self._yielding:
                transport.resume_reading()

    def fail_after_error(self) -> None:
        """A handler method raised: close with 1011, with no internals on the wire, and deliver the rest."""
        conn = self.conn
        if conn is not None and conn.state is not _CLOSED:
            conn.fail(CloseCode.INTERNAL_ERROR, "internal error")
            self.flush()
            self._dispatch_pending(conn)

    # ----------------------------------------------------------------- for the server's other modules
    # What keepalive, broadcast and the server ask of a connection besides the above and ``write_frame``:
    # they read ``conn`` (the engine connection, None during the handshake) and call these.

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection with ``code`` (RFC 6455 §7.1.7): close frame, ``on_close``, then TCP."""
        conn = self.conn
        if conn is None or conn.state is not _OPEN:
            return
        conn.fail(code, reason)
        self._dispatch_pending(conn)
        self.flush()

    def close_if_handshaking(self) -> None:
        """Close a connection still in its handshake (a leaving server has nothing to say to it)."""
        if self.conn is None and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the TCP connection now, unsent bytes and all (``connection_lost`` follows)."""
        if self.transport is not None:
            self.transport.abort()

    def held_error(self) -> ErrorRecord | None:
        """The error this connection is held on for the debugger (``debug_on_error``), if it is held."""
        dispatcher = self.dispatcher
        hold = None if dispatcher is None else dispatcher.hold
        return None if hold is None else hold.record


class DirectReadProtocol(ServerProtocol, asyncio.BufferedProtocol):
    """``ServerProtocol`` reading with ``recv_into``: large payloads land in the message they become."""

    __slots__ = ("_read_buffer", "_reading_direct")

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self._reading_direct = False  # the last get_buffer() was the engine's view of a large payload
        self._read_buffer = server._read_buffer  # the server's, read per read: held here, one lookup less

    def get_buffer(self, sizehint: int) -> memoryview:
        conn = self.conn
        if conn is not None and conn.receiving_payload:
            view = conn.receive_buffer()
            if view is not None:
                self._reading_direct = True
                return view
        self._reading_direct = False
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._reading_direct:
            # Straight into a large payload: no copy, and the engine unmasks it where it landed.
            self._reading_direct = False
            conn = self.conn
            assert conn is not None
            self.client.bytes_in += nbytes
            try:
                if self._reading_paused:
                    self._spend_read_allowance(nbytes)
                conn.receive_buffer_updated(nbytes)
                self._received(conn)
            except Exception:  # as in data_received: a fault of livews, not of a handler
                self._server_fault("buffer_updated")
            return
        conn = self.conn
        if conn is None:
            self.data_received(self._read_buffer[:nbytes].tobytes())
            return
        # data_received's open-connection path, inline: a read of a small message is the common case.
        # Never longer than READ_SLICE: the shared buffer is DIRECT_READ_SIZE. The engine is given a view of
        # the buffer, not a copy: it copies only what it keeps (a partial frame), before the next read.
        data = self._read_buffer[:nbytes]
        try:
            self.client.bytes_in += nbytes
            if self._reading_paused:
                self._spend_read_allowance(nbytes)
            conn.receive_data(data)
            events = conn.events_received()
            if events:
                self._deliver(conn, events)
                if self._held is not None:
                    self._yield()
            self.flush()
        except Exception:  # reported as data_received's, whose path this is
            self._server_fault("data_received")
