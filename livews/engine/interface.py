"""What a driver may ask of an engine connection and of a parsed opening handshake, whatever the protocol.

The server drives RFC 6455 connections (``Connection``) and, behind a switch, the draft hixie-76 ones
(``Hixie76Connection``) through the same calls; these ``typing.Protocol`` classes name those calls, so the
server is typed against one interface instead of ``Any``, and mypy checks that both connections (and both
kinds of request) provide it. Where the draft cannot do what RFC 6455 does it says so in a flag
(``supports_binary``, ``supports_ping``), not in a missing attribute.

Only types: nothing here runs per message, and nothing is imported at run time but the standard library.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .connection import Connection, State
    from .deflate import PerMessageDeflate
    from .events import Event
    from .handshake import Headers, Request
    from .hixie76 import Hixie76Connection, Hixie76Request

__all__ = ["EngineConnection", "UpgradeRequest"]


class EngineConnection(Protocol):
    """One open WebSocket connection as bytes in, events and bytes out (see ``Connection`` for each call)."""

    @property
    def state(self) -> State: ...

    @property
    def version(self) -> int:
        """The protocol version spoken: 13, 8 or 7 for RFC 6455 and its drafts, 0 for hixie-76."""

    @property
    def close_transport(self) -> bool:
        """True once the driver should write what is left and close the TCP connection."""

    @property
    def framing_key(self) -> Hashable | None:
        """Connections with equal non-None keys encode a message to identical bytes (for broadcast)."""

    @property
    def deflate(self) -> PerMessageDeflate | None: ...

    @property
    def supports_binary(self) -> bool:
        """Whether binary messages can be sent (hixie-76: no; a binary broadcast skips the connection)."""

    @property
    def supports_ping(self) -> bool:
        """Whether a ping gets a pong (hixie-76: no; keepalive must not wait for one)."""

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport; nothing keeps ``data`` after the call (it may be reused)."""

    def receive_eof(self) -> None: ...

    @property
    def receiving_payload(self) -> bool:
        """Whether a payload is arriving that ``receive_buffer`` may offer a view into (if not: None)."""

    def receive_buffer(self) -> memoryview | None: ...

    def receive_buffer_updated(self, nbytes: int) -> None: ...

    def events_received(self) -> list[Event]: ...

    def data_to_send(self) -> bytes: ...

    def chunks_to_send(self) -> list[bytes]: ...

    @property
    def compressing(self) -> bool:
        """A large message is being compressed in steps: the driver calls ``compress_step`` once per turn."""

    def compress_step(self) -> None: ...

    def encode_message(
        self, opcode: int, data: bytes, *, frame_size: int | None = None, compress: bool = True
    ) -> bytes: ...

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None: ...

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None: ...

    def send_encoded(self, frame: bytes) -> None: ...

    def send_ping(self, payload: bytes = b"") -> None: ...

    def send_pong(self, payload: bytes = b"") -> None: ...

    def send_close(self, code: int = ..., reason: str = "") -> None: ...

    def fail(self, code: int, reason: str = "") -> None: ...


class UpgradeRequest(Protocol):
    """A parsed opening handshake, RFC 6455 (``handshake.Request``) or hixie-76 (``Hixie76Request``).

    ``consumed`` is the size of the head (for hixie-76, with its eight key bytes): bytes after it are
    already WebSocket data. ``version`` is 0 for hixie-76, which has no extensions to negotiate.
    """

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def query_string(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def origin(self) -> str | None: ...

    @property
    def subprotocols(self) -> list[str]: ...

    @property
    def version(self) -> int: ...

    @property
    def consumed(self) -> int: ...

    #: The client's address as the server knows it (a trusted proxy's report, else the socket's peer), set
    #: by the server before ``on_connect`` sees the request; ``None`` until then.
    peer: str | None


if TYPE_CHECKING:
    # mypy checks here that both engines, and both kinds of request, provide the interface.
    def _rfc6455(conn: Connection, request: Request) -> tuple[EngineConnection, UpgradeRequest]:
        return conn, request

    def _hixie76(conn: Hixie76Connection, request: Hixie76Request) -> tuple[EngineConnection, UpgradeRequest]:
        return conn, request
