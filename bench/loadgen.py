"""The load generator's client: a raw asyncio WebSocket client that does as little as a correct client can.

The point is that the server under test, not this client, is the bottleneck. So request frames are built and
masked once and written as ready bytes; responses are counted by a streaming frame reader that skips payloads
instead of reading them; only the messages a caller asks for are kept (to check an echo, or read a server's
``cpu:`` answer). Transports come from ``aiofastnet`` when it is installed (picows brings it), else from the
asyncio loop. This module knows nothing about which server it talks to, nor about workloads.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "OP_BINARY",
    "OP_TEXT",
    "Client",
    "Tally",
    "client_frame",
    "close_all",
    "deflate_message",
    "inflate_message",
    "open_client",
    "open_clients",
    "transport_kind",
    "use_plain_asyncio",
    "wait_until",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MASK_KEY = b"\x37\xfa\x21\x3d"
_ZERO_KEY = b"\0\0\0\0"
_DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"

try:
    import aiofastnet as _aiofastnet
except ImportError:  # pragma: no cover - picows installs it
    _aiofastnet = None


_FAST = _aiofastnet is not None


def use_plain_asyncio() -> None:
    """Make the generator use asyncio's own transports even when aiofastnet is installed."""
    global _FAST
    _FAST = False


def transport_kind() -> str:
    """Which transports the generator uses: ``aiofastnet`` or ``asyncio``."""
    return "aiofastnet" if _FAST else "asyncio"


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload or key == _ZERO_KEY:
        return payload
    size = len(payload)
    keystream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(size, "big")


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, key: bytes = _MASK_KEY
) -> bytes:
    """One masked client frame (RFC 6455 §5.2, §5.3) as ready-to-write bytes.

    The bench's one frame builder: the generator, the soak's misbehaving clients and the fuzzer's seeds.
    A zero ``key`` sends the payload as it is (still a masked frame: the mask bit is set).
    """
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + key + _mask(payload, key)


def deflate_message(data: bytes, window_bits: int = 15, level: int = 6) -> bytes:
    """``data`` compressed on its own as one permessage-deflate message (RFC 7692 §7.2.1, tail removed).

    A message that refers to nothing before it is valid whatever context takeover was agreed.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(_DEFLATE_TAIL) else out


def inflate_message(payload: bytes) -> bytes:
    """Inflate the first compressed message of a connection (which needs no earlier context)."""
    return zlib.decompressobj(-15).decompress(payload + _DEFLATE_TAIL)


@dataclass
class Tally:
    """Totals shared by a group of clients, so a waiter reads one number instead of summing thousands."""

    messages: int = 0
    payload_bytes: int = 0


@dataclass
class Received:
    """A message a client was asked to keep."""

    opcode: int
    compressed: bool
    payload: bytes


@dataclass
class _Options:
    host: str
    port: int
    path: str
    offer_deflate: bool
    tally: Tally
    read_size: int
    key: str = field(default_factory=lambda: base64.b64encode(os.urandom(16)).decode())


class Client(asyncio.BufferedProtocol):
    """One WebSocket client connection.

    After the opening handshake, every complete message from the server adds to ``messages`` (and the shared
    ``tally``). In echo mode (``start``) each message received sends the next frame of a fixed cycle, so there
    is always exactly one message in flight. ``keep`` > 0 keeps that many coming messages in ``kept``.
    """

    def __init__(self, options: _Options) -> None:
        self._options = options
        self.tally = options.tally
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.deflate: dict[str, str] | None = None
        self.messages = 0
        self.sent = 0
        self.keep = 0
        self.kept: list[Received] = []
        self._rbuf = bytearray(options.read_size)
        self._view = memoryview(self._rbuf)
        self._fill = 0
        self._handshaking = True
        self._left = 0
        self._opcode = 0
        self._fin = True
        self._fragmented = False
        self._ctl = False
        self._msg_opcode = 0
        self._msg_rsv1 = False
        self._msg_size = 0
        self._buf: bytearray | None = None
        self._ctl_buf = bytearray()
        self._running = False
        self._cycle: Sequence[bytes] = ()
        self._next = 0
        self._close_sent = False

    # ------------------------------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        o = self._options
        lines = [
            f"GET {o.path} HTTP/1.1",
            f"Host: {o.host}:{o.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {o.key}",
            "Sec-WebSocket-Version: 13",
        ]
        if o.offer_deflate:
            lines.append(f"Sec-WebSocket-Extensions: {_DEFLATE_OFFER}")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self._running = False
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        fill = self._fill
        return self._view[fill:] if fill else self._view

    def buffer_updated(self, nbytes: int) -> None:
        """Count the messages in this read; in echo mode send the next frame for each one.

        A whole unfragmented data message that nobody keeps is counted right here, without a call per
        frame (the common case on every workload); anything else goes through ``_frame_start`` and
        ``_frame_done``, which keep payloads, answer control frames and follow fragmentation.
        """
        data = self._rbuf
        end = self._fill + nbytes
        pos = 0
        if self._handshaking:
            pos = self._handshake(end)
            if pos < 0:
                return
        while pos < end:
            left = self._left
            if left:
                take = end - pos
                if take > left:
                    take = left
                if self._ctl:
                    self._ctl_buf += data[pos : pos + take]
                elif self._buf is not None:
                    self._buf += data[pos : pos + take]
                pos += take
                left -= take
                self._left = left
                if left:
                    break
                self._frame_done()
                continue
            if end - pos < 2:
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            size = b1 & 0x7F
            if size < 126:
                start = pos + 2
            elif size == 126:
                if end - pos < 4:
                    break
                size = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            else:
                if end - pos < 10:
                    break
                size = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            if b1 & 0x80:
                self._protocol_error("server frame is masked")
                return
            if 0x80 < (b0 & 0x8F) < 0x88 and not self.keep and not self._fragmented and end - start >= size:
                # FIN, a data opcode, the whole payload in this read: one message, counted and skipped.
                pos = start + size
                self.messages += 1
                tally = self.tally
                tally.messages += 1
                tally.payload_bytes += size
                if self._running:
                    cycle = self._cycle
                    i = self._next
                    self.transport.write(cycle[i])  # type: ignore[union-attr]
                    self.sent += 1
                    i += 1
                    self._next = 0 if i == len(cycle) else i
                continue
            pos = start
            if not self._frame_start(b0, size):
                return
            if size:
                self._left = size
            else:
                self._frame_done()
        if pos < end:
            # An incomplete frame header: keep its bytes at the front for the next read.
            data[: end - pos] = data[pos:end]
            self._fill = end - pos
        else:
            self._fill = 0

    # ------------------------------------------------------------------------------------------- frames

    def _frame_start(self, b0: int, size: int) -> bool:
        """Note a frame's header; False (connection aborted) if it breaks RFC 6455 §5.4 fragmentation."""
        opcode = b0 & 0x0F
        self._opcode = opcode
        self._fin = bool(b0 & 0x80)
        self._ctl = opcode >= 8
        if self._ctl:
            if not self._fin:
                self._protocol_error("fragmented control frame")
                return False
            self._ctl_buf = bytearray()
            return True
        if opcode == OP_CONT:
            if not self._fragmented:
                self._protocol_error("continuation frame outside a fragmented message")
                return False
        else:
            if self._fragmented:
                self._protocol_error("new data frame inside a fragmented message")
                return False
            self._msg_opcode = opcode
            self._msg_rsv1 = bool(b0 & 0x40)
            self._msg_size = 0
            self._buf = bytearray() if self.keep else None
        self._fragmented = not self._fin
        self._msg_size += size
        return True

    def _frame_done(self) -> None:
        if self._ctl:
            self._control(self._opcode, bytes(self._ctl_buf))
            return
        if not self._fin:
            return
        self.messages += 1
        tally = self.tally
        tally.messages += 1
        tally.payload_bytes += self._msg_size
        if self._buf is not None:
            self.kept.append(Received(self._msg_opcode, self._msg_rsv1, bytes(self._buf)))
            self._buf = None
            self.keep -= 1
        if self._running:
            self._send_next()

    def _send_next(self) -> None:
        cycle = self._cycle
        i = self._next
        self.transport.write(cycle[i])  # type: ignore[union-attr]
        self.sent += 1
        i += 1
        self._next = 0 if i == len(cycle) else i

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            self.write(client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            # RFC 6455 §7.1.1: the server closes TCP first; aclose() aborts if it never does.
            self._running = False
            if not self._close_sent:
                self._close_sent = True
                self.write(client_frame(OP_CLOSE, payload[:2]))

    def _protocol_error(self, why: str) -> None:
        self._running = False
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.abort()

    # ---------------------------------------------------------------------------------------- handshake

    def _handshake(self, end: int) -> int:
        """Read the 101 response from the buffer; return where frames start, or -1 (need more, or failed)."""
        data = self._rbuf
        stop = data.find(b"\r\n\r\n", 0, end)
        if stop < 0:
            if end >= len(data):
                self._protocol_error("handshake response head too large")
            self._fill = end
            return -1
        self._handshaking = False
        lines = bytes(data[:stop]).decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            self._protocol_error(f"handshake refused: {lines[0]!r}")
            return -1
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(self._options.key.encode() + _GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            self._protocol_error("wrong Sec-WebSocket-Accept")
            return -1
        extensions = headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in extensions:
            params: dict[str, str] = {}
            for part in extensions.split(";")[1:]:
                name, _, value = part.strip().partition("=")
                params[name.strip()] = value.strip().strip('"')
            self.deflate = params
        self.opened.set_result(None)
        self._fill = 0
        return stop + 4

    # ----------------------------------------------------------------------------------------- commands

    @property
    def client_window_bits(self) -> int:
        """Window bits this client may compress with (RFC 7692 §7.1.2.2); 15 unless the server lowered it."""
        value = (self.deflate or {}).get("client_max_window_bits", "")
        return int(value) if value else 15

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def start(self, cycle: Sequence[bytes], offset: int = 0) -> None:
        """Begin closed-loop echo: send ``cycle[offset]`` now and the next frame on each message received."""
        self._cycle = cycle
        self._next = offset % len(cycle)
        self._running = True
        self.sent += 1
        frame = cycle[self._next]
        self._next = (self._next + 1) % len(cycle)
        self.write(frame)

    def stop(self) -> None:
        """Stop sending; the message in flight still arrives."""
        self._running = False

    async def aclose(self, timeout: float = 5.0) -> None:
        """Closing handshake (RFC 6455 §7.1.2): send 1000, wait for the server to close TCP, abort if late."""
        self._running = False
        if not self._close_sent:
            self._close_sent = True
            self.write(client_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        try:
            async with asyncio.timeout(timeout):
                await self.closed
        except TimeoutError:
            self.abort()
        except asyncio.CancelledError:
            self.abort()
            raise

    def abort(self) -> None:
        self._running = False
        if self.transport is not None:
            self.transport.abort()


async def open_client(
    host: str,
    port: int,
    path: str,
    *,
    offer_deflate: bool = False,
    tally: Tally | None = None,
    read_size: int = 16 * 1024,
    timeout: float = 10.0,
) -> Client:
    """Connect and complete the opening handshake, or raise. ``read_size`` is the client's read buffer."""
    loop = asyncio.get_running_loop()
    options = _Options(host, port, path, offer_deflate, tally if tally is not None else Tally(), read_size)
    client: Client | None = None

    def factory() -> Client:
        nonlocal client
        client = Client(options)
        return client

    try:
        async with asyncio.timeout(timeout):
            if _FAST:
                await _aiofastnet.create_connection(loop, factory, host, port)  # type: ignore[union-attr]
            else:
                await loop.create_connection(factory, host, port)
            assert client is not None
            await client.opened
    except BaseException:
        if client is not None:
            client.abort()
        raise
    assert client is not None
    return client


async def open_clients(
    host: str,
    port: int,
    path: str,
    count: int,
    *,
    offer_deflate: bool = False,
    tally: Tally | None = None,
    read_size: int = 16 * 1024,
    concurrency: int = 50,
    timeout: float = 120.0,
) -> list[Client]:
    """Open ``count`` connections, at most ``concurrency`` handshakes at a time, all within ``timeout``."""
    tally = tally if tally is not None else Tally()
    gate = asyncio.Semaphore(concurrency)
    opened: list[Client] = []

    async def one() -> None:
        async with gate:
            opened.append(
                await open_client(
                    host, port, path, offer_deflate=offer_deflate, tally=tally, read_size=read_size
                )
            )

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close_all(opened)
        raise
    return opened


def close_all(clients: Sequence[Client]) -> None:
    """Drop every connection at once (the measurement is over; no closing handshake to wait for)."""
    for client in clients:
        client.abort()


async def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.005) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g}s")
        await asyncio.sleep(step)
