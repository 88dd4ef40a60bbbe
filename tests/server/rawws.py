"""A deliberately dumb WebSocket client over a raw asyncio stream, for what a polite client cannot do.

It never answers pings, never reads unless asked, and sends exactly the frames it is told to, so tests can
play the unresponsive, slow or rude peer. Frames are built here, independent of the engine's code.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct

from tests.server.units import T

__all__ = ["Frame", "RawClient"]

#: Upper bound for any single read in these helpers; a broken server fails the test instead of hanging it.
TIMEOUT = T


class Frame:
    """One server frame as read off the wire."""

    __slots__ = ("fin", "opcode", "payload", "rsv")

    def __init__(self, fin: bool, rsv: int, opcode: int, payload: bytes) -> None:
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    @property
    def close_code(self) -> int | None:
        return (
            struct.unpack("!H", self.payload[:2])[0] if self.opcode == 8 and len(self.payload) >= 2 else None
        )

    def __repr__(self) -> str:
        return f"Frame(fin={self.fin}, opcode={self.opcode}, payload={self.payload[:40]!r})"


class RawClient:
    """A connected raw client: ``response`` is the server's handshake answer head."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.response = response

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str = "/",
        *,
        headers: dict[str, str] | None = None,
        version: str = "13",
        rcvbuf: int | None = None,
    ) -> RawClient:
        """Open a TCP connection and send an upgrade request; ``rcvbuf`` shrinks the socket receive buffer."""
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
        else:
            import socket

            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            f"Sec-WebSocket-Version: {version}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return cls(reader, writer, response)

    @property
    def status(self) -> int:
        return int(self.response.split(b" ", 2)[1])

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True) -> None:
        mask = os.urandom(4)
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            head = bytes((b0, 0x80 | n))
        elif n < 0x10000:
            head = bytes((b0, 0x80 | 126)) + struct.pack("!H", n)
        else:
            head = bytes((b0, 0x80 | 127)) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    def send_text(self, text: str) -> None:
        self.send_frame(1, text.encode())

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        self.send_frame(8, struct.pack("!H", code) + reason.encode())

    async def read_frame(self) -> Frame:
        head = await asyncio.wait_for(self.reader.readexactly(2), TIMEOUT)
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        payload = await asyncio.wait_for(self.reader.readexactly(n), TIMEOUT)
        return Frame(bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0x0F, payload)

    async def read_until(self, opcode: int, *, limit: int = 10_000) -> tuple[list[Frame], Frame]:
        """Frames read before the first one with ``opcode`` (bounded), and that frame."""
        before = []
        for _ in range(limit):
            frame = await self.read_frame()
            if frame.opcode == opcode:
                return before, frame
            before.append(frame)
        raise AssertionError(f"no frame with opcode {opcode} in {limit} frames")

    async def at_eof(self) -> bool:
        """True once the server has closed the TCP connection (reads whatever is left first)."""
        while await asyncio.wait_for(self.reader.read(65536), TIMEOUT):
            pass
        return True

    def close(self) -> None:
        self.writer.close()
