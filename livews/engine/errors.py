"""One exception tree for everything that can go wrong in the engine.

Each error knows how it ends the exchange: a close code for a WebSocket connection, an HTTP status for a
handshake. The connection turns that into bytes in one place, so no caller builds a close frame for an error.
"""

from __future__ import annotations

from .codes import CloseCode

__all__ = [
    "HandshakeError",
    "InvalidUTF8",
    "LivewsError",
    "MessageTooBig",
    "PolicyViolation",
    "ProtocolError",
    "WebSocketError",
]


class LivewsError(Exception):
    """Base of every error livews raises on purpose."""


class HandshakeError(LivewsError):
    """The opening handshake is refused with an HTTP status and a short, safe reason.

    ``headers`` are extra response headers (e.g. ``Sec-WebSocket-Version`` on a 426).
    """

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers or []


class WebSocketError(LivewsError):
    """The peer broke a rule after the handshake: the connection fails with ``close_code``.

    ``reason`` goes on the wire in the close frame, so it must be short and reveal no internals.
    """

    close_code: int = CloseCode.PROTOCOL_ERROR

    def __init__(self, reason: str = "", close_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if close_code is not None:
            self.close_code = close_code


class ProtocolError(WebSocketError):
    """Framing rule broken (RFC 6455 §5): 1002."""

    close_code = CloseCode.PROTOCOL_ERROR


class InvalidUTF8(WebSocketError):
    """Text payload or close reason is not UTF-8 (RFC 6455 §8.1): 1007."""

    close_code = CloseCode.INVALID_DATA


class MessageTooBig(WebSocketError):
    """A frame or message exceeds a configured limit: 1009."""

    close_code = CloseCode.MESSAGE_TOO_BIG


class PolicyViolation(WebSocketError):
    """Application policy broken (e.g. a peer that never reads its data): 1008."""

    close_code = CloseCode.POLICY_VIOLATION
