"""Which transports carry a server's connections: the event loop's own, or aiofastnet's.

A transport is the part below the protocol callbacks: it reads the socket into ``data_received`` or a
``get_buffer`` buffer, writes, buffers what the kernel does not take, pauses and resumes. asyncio's own are
Python code around each system call; uvloop's are libuv's, in C. ``aiofastnet`` (an optional package,
``livews[fast]``; picows uses it) implements the same transport interface in Cython on top of any loop's
``add_reader``/``add_writer``, TLS included: the same callbacks, fewer instructions around each read and
write (figures in ``bench/README.md``). Nothing in livews' protocol changes with the transports.

Choices (``Server(transports=...)``, ``--transports``): ``"loop"`` (the default) always the loop's own
(asyncio's, or uvloop's on uvloop); ``"aiofastnet"`` always aiofastnet's, an ``ImportError`` when it is not
installed; ``"auto"`` aiofastnet's where it is installed and the loop is asyncio's own, else the loop's.
Measured with callgrind (``bench/README.md``), aiofastnet's cut the server's instructions on asyncio's loop by
about 12% per 64 B echo, 10% per 8 KiB echo and 4% per handshake; on uvloop, whose transports are C already,
they saved 2-3% per message and cost half as much again per handshake (aiofastnet accepts in Python). They
are not the default because each of its transports carries an array of 256 ``iovec`` for its writes: idle
connections cost about 4.7 KiB more each (4.2 -> 9.0 KiB per connection in ``bench/run.py``), more than
livews' whole connection otherwise (4.2 KiB). ``auto`` keeps uvloop's own transports on uvloop, and the loop's
own on any other loop (a proactor loop, on Windows, would only wrap its transports).

With aiofastnet the listening sockets are bound here, as asyncio binds them (every address the host
resolves to, ``SO_REUSEADDR``, ``SO_REUSEPORT`` on request, IPv6 sockets IPv6-only), and handed to
``aiofastnet.create_server`` one each, so that they are ``accept.ListeningSocket``: aiofastnet's accept
loop, out of descriptors, backs off through the socket (see ``accept.py``).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl as _ssl
from collections.abc import Callable
from typing import Any, Protocol

from .accept import ListeningSocket

__all__ = ["TRANSPORT_NAMES", "Listening", "check_transports", "choose_transports", "listen"]

#: What ``Server(transports=)`` takes.
TRANSPORT_NAMES = ("auto", "loop", "aiofastnet")


class Listening(Protocol):
    """What the server asks of what listens for it: asyncio's ``Server``, or several aiofastnet ones."""

    @property
    def sockets(self) -> tuple[Any, ...]: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


def _aiofastnet_installed() -> bool:
    try:
        import aiofastnet  # noqa: F401
    except ImportError:
        return False
    return True


def check_transports(name: str) -> None:
    """Refuse an unknown name, or ``"aiofastnet"`` when it is not installed (when the server is made)."""
    if name not in TRANSPORT_NAMES:
        raise ValueError(f"transports must be one of {', '.join(TRANSPORT_NAMES)}, not {name!r}")
    if name == "aiofastnet" and not _aiofastnet_installed():
        raise ImportError("transports='aiofastnet' needs aiofastnet: pip install 'livews[fast]'")


def choose_transports(name: str, loop: asyncio.AbstractEventLoop) -> str:
    """``"loop"`` or ``"aiofastnet"``: what ``name`` means on ``loop``."""
    if name != "auto":
        return name
    if isinstance(loop, asyncio.SelectorEventLoop):
        return "aiofastnet" if _aiofastnet_installed() else "loop"
    return "loop"


async def listen(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], asyncio.BaseProtocol],
    host: str,
    port: int,
    *,
    transports: str,
    ssl: _ssl.SSLContext | None,
    reuse_port: bool,
    backlog: int,
) -> Listening:
    """Listen on ``host``:``port`` and serve every connection with ``factory``'s protocol on ``transports``
    (``"loop"`` or ``"aiofastnet"``, as ``choose_transports`` answers)."""
    if transports == "loop":
        return await loop.create_server(
            factory, host, port, ssl=ssl, reuse_address=True, reuse_port=reuse_port or None, backlog=backlog
        )
    import aiofastnet

    sockets = await _bind(loop, host, port, reuse_port)
    servers = []
    try:
        for sock in sockets:
            servers.append(await aiofastnet.create_server(loop, factory, sock=sock, ssl=ssl, backlog=backlog))
    except BaseException:
        for server in servers:
            server.close()
        for sock in sockets:
            sock.close()
        raise
    return _Listeners(servers)


async def _bind(
    loop: asyncio.AbstractEventLoop, host: str, port: int, reuse_port: bool
) -> list[ListeningSocket]:
    """A bound socket for every address ``host`` resolves to (all interfaces for ``""``), as asyncio binds."""
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port is not supported on this platform")
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[ListeningSocket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = ListeningSocket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # one socket per family
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:  # a family this host has no address in
                    sockets.pop().close()
                    continue
                raise OSError(
                    exc.errno, f"error while attempting to bind on address {address!r}: {exc.strerror}"
                ) from None
        if not sockets:
            raise OSError(f"could not bind on any address of {host!r}")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _Listeners:
    """aiofastnet's servers, one per listening socket, seen as one."""

    def __init__(self, servers: list[Any]) -> None:
        self._servers = servers

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(sock for server in self._servers for sock in server.sockets)

    def close(self) -> None:
        for server in self._servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()
