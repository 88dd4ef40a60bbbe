"""Events the engine hands to its driver: one small slotted object per thing that happened.

The server maps each event to one handler call; nothing here knows about handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BinaryMessage", "CloseReceived", "Event", "PingReceived", "PongReceived", "TextMessage"]


@dataclass(slots=True)
class TextMessage:
    """A complete, UTF-8-validated text message."""

    data: str


@dataclass(slots=True)
class BinaryMessage:
    """A complete binary message."""

    data: bytes


@dataclass(slots=True)
class PingReceived:
    """A ping; the engine has already queued the pong."""

    payload: bytes


@dataclass(slots=True)
class PongReceived:
    """A pong (solicited or not)."""

    payload: bytes


@dataclass(slots=True)
class CloseReceived:
    """The connection is finished, for whatever reason; always the last event, emitted once.

    ``code``/``reason`` are what the peer sent (1005 if its close frame had no code), or 1006 if the
    transport ended without a close frame, or the code the engine failed the connection with.
    ``by_peer`` tells whether the peer started the close.
    """

    code: int
    reason: str
    by_peer: bool


Event = TextMessage | BinaryMessage | PingReceived | PongReceived | CloseReceived
