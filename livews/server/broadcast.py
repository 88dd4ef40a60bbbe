"""Broadcast: one message to many clients, encoded once per framing group, never waiting on anyone.

Server frames are unmasked, so every client that frames messages the same way (no compression, or the same
permessage-deflate parameters without server context takeover) receives the very same bytes. A client whose
compressor keeps context gets its own encoding; that is the price of context takeover.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from ..engine.codes import Opcode
from ..engine.connection import PLAIN_FRAMING, State

if TYPE_CHECKING:
    from .client import Client

__all__ = ["broadcast"]

_OPEN = State.OPEN


def broadcast(clients: Iterable[Client], message: str | bytes, *, compress: bool = True) -> int:
    """Send ``message`` to every open client in ``clients``; return how many it was written to.

    Never awaits: a slow client's bytes go to its write buffer, and a client over its hard buffer limit is
    closed with 1008 as with any send. A binary message skips clients that cannot receive one (hixie-76)
    and does not count them.
    """
    if isinstance(message, str):
        opcode, data = Opcode.TEXT, message.encode("utf-8")
    else:
        opcode, data = Opcode.BINARY, bytes(message)
    binary = opcode == Opcode.BINARY
    frames: dict[Hashable, bytes] = {}
    last_key: Hashable = None
    frame = b""
    size = 0
    sent = 0
    last = None
    for client in clients:
        session = client._session
        conn = session.conn
        if conn is None or conn.state is not _OPEN:
            continue
        if binary and not conn.supports_binary:
            continue  # legacy hixie-76: the draft has no binary frames
        if conn.compressing:
            # A large message of this client's is being compressed in steps: this one waits behind it and
            # is encoded when its turn comes (its compressor is mid-message, its frames mid-message too).
            if binary:
                conn.send_binary(data, compress=compress)
            else:
                conn.send_text(message if isinstance(message, str) else "", compress=compress)
            client.messages_out += 1
            sent += 1
            last = client
            continue
        # Without compression a connection frames as it always does (hixie-76 differs from plain RFC 6455).
        key = conn.framing_key if compress or conn.deflate is None else PLAIN_FRAMING
        if key is None:
            frame = conn.encode_message(opcode, data, compress=compress)
            size = len(frame)
            last_key = None
        elif key != last_key:
            cached = frames.get(key)
            if cached is None:
                cached = frames[key] = conn.encode_message(opcode, data, compress=compress)
            frame, size, last_key = cached, len(cached), key
        # ``write_frame`` inline for the common case (no read being dispatched, writing not paused): a
        # call per recipient measured 11% more broadcast CPU (5,900 instead of 5,300 instructions each).
        transport = session.transport
        if session.batched >= 0 or session.drain_waiter is not None or transport is None:
            session.write_frame(frame)  # behind this client's pending output, or near its hard limit
        else:
            client.messages_out += 1
            client.bytes_out += size
            transport.write(frame)
        sent += 1
        last = client
    if last is not None:
        last.server.figures.broadcast(sent)
    return sent
