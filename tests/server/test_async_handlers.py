"""Async handler methods: backpressure on reading while events pile up, and shutdown with a stuck handler."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect

from livews import Handler, Resource, Server
from tests.server.rawws import RawClient
from tests.server.support import eventually, serving, url
from tests.server.units import UNIT, T


class Gated(Handler):
    """Every text waits for the gate; records what it saw and how it closed."""

    gate: asyncio.Event
    seen: list[str]
    closes: list[int]

    async def on_text(self, message: str) -> None:
        Gated.seen.append(message)
        await Gated.gate.wait()

    def on_close(self, code: int, reason: str) -> None:
        Gated.closes.append(code)


def _reset() -> None:
    Gated.gate = asyncio.Event()
    Gated.seen = []
    Gated.closes = []


async def test_reading_pauses_while_events_wait_behind_an_async_method_and_resumes_when_they_drain() -> None:
    _reset()
    async with serving(Resource("/g", Gated), max_pending_events=4) as server:
        raw = await RawClient.connect(server.port, "/g")
        for i in range(50):
            raw.send_text(str(i))
        await eventually(lambda: len(server.clients("/g")) == 1)
        (client,) = server.clients("/g")
        await eventually(lambda: client._session._reading_paused, timeout=T)
        assert Gated.seen == ["0"]  # the first message holds the handler; the others wait, in order
        Gated.gate.set()
        await eventually(lambda: len(Gated.seen) == 50, timeout=T)
        assert Gated.seen == [str(i) for i in range(50)]
        assert not client._session._reading_paused
        raw.close()


async def test_shutdown_with_a_stuck_async_handler_is_bounded_and_still_calls_on_close() -> None:
    _reset()
    server = await Server([Resource("/g", Gated)], port=0, ping_interval=None).start()
    ws = await connect(url(server, "/g"))
    await ws.send("hold")
    await eventually(lambda: Gated.seen == ["hold"])
    await asyncio.wait_for(server.close(timeout=4 * UNIT), T)
    assert Gated.closes == [1001]
    assert not server._tasks  # type: ignore[attr-defined]
    await asyncio.wait_for(ws.wait_closed(), T)
    assert ws.close_code == 1001
