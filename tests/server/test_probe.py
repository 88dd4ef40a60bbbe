"""A server started with a supervisor's probe socket echoes each probe from its event loop, and only then."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

import livews
from livews import Handler, Resource
from livews.server.probe import PROBE_FD


class Nothing(Handler):
    pass


async def _answer(sock: socket.socket, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 16), timeout)


async def test_the_server_loop_echoes_probes_and_stops_while_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    monkeypatch.setenv(PROBE_FD, str(theirs.detach()))
    server = livews.Server([Resource("/", Nothing)], port=0)
    await server.start()
    try:
        assert PROBE_FD not in os.environ  # taken: a second server or a child process does not reuse it
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(ours, b"?")
        assert await _answer(ours, 5.0) == b"?"

        # The echo comes from this loop: while it is blocked, nothing answers; once it runs, the answer comes.
        await loop.sock_sendall(ours, b"!")
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            ours.recv(16)
        assert await _answer(ours, 5.0) == b"!"
    finally:
        await server.close()
        ours.close()
