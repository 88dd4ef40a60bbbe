"""What handlers, the REPL and server listings see of one connection: sending, closing, facts, counters.

A ``Client`` is the public face of a private session (``protocol.ServerProtocol``), which does the work; it
reads and sends through the session's small interface (``conn``, ``transport``, ``flush()``, ...).

Every method here runs on the server's event loop thread (handlers already do; the live layer hops there).
Sending is a plain call that encodes the frame and hands it to the transport at once; ``await drain()`` lets a
producer wait while the client's write buffer is over its high-water mark.
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..engine.codes import CloseCode
from ..engine.connection import State, check_close
from ..engine.handshake import Headers
from ..engine.http import parse_cookies

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..handler import Handler
    from ..resource import Resource
    from .protocol import ServerProtocol
    from .server import Server

__all__ = ["Client", "ClientState", "ConnectionClosed"]

#: Engine states as module constants: ``State.OPEN`` is a metaclass ``__getattr__`` call on Python 3.11
#: (about ten times a global's cost), and these are read on every send.
_OPEN = State.OPEN


class ClientState(str, Enum):
    """Where a client is in its life: the engine's ``State`` names, plus ``CONNECTING`` before the handshake.

    The engine's ``Connection`` exists only after the handshake, so it has no connecting state; a ``Client``
    exists from the first byte. A ``str`` enum, so ``client.state == "OPEN"`` and JSON listings keep working,
    and it prints as its name (``StrEnum`` would, but it is Python 3.11+ and livews supports 3.10).
    """

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class ConnectionClosed(Exception):
    """The connection is closed (or closing), so nothing more can be sent: raised by ``drain()``.

    ``code`` and ``reason`` are the close code and reason once known (``None`` and ``""`` while the closing
    handshake is still under way). Raised inside a handler method, it ends that method quietly: it is not
    a handler error.
    """

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        detail = f" ({code}{' ' + reason if reason else ''})" if code is not None else ""
        super().__init__("connection closed" + detail)
        self.code = code
        self.reason = reason


class Client:
    """One connected WebSocket client (the server side of it): what handlers, the REPL and listings see.

    The public face of a connection. The work behind it (reading, the engine, writing, timers, delivering
    events) is its session's, a private ``ServerProtocol`` (``protocol.py``); a ``Client`` holds the facts
    and counters, and sends through the session's small interface.
    """

    # Every fact lives in a slot (idle memory per connection is measured in ``bench/``); ``__dict__`` stays,
    # empty unless a user puts attributes of their own on a client, and ``__weakref__`` for error records.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_session",
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
        "scheme",
        "server",
        "subprotocol",
        "version",
    )

    # Facts, set when the handshake succeeds (``host`` and ``port`` when the TCP connection is made).
    #: Number of this connection on its server (1, 2, ...), for listings and the REPL; 0 until the handshake.
    id: int
    server: Server
    resource: Resource
    handler: Handler | None
    host: str
    port: int
    path: str
    #: "ws" or "wss" as the client connected (through a trusted proxy: as the proxy reports it).
    scheme: str
    query_string: str
    headers: Headers
    subprotocol: str | None
    version: int
    connected_at: float
    #: Round-trip time of the last keepalive ping, in seconds (None before the first pong).
    latency: float | None
    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    #: Close code and reason once the connection has ended (``None`` before).
    close_code: int | None
    close_reason: str

    def __init__(self, session: ServerProtocol, server: Server) -> None:
        self._session = session
        self.server = server
        self.id = 0
        self.handler = None
        self.host = "?"
        self.port = 0
        self.path = ""
        self.query_string = ""
        self.latency = None
        self.messages_in = self.messages_out = self.bytes_in = self.bytes_out = 0
        self.close_code = None
        self.close_reason = ""

    # ---------------------------------------------------------------------------------------- facts

    @property
    def query(self) -> str:
        """The raw query string (``query_string``), as listings show it."""
        return self.query_string

    @property
    def path_params(self) -> dict[str, str]:
        """The values of a pattern path's ``{name}`` segments (``/rooms/{room}``), percent-decoded.

        ``{}`` for an exact path. Read from the path when asked, so the handshake does no work for them.
        """
        return self.resource.path_params(self.path)

    @property
    def cookies(self) -> dict[str, str]:
        """The handshake's ``Cookie`` header as name -> value (the first of a repeated name wins)."""
        return parse_cookies(self.headers)

    @property
    def query_params(self) -> dict[str, str]:
        """Query parameters, percent-decoded; the first value wins for a repeated name.

        For every value of a repeated name use ``urllib.parse.parse_qs(client.query_string)``.
        """
        params: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            params.setdefault(key, value)
        return params

    @property
    def open(self) -> bool:
        """True while messages can be sent."""
        conn = self._session.conn
        return conn is not None and conn.state is _OPEN

    @property
    def state(self) -> ClientState:
        """``CONNECTING`` until the handshake is done, then the engine connection's state by the same name."""
        conn = self._session.conn
        return ClientState.CONNECTING if conn is None else ClientState[conn.state.name]

    @property
    def connected_for(self) -> float:
        return time.monotonic() - self.connected_at

    def others(self) -> list[Client]:
        """The other open clients connected to the same path (a snapshot)."""
        return [c for c in self.server.clients(self.path) if c is not self and c.open]

    # --------------------------------------------------------------------------------------- sending

    def send(self, message: str | bytes) -> None:
        """Send ``message`` as text (``str``) or binary (``bytes``-like); dropped if closed."""
        if isinstance(message, str):
            self.send_text(message)
        elif isinstance(message, (bytes, bytearray, memoryview)):
            self.send_binary(bytes(message))
        else:
            raise TypeError(f"send str or bytes, not {type(message).__name__}")

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Send a text message (fragmented into ``frame_size``-byte frames if given); dropped if closed."""
        session = self._session
        conn = session.conn
        if conn is not None and conn.state is _OPEN:
            if frame_size is None and compress:
                conn.send_text(text)  # the usual call, without passing the defaults by keyword
            else:
                conn.send_text(text, frame_size=frame_size, compress=compress)
            self.messages_out += 1
            # The session's ``sent``, inline: a call less on every send.
            batched = session.batched
            if batched < 0:
                session.flush()
            else:
                session.batched = batched = batched + len(text)
                if batched > session.write_limit:
                    session.flush()

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Send a binary message (fragmented into ``frame_size``-byte frames if given); dropped if closed."""
        session = self._session
        conn = session.conn
        if conn is not None and conn.state is _OPEN:
            if frame_size is None and compress:
                conn.send_binary(data)  # the usual call, without passing the defaults by keyword
            else:
                conn.send_binary(data, frame_size=frame_size, compress=compress)
            self.messages_out += 1
            batched = session.batched  # as in send_text
            if batched < 0:
                session.flush()
            else:
                session.batched = batched = batched + len(data)
                if batched > session.write_limit:
                    session.flush()

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping; the pong reaches the handler's ``on_pong``. At most 125 bytes."""
        session = self._session
        conn = session.conn
        if conn is not None:
            conn.send_ping(payload)
            session.flush()

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake; ``ValueError`` for a code or reason that may not be sent."""
        session = self._session
        conn = session.conn
        if conn is None or conn.state is not _OPEN:
            check_close(code, reason)  # refused the same way when there is nothing left to close
            return
        conn.send_close(code, reason)  # validates code and reason
        session.flush()
        session.closing_started()

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark (returns at once if it is).

        Raises ``ConnectionClosed`` once the connection is closing or closed, so a producer loop
        ``send(...); await drain()`` ends when its client goes away.
        """
        session = self._session
        waiter = session.drain_waiter
        if waiter is not None:
            await asyncio.shield(waiter)
        conn = session.conn
        transport = session.transport
        # A transport that is closing drops what is written and tells us only on the next loop turn.
        if conn is None or conn.state is not _OPEN or transport is None or transport.is_closing():
            raise ConnectionClosed(self.close_code, self.close_reason)

    # --------------------------------------------------------------------------------- for the live layer

    def in_call(self) -> bool:
        """Whether an ``async`` handler method of this connection is running (its events wait meanwhile).

        A connection held for the debugger waits in the same queue but runs nothing: not in a call.
        """
        dispatcher = self._session.dispatcher
        return dispatcher is not None and dispatcher.in_call()

    def after_call(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the running ``async`` method ended, before the next event (now if none)."""
        dispatcher = self._session.dispatcher
        if dispatcher is None:
            callback()
        else:
            dispatcher.after_call(callback)

    def __repr__(self) -> str:
        query = f"?{self.query_string}" if self.query_string else ""
        return f"<Client #{self.id} {self.host}:{self.port} {self.path}{query} {self.state}>"

    def info(self) -> dict[str, Any]:
        """The facts of this client as a plain dict (for tables and logs)."""
        return {
            "id": self.id,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "query": self.query_string,
            "subprotocol": self.subprotocol,
            "version": self.version,
            "state": self.state,
            "connected_for": self.connected_for,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "latency": self.latency,
        }
