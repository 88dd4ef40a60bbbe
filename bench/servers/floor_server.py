"""The broadcast floor: one ``os.write`` per client from a tight loop, with no WebSocket library at all.

    python bench/servers/floor_server.py --port P --mode broadcast

Not a server anyone would run: a reference for the broadcast row. It answers the opening handshake by hand,
encodes the 1 KiB frame once, and on ``go:<n>`` writes it to every client's socket with ``os.write``, so
what it costs is about what the kernel costs for one write per client (TCP over loopback delivers to the
receiving socket inside the sender's system call), plus a Python loop of a few tens of nanoseconds per
client. A server whose broadcast writes each client's socket cannot use much less CPU than this. Echo modes
are unsupported.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time

from _common import (
    BROADCAST_MESSAGE_BYTES,
    HOST,
    Options,
    announce_ready,
    cpu_reply,
    parse_args,
    parse_go,
    run,
    unsupported,
)

__all__ = ["main"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FRAME = bytes((0x81, 126)) + len(BROADCAST_MESSAGE_BYTES).to_bytes(2, "big") + BROADCAST_MESSAGE_BYTES

_clients: dict[_Client, int] = {}  # client -> socket, written with os.write
_buffered: set[_Client] = set()  # clients whose socket once filled up: written through their transport


def _text_frame(payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes((0x81, len(payload))) + payload


class _Client(asyncio.Protocol):
    """Handshake, then only what the bench sends: short masked text (``go:<n>``) and close frames."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not checked with isinstance: uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        _clients.pop(self, None)
        _buffered.discard(self)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
            key = next(
                line.split(":", 1)[1].strip()
                for line in head.split("\r\n")[1:]
                if line.lower().startswith("sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            self.open = True
            _clients[self] = self.transport.get_extra_info("socket").fileno()
        while len(self.buffer) >= 6:
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            if length > 125 or len(self.buffer) < 6 + length:
                return  # the bench sends nothing longer
            mask, payload = self.buffer[2:6], self.buffer[6 : 6 + length]
            self.buffer = self.buffer[6 + length :]
            text = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                self.transport.write(bytes((0x88, len(text))) + text)
                self.transport.close()
                return
            count = parse_go(text.decode()) if opcode == 0x1 else None
            if count is not None:
                started = time.process_time()
                for _ in range(count):
                    _broadcast()
                self.transport.write(_text_frame(cpu_reply(started).encode()))


def _broadcast() -> None:
    write = os.write
    size = len(_FRAME)
    full: list[_Client] = []
    for client, fd in _clients.items():
        try:
            written = write(fd, _FRAME)
        except BlockingIOError:
            written = 0
        if written != size:  # the socket buffer is full: the transport keeps the rest, in order
            assert client.transport is not None
            client.transport.write(_FRAME[written:])
            full.append(client)
    for client in full:
        del _clients[client]
        _buffered.add(client)
    for client in _buffered:
        assert client.transport is not None
        client.transport.write(_FRAME)


async def _serve(options: Options) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Client, HOST, options.port)
    announce_ready(options.port)
    async with server:
        await server.serve_forever()


def main() -> None:
    options = parse_args(__doc__.splitlines()[0])
    if options.mode != "broadcast" or options.compress:
        unsupported("the floor is a reference for the broadcast row only")
    run(_serve(options), options.loop)


if __name__ == "__main__":
    main()
