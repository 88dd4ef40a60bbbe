"""The livews frame engine: RFC 6455 (and RFC 7692) as bytes in, events and bytes out.

Sans-I/O and standard library only: no sockets, no asyncio, no clocks, and no knowledge of the server or the
live layer above it. Everything here can be tested by feeding bytes.
"""

from __future__ import annotations

from .codes import CloseCode, Opcode, is_valid_wire_close_code
from .connection import PLAIN_FRAMING, Connection, State, check_close
from .errors import (
    HandshakeError,
    InvalidUTF8,
    LivewsError,
    MessageTooBig,
    PolicyViolation,
    ProtocolError,
    WebSocketError,
)
from .events import BinaryMessage, CloseReceived, Event, PingReceived, PongReceived, TextMessage
from .frames import encode_frame
from .interface import EngineConnection, UpgradeRequest
from .limits import HandshakeLimits, MessageLimits

__all__ = [
    "PLAIN_FRAMING",
    "BinaryMessage",
    "CloseCode",
    "CloseReceived",
    "Connection",
    "EngineConnection",
    "Event",
    "HandshakeError",
    "HandshakeLimits",
    "InvalidUTF8",
    "LivewsError",
    "MessageLimits",
    "MessageTooBig",
    "Opcode",
    "PingReceived",
    "PolicyViolation",
    "PongReceived",
    "ProtocolError",
    "State",
    "TextMessage",
    "UpgradeRequest",
    "WebSocketError",
    "check_close",
    "encode_frame",
    "is_valid_wire_close_code",
]
