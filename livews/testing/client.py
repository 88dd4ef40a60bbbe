"""A WebSocket client for tests: ``async with connect(server, "/echo") as ws`` against a real server.

It drives the ``websockets`` client (installed by ``livews[testing]``), so what a test checks is what an
independent peer sees on the wire, not livews agreeing with itself. Every wait is bounded: a receive that
gets nothing within its timeout raises ``TimeoutError`` instead of hanging the test, a message of the wrong
kind fails with ``AssertionError``, and a connection that ended raises ``Closed`` with the server's close code
and reason. ``websockets`` is imported when ``connect`` is first called, so loading the pytest plugin never
needs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl as _ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..engine.codes import CloseCode

__all__ = ["TIMEOUT", "Closed", "HandshakeRefused", "TestClient", "connect", "url_of"]

#: Default bound, in seconds, of every wait of the kit (``LIVEWS_TEST_TIMEOUT`` scales it on a slow machine).
TIMEOUT = float(os.environ.get("LIVEWS_TEST_TIMEOUT", "10"))


def expect_text(message: str | bytes) -> str:
    """``message`` if it is text; an ``AssertionError`` naming what came instead (``receive_text``)."""
    if not isinstance(message, str):
        raise AssertionError(f"expected a text message, received binary {message[:60]!r}")
    return message


def expect_bytes(message: str | bytes) -> bytes:
    """``message`` if it is binary; an ``AssertionError`` naming what came instead (``receive_bytes``)."""
    if not isinstance(message, bytes):
        raise AssertionError(f"expected a binary message, received text {message[:60]!r}")
    return message


class HandshakeRefused(Exception):
    """The server answered the opening handshake with an HTTP status instead of 101."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(f"handshake refused with HTTP {status}: {body.decode('utf-8', 'replace').strip()}")
        self.status = status
        self.headers = headers
        self.body = body


class Closed(Exception):
    """The connection ended while the test waited for a message; ``code``/``reason`` are the server's."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"connection closed with {code}{' ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


def url_of(server: Any, path: str) -> str:
    """``ws://host:port/path`` for a ``Server``, a ``LiveServer``, anything with ``url``, or a base URL."""
    base = server if isinstance(server, str) else server.url
    return base.rstrip("/") + path if path.startswith("/") else f"{base.rstrip('/')}/{path}"


class TestClient:
    """One open test connection (made by ``connect``); every ``receive_*`` waits at most ``timeout``."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, ws: Any, timeout: float) -> None:
        self._ws = ws
        self.timeout = timeout

    # ------------------------------------------------------------------------------------------- facts

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose (``None`` if none)."""
        return self._ws.subprotocol

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        """The headers of the server's 101 response, in order."""
        return list(self._ws.response.headers.raw_items())

    @property
    def close_code(self) -> int | None:
        """The close code the server sent (1006 if it vanished), ``None`` while the connection is open."""
        rcvd = self._ws.protocol.close_rcvd
        if rcvd is not None:
            return int(rcvd.code)
        return None if self._ws.protocol.state.name in ("OPEN", "CLOSING") else CloseCode.ABNORMAL

    @property
    def close_reason(self) -> str:
        rcvd = self._ws.protocol.close_rcvd
        return "" if rcvd is None else str(rcvd.reason)

    # ----------------------------------------------------------------------------------------- sending

    async def send_text(self, text: str) -> None:
        await self._ws.send(text)

    async def send_binary(self, data: bytes) -> None:
        await self._ws.send(bytes(data))

    async def send_json(self, value: Any) -> None:
        """Send ``value`` as one JSON text message."""
        await self._ws.send(json.dumps(value))

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close the connection and wait for the server's answer (bounded by ``timeout``)."""
        await asyncio.wait_for(self._ws.close(code, reason), self.timeout)

    async def wait_closed(self, timeout: float | None = None) -> tuple[int, str]:
        """Wait until the server ends the connection; return its close code and reason.

        A message that arrives first fails the wait with ``AssertionError``: the test did not expect it.
        """
        try:
            message = await self._recv(timeout)
        except Closed as closed:
            return closed.code, closed.reason
        raise AssertionError(f"expected the connection to close, received {message!r}")

    # --------------------------------------------------------------------------------------- receiving

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message, text (``str``) or binary (``bytes``)."""
        return await self._recv(timeout)

    async def receive_text(self, timeout: float | None = None) -> str:
        return expect_text(await self._recv(timeout))

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        return expect_bytes(await self._recv(timeout))

    async def receive_json(self, timeout: float | None = None) -> Any:
        """The next text message, parsed as JSON."""
        return json.loads(await self.receive_text(timeout))

    async def receive_nothing(self, timeout: float = 0.1) -> None:
        """Fail with ``AssertionError`` if a message arrives within ``timeout`` seconds.

        A quiet interval cannot prove that nothing will ever come: keep ``timeout`` short and use this
        after an exchange that would have produced the message already (the server answers in order).
        """
        try:
            message = await asyncio.wait_for(self._ws.recv(), timeout)
        except asyncio.TimeoutError:
            return  # cancelling websockets' recv() loses no message
        except Exception as exc:
            raise self._closed(exc) from None
        raise AssertionError(f"expected no message within {timeout}s, received {message!r}")

    async def _recv(self, timeout: float | None) -> str | bytes:
        wait = self.timeout if timeout is None else timeout
        try:
            message: str | bytes = await asyncio.wait_for(self._ws.recv(), wait)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no message within {wait}s") from None
        except Exception as exc:
            raise self._closed(exc) from None
        return message

    def _closed(self, exc: Exception) -> Exception:
        from websockets.exceptions import ConnectionClosed

        if not isinstance(exc, ConnectionClosed):
            return exc
        return Closed(self.close_code or CloseCode.ABNORMAL, self.close_reason)

    def __repr__(self) -> str:
        return f"<TestClient {self._ws.request.path if self._ws.request else '?'}>"


@asynccontextmanager
async def connect(
    server: Any,
    path: str = "/",
    *,
    subprotocols: Iterable[str] | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    origin: str | None = None,
    compression: bool = True,
    ssl: _ssl.SSLContext | None = None,
    max_size: int | None = None,
    timeout: float = TIMEOUT,
) -> AsyncIterator[TestClient]:
    """Open a WebSocket to ``path`` on ``server``; close it (code 1000) when the block ends.

    ``server`` is a ``Server``, a ``LiveServer``, anything with a ``url``, or a ``ws://`` base URL.
    ``headers`` are added to the upgrade request (cookies, tokens); ``compression=False`` offers no
    permessage-deflate. A refused handshake raises ``HandshakeRefused`` carrying the HTTP status.
    """
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import InvalidStatus

    options: dict[str, Any] = {
        "subprotocols": list(subprotocols) if subprotocols is not None else None,
        "additional_headers": headers,
        "compression": "deflate" if compression else None,
        "open_timeout": timeout,
        "close_timeout": timeout,
        "max_size": max_size,
        "ping_interval": None,
    }
    if origin is not None:
        options["origin"] = origin
    if ssl is not None:
        options["ssl"] = ssl
    try:
        ws = await ws_connect(url_of(server, path), **options)
    except InvalidStatus as exc:
        response = exc.response
        raise HandshakeRefused(
            response.status_code, list(response.headers.raw_items()), bytes(response.body)
        ) from None
    try:
        yield TestClient(ws, timeout)
    finally:
        await asyncio.wait_for(ws.close(), timeout)
