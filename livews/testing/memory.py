"""An in-memory communicator: drive one handler class through the real server code with no socket.

``Communicator`` builds the server's own connection object on an in-memory transport, sends it a real
upgrade request and masked client frames, and reads back the frames the handler sent: the handshake, the
frame engine, event dispatch (in order, async methods in tasks, errors closing with 1011) all run as in
production. What is left out is the network, so a unit test of one handler is fast and sees ``.handler``,
the instance itself, to check its state.

The client side (masking, reading unmasked server frames) is written here from RFC 6455 §5.2 rather than
borrowed from the engine, so the two sides do not share a bug.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
from collections import deque
from typing import Any

from ..engine.codes import CloseCode
from ..resource import Resource
from ..server import Server
from ..server.client import Client
from ..server.protocol import ServerProtocol
from .client import TIMEOUT, Closed, HandshakeRefused, expect_bytes, expect_text
from .servers import resources_of

__all__ = ["Communicator"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 §5.2, §5.3)."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    key = os.urandom(4)
    mask = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(length, "big")
    return head + key + masked


class _MemoryTransport(asyncio.Transport):
    """The transport the server's protocol writes to: bytes go to the communicator, nothing to a socket."""

    def __init__(self, communicator: Communicator) -> None:
        super().__init__()
        self._communicator = communicator
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._communicator._server_wrote(bytes(data))

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self._communicator._lost)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("memory", 0) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True


class Communicator:
    """One handler class, or one ``Resource``, connected to an in-memory client.

    ``async with Communicator(Echo, path="/echo") as comm:`` opens the connection (``HandshakeRefused`` if
    the resource refuses it) and closes it at the end. ``request_path`` is the path the client asks for when
    it is not the resource's own (``/rooms/42`` for ``/rooms/{room}``); ``query`` its query string.
    ``comm.handler`` is the handler instance, ``comm.client`` its ``Client``; ``comm.sent`` lists every
    message the handler sent so far, in order, and ``receive_*`` take them one by one, waiting (for
    ``async`` methods) at most ``timeout`` seconds.
    ``server_options`` are ``Server`` keyword arguments (limits, ``max_pending_events``...).
    """

    def __init__(
        self,
        target: type | Resource,
        path: str | None = None,
        *,
        request_path: str | None = None,
        query: str = "",
        subprotocols: list[str] | tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        origin: str | None = None,
        timeout: float = TIMEOUT,
        **server_options: Any,
    ) -> None:
        (self.resource,) = resources_of([target], path)
        self._target = (request_path or self.resource.path) + ("?" + query if query else "")
        self._subprotocols = list(subprotocols)
        self._headers = dict(headers or {})
        self._origin = origin
        self.timeout = timeout
        server_options.setdefault("ping_interval", None)
        self.server = Server([self.resource], port=0, **server_options)
        self.sent: list[str | bytes] = []
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._unread: deque[str | bytes] = deque()
        self._inbox = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._response: bytes | None = None
        self._close_sent = False
        self._changed: asyncio.Event | None = None
        self._gone: asyncio.Future[None] | None = None
        self._protocol: ServerProtocol | None = None
        self._transport: _MemoryTransport | None = None

    # --------------------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Communicator:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        """Run the opening handshake; ``on_open`` has run (or started, if async) when this returns."""
        loop = asyncio.get_running_loop()
        self.server.loop = loop
        self._changed = asyncio.Event()
        self._gone = loop.create_future()
        protocol = ServerProtocol(self.server)
        self._protocol = protocol
        self._transport = _MemoryTransport(self)
        protocol.connection_made(self._transport)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [
            f"GET {self._target} HTTP/1.1",
            "Host: memory",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self._origin is not None:
            lines.append(f"Origin: {self._origin}")
        if self._subprotocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(self._subprotocols))
        lines.extend(f"{name}: {value}" for name, value in self._headers.items())
        protocol.data_received(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = self._response or b""
        status, headers, body = _parse_response(head)
        if status != 101:
            await self._wait_gone()
            raise HandshakeRefused(status, headers, body)
        expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")
        if dict((n.lower(), v) for n, v in headers).get("sec-websocket-accept") != expected:
            raise AssertionError("the server's Sec-WebSocket-Accept does not match the key")
        for name, value in headers:
            if name.lower() == "sec-websocket-protocol":
                self.subprotocol = value

    async def disconnect(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close (if still open), wait for the connection to end, and let the server finish its tasks."""
        if self._protocol is not None and not self._close_sent and self.close_code is None:
            await self.close(code, reason)
        await self._wait_gone()
        await self.server.close(timeout=self.timeout)

    # ------------------------------------------------------------------------------------------- facts

    @property
    def client(self) -> Client:
        """The server-side ``Client`` of this connection."""
        assert self._protocol is not None, "not connected"
        return self._protocol.client

    @property
    def handler(self) -> Any:
        """The handler instance serving this connection."""
        return self.client.handler

    # ----------------------------------------------------------------------------------------- sending

    async def send_text(self, text: str) -> None:
        self._send(_TEXT, text.encode("utf-8"))

    async def send_binary(self, data: bytes) -> None:
        self._send(_BINARY, bytes(data))

    async def send_json(self, value: Any) -> None:
        self._send(_TEXT, json.dumps(value).encode("utf-8"))

    async def ping(self, payload: bytes = b"") -> None:
        self._send(_PING, payload)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Send a close frame and wait until the server has answered and ended the connection."""
        self._close_sent = True
        self._send(_CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))
        await self._wait_gone()

    def _send(self, opcode: int, payload: bytes) -> None:
        protocol = self._protocol
        assert protocol is not None, "not connected"
        transport = self._transport
        if transport is None or transport.is_closing():
            raise Closed(self.close_code or CloseCode.ABNORMAL, self.close_reason)
        protocol.data_received(_client_frame(opcode, payload))

    # --------------------------------------------------------------------------------------- receiving

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message the handler sent, text or binary (waiting for async methods)."""
        assert self._changed is not None and self._gone is not None, "not connected"
        wait = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self._unread:
            if self._gone.done() or self.close_code is not None:
                raise Closed(self.close_code or CloseCode.ABNORMAL, self.close_reason)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise TimeoutError(f"the handler sent nothing within {wait}s") from None
        return self._unread.popleft()

    async def receive_text(self, timeout: float | None = None) -> str:
        return expect_text(await self.receive(timeout))

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        return expect_bytes(await self.receive(timeout))

    async def receive_json(self, timeout: float | None = None) -> Any:
        return json.loads(await self.receive_text(timeout))

    async def receive_nothing(self, timeout: float = 0.0) -> None:
        """Fail if the handler sent a message not yet received (waiting ``timeout`` for async methods)."""
        if not self._unread and timeout > 0:
            try:
                await self.receive(timeout)
            except (TimeoutError, Closed):
                return
            raise AssertionError(f"expected no message, received {self.sent[-1]!r}")
        if self._unread:
            raise AssertionError(f"expected no message, received {self._unread[0]!r}")

    async def wait_closed(self, timeout: float | None = None) -> tuple[int, str]:
        """Wait until the server has ended the connection; return the close code and reason it sent."""
        try:
            message = await self.receive(timeout)
        except Closed:
            await self._wait_gone()
            return self.close_code or CloseCode.ABNORMAL, self.close_reason
        raise AssertionError(f"expected the connection to close, received {message!r}")

    # ---------------------------------------------------------------------------- what the server wrote

    def _server_wrote(self, data: bytes) -> None:
        if self._response is None:
            end = data.find(b"\r\n\r\n")
            self._response = data[: end + 4] if data[:12] == b"HTTP/1.1 101" else data
            data = data[end + 4 :] if data[:12] == b"HTTP/1.1 101" else b""
        self._inbox += data
        while self._read_frame():
            pass
        if self._changed is not None:
            self._changed.set()

    def _read_frame(self) -> bool:
        """Take one whole unmasked server frame off the inbox (RFC 6455 §5.2); False if none is complete."""
        buf = self._inbox
        if len(buf) < 2:
            return False
        fin, opcode, length = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x7F
        start = 2
        if length == 126:
            if len(buf) < 4:
                return False
            (length,) = struct.unpack_from("!H", buf, 2)
            start = 4
        elif length == 127:
            if len(buf) < 10:
                return False
            (length,) = struct.unpack_from("!Q", buf, 2)
            start = 10
        if len(buf) < start + length:
            return False
        payload = bytes(buf[start : start + length])
        del buf[: start + length]
        if opcode == _CLOSE:
            self._closed_by_server(payload)
        elif opcode in (_PING, _PONG):
            pass  # the server pings only with keepalive on; its pongs answer ``ping``
        else:
            if opcode:
                self._fragment_opcode = opcode
            self._fragments.append(payload)
            if fin:
                data = b"".join(self._fragments)
                self._fragments = []
                message = data.decode("utf-8") if self._fragment_opcode == _TEXT else data
                self.sent.append(message)
                self._unread.append(message)
        return True

    def _closed_by_server(self, payload: bytes) -> None:
        self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CloseCode.NO_STATUS
        self.close_reason = payload[2:].decode("utf-8")
        if not self._close_sent:
            # Answer after the write that carried the close has returned, as a peer on a socket would.
            self._close_sent = True
            answer = _client_frame(_CLOSE, payload[:2])
            asyncio.get_running_loop().call_soon(self._answer_close, answer)

    def _answer_close(self, frame: bytes) -> None:
        protocol = self._protocol
        if protocol is not None and self._transport is not None and not self._transport.is_closing():
            protocol.data_received(frame)

    def _lost(self) -> None:
        if self._protocol is not None:
            self._protocol.connection_lost(None)
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self._changed is not None:
            self._changed.set()

    async def _wait_gone(self) -> None:
        assert self._gone is not None
        await asyncio.wait_for(asyncio.shield(self._gone), self.timeout)


def _parse_response(head: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the server's handshake answer."""
    top, _, body = head.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise AssertionError(f"the server did not answer with HTTP: {head[:80]!r}")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return int(parts[1]), headers, body
