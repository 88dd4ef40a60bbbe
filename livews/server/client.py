"""What handlers, the REPL and server listings see of one connection: sending, closing, facts, counters.

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
    from ..engine.interface import EngineConnection
    from ..handler import Handler
    from ..resource import Resource
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
    """One connected WebSocket client (the server side of it)."""

    # Facts, set when the handshake succeeds.
    #: Number of this connection on its server (1, 2, ...), for listings and the REPL.
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

    _conn: EngineConnection | None
    _transport: asyncio.Transport | None
    _drain_waiter: asyncio.Future[None] | None
    #: While a read is dispatched, about how many bytes were sent since the batch was last written (they
    #: are written once, when it is done); -1 when no read is dispatched (a send is written at once).
    _batched: int
    _write_limit: int  # the write buffer's high-water mark: a batch that grows past it is written at once

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
        return self._conn is not None and self._conn.state is _OPEN

    @property
    def state(self) -> ClientState:
        """``CONNECTING`` until the handshake is done, then the engine connection's state by the same name."""
        conn = self._conn
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
        conn = self._conn
        if conn is not None and conn.state is _OPEN:
            if frame_size is None and compress:
                conn.send_text(text)  # the usual call, without passing the defaults by keyword
            else:
                conn.send_text(text, frame_size=frame_size, compress=compress)
            self.messages_out += 1
            batched = self._batched
            if batched < 0:
                self._flush()
            else:
                self._batched = batched = batched + len(text)
                if batched > self._write_limit:
                    self._flush()  # so the hard write-buffer limit sees it, as it sees any other send

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        """Send a binary message (fragmented into ``frame_size``-byte frames if given); dropped if closed."""
        conn = self._conn
        if conn is not None and conn.state is _OPEN:
            if frame_size is None and compress:
                conn.send_binary(data)  # the usual call, without passing the defaults by keyword
            else:
                conn.send_binary(data, frame_size=frame_size, compress=compress)
            self.messages_out += 1
            batched = self._batched
            if batched < 0:
                self._flush()
            else:
                self._batched = batched = batched + len(data)
                if batched > self._write_limit:
                    self._flush()  # so the hard write-buffer limit sees it, as it sees any other send

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping; the pong reaches the handler's ``on_pong``. At most 125 bytes."""
        conn = self._conn
        if conn is not None:
            conn.send_ping(payload)
            self._flush()

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake; ``ValueError`` for a code or reason that may not be sent."""
        conn = self._conn
        if conn is None or conn.state is not _OPEN:
            check_close(code, reason)  # refused the same way when there is nothing left to close
            return
        conn.send_close(code, reason)  # validates code and reason
        self._flush()
        self._closing_started()

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark (returns at once if it is).

        Raises ``ConnectionClosed`` once the connection is closing or closed, so a producer loop
        ``send(...); await drain()`` ends when its client goes away.
        """
        waiter = self._drain_waiter
        if waiter is not None:
            await asyncio.shield(waiter)
        conn = self._conn
        transport = self._transport
        # A transport that is closing drops what is written and tells us only on the next loop turn.
        if conn is None or conn.state is not _OPEN or transport is None or transport.is_closing():
            raise ConnectionClosed(self.close_code, self.close_reason)

    # ------------------------------------------------------------------------- implemented by protocol

    def _flush(self) -> None:
        raise NotImplementedError

    def _write_frame(self, frame: bytes) -> None:
        raise NotImplementedError

    def _closing_started(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if hasattr(self, "host") else "?"
        path = getattr(self, "path", "?")
        query = getattr(self, "query_string", "")
        return f"<Client #{self.id} {where} {path}{'?' + query if query else ''} {self.state}>"

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
