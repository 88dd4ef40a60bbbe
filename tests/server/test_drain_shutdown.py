"""Drain mode: ``close(grace=...)`` accepts no one new, lets connected clients finish, closes the rest."""

from __future__ import annotations

import asyncio
import signal

import pytest

from livews import Handler, Resource
from livews.testing import connect, serving

from .support import eventually, serve_process
from .units import T


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)


async def test_clients_keep_talking_during_the_grace_and_new_ones_are_turned_away() -> None:
    async with serving(Resource("/echo", Echo)) as server:
        async with connect(server, "/echo") as ws:
            closing = asyncio.ensure_future(server.close(grace=30))
            await eventually(lambda: not server.sockets)  # no longer listening
            with pytest.raises(OSError):
                async with connect(server, "/echo"):
                    pass
            await ws.send_text("still here")
            assert await ws.receive_text() == "still here"
            assert not closing.done()
            await ws.close(1000, "done")
        await asyncio.wait_for(closing, 10)  # returns as soon as the last client left, long before 30 s
        assert ws.close_code == 1000


async def test_clients_still_there_after_the_grace_are_closed_with_1001() -> None:
    async with serving(Resource("/echo", Echo), shutdown_grace=0.05) as server:
        async with connect(server, "/echo") as ws:
            await server.close()
            assert await ws.wait_closed() == (1001, "server shutting down")


async def test_sigterm_drains_with_the_graceful_timeout_option() -> None:
    async with serve_process("--graceful-timeout", "30") as (proc, base):
        loop = asyncio.get_running_loop()
        async with connect(base, "/echo") as ws:
            proc.send_signal(signal.SIGTERM)
            for _ in range(200):  # until the signal has been handled: the port refuses newcomers
                try:
                    async with connect(base, "/echo"):
                        pass
                except Exception:  # refused, or accepted just before and closed unanswered
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("still accepting after SIGTERM")
            await ws.send_text("in the grace")
            assert await ws.receive_text() == "in the grace"
            assert proc.poll() is None
        assert await loop.run_in_executor(None, proc.wait, 2 * T) == 0  # the last client left: done early
