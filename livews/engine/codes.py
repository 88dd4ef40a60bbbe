"""Opcodes and close codes of RFC 6455, and which close codes may appear on the wire.

Knows nothing of frames or connections: just the numbers and the rules about them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CloseCode", "Opcode", "is_valid_wire_close_code"]


class Opcode(IntEnum):
    """RFC 6455 §5.2 opcodes; every other value is reserved and fails the connection."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


DATA_OPCODES = frozenset({Opcode.CONT, Opcode.TEXT, Opcode.BINARY})
CONTROL_OPCODES = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})
KNOWN_OPCODES = DATA_OPCODES | CONTROL_OPCODES


class CloseCode(IntEnum):
    """RFC 6455 §7.4.1 close codes (and 1012-1014 from the IANA registry)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005  # never on the wire: "the close frame had no code"
    ABNORMAL = 1006  # never on the wire: "the TCP connection ended without a close frame"
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never on the wire


# RFC 6455 §7.4.1/§7.4.2: codes 1000-2999 belong to the RFC and IANA; only the assigned ones that are meant
# to be sent are legal. 3000-4999 are for libraries and applications and always legal.
_WIRE_CODES_BELOW_3000 = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


def is_valid_wire_close_code(code: int) -> bool:
    """True if ``code`` may be carried by a close frame (received or sent)."""
    return code in _WIRE_CODES_BELOW_3000 or 3000 <= code <= 4999
