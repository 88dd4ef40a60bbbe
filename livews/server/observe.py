"""Watching the messages of one resource's connections without touching its handler or the hot path.

A resource with an ``observer`` (``Resource(observer=...)``; a notebook's ``next_message`` is one) has each
of its connections' engine connections wrapped, once, when the handshake succeeds: the wrapper hands every
message the engine parses to ``observer(client, message)`` and then to the server as usual. The handler
instance stays an instance of its own class (``type(handler) is Cls``, before and after a live swap), and
connections of resources without an observer keep the bare engine connection: they pay nothing, not even a
check per message.

The observer runs on the server loop, inside the read that carried the message and before the handler gets
it; it must return quickly. An observer that raises is logged and the message still reaches the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..engine.events import BinaryMessage, TextMessage

if TYPE_CHECKING:
    from ..engine.connection import State
    from ..engine.deflate import PerMessageDeflate
    from ..engine.events import Event
    from ..engine.interface import EngineConnection

__all__ = ["Observed", "Observer"]

_log = logging.getLogger("livews.server")

#: ``observer(client, message)``: ``message`` is a ``str`` (text) or ``bytes`` (binary).
Observer = Callable[[Any, "str | bytes"], object]


class Observed:
    """An engine connection (``EngineConnection``) that shows each parsed message to an observer first."""

    __slots__ = ("_client", "_conn", "_observer")

    def __init__(self, conn: EngineConnection, observer: Observer, client: Any) -> None:
        self._conn = conn
        self._observer = observer
        self._client = client

    def events_received(self) -> list[Event]:
        events = self._conn.events_received()
        for event in events:
            if type(event) is TextMessage or type(event) is BinaryMessage:
                try:
                    self._observer(self._client, event.data)
                except Exception:
                    _log.exception("the observer of %s raised; the message goes on", self._client)
        return events

    # Everything else is the engine connection's, unchanged.

    @property
    def state(self) -> State:
        return self._conn.state

    @property
    def version(self) -> int:
        return self._conn.version

    @property
    def close_transport(self) -> bool:
        return self._conn.close_transport

    @property
    def framing_key(self) -> Hashable | None:
        return self._conn.framing_key

    @property
    def deflate(self) -> PerMessageDeflate | None:
        return self._conn.deflate

    @property
    def compressing(self) -> bool:
        return self._conn.compressing

    @property
    def receiving_payload(self) -> bool:
        return self._conn.receiving_payload

    def compress_step(self) -> None:
        self._conn.compress_step()

    @property
    def supports_binary(self) -> bool:
        return self._conn.supports_binary

    @property
    def supports_ping(self) -> bool:
        return self._conn.supports_ping

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._conn.receive_data(data)

    def receive_eof(self) -> None:
        self._conn.receive_eof()

    def receive_buffer(self) -> memoryview | None:
        return self._conn.receive_buffer()

    def receive_buffer_updated(self, nbytes: int) -> None:
        self._conn.receive_buffer_updated(nbytes)

    def data_to_send(self) -> bytes:
        return self._conn.data_to_send()

    def chunks_to_send(self) -> list[bytes]:
        return self._conn.chunks_to_send()

    def encode_message(
        self, opcode: int, data: bytes, *, frame_size: int | None = None, compress: bool = True
    ) -> bytes:
        return self._conn.encode_message(opcode, data, frame_size=frame_size, compress=compress)

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None:
        self._conn.send_text(text, frame_size=frame_size, compress=compress)

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        self._conn.send_binary(data, frame_size=frame_size, compress=compress)

    def send_encoded(self, frame: bytes) -> None:
        self._conn.send_encoded(frame)

    def send_ping(self, payload: bytes = b"") -> None:
        self._conn.send_ping(payload)

    def send_pong(self, payload: bytes = b"") -> None:
        self._conn.send_pong(payload)

    def send_close(self, code: int | None = None, reason: str = "") -> None:
        if code is None:
            self._conn.send_close(reason=reason)
        else:
            self._conn.send_close(code, reason)

    def fail(self, code: int, reason: str = "") -> None:
        self._conn.fail(code, reason)


if TYPE_CHECKING:
    # mypy checks here that the wrapper provides the whole engine interface.
    def _observed(conn: Observed) -> EngineConnection:
        return conn
