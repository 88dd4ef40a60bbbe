"""A plain handler method that holds the loop past ``slow_callback`` is named: class, method, client, path."""

from __future__ import annotations

import logging
import time

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource
from livews.server.slow import SlowCalls
from tests.server.support import serving, url
from tests.server.units import UNIT, T


class Sleepy(Handler):
    """Blocks the loop (what a blocking call in a plain method does) for 3 units on "block"."""

    def on_open(self) -> None:
        if self.client.query_params.get("block_open"):
            time.sleep(3 * UNIT)

    def on_text(self, message: str) -> None:
        if message == "block":
            time.sleep(3 * UNIT)
        self.send_text(message)


async def test_a_plain_method_that_blocks_past_the_threshold_is_logged_and_kept_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "livews.server")
    async with serving(Resource("/sleepy", Sleepy), slow_callback=UNIT) as server:
        async with connect(url(server, "/sleepy")) as ws:
            await ws.send("fast")
            assert await ws.recv(T) == "fast"
            assert server.slow_calls.total == 0
            await ws.send("block")
            assert await ws.recv(T) == "block"
        [call] = server.slow_calls.recent
        assert (call.handler, call.method, call.path, call.client) == ("Sleepy", "on_text", "/sleepy", 1)
        assert call.seconds > UNIT
        assert server.stats()["slow_calls"] == 1
    [line] = [r.getMessage() for r in caplog.records if "held the loop" in r.getMessage()]
    assert line.startswith("Sleepy.on_text held the loop ") and "(client 1 /sleepy)" in line
    assert "async def" in line and "asyncio.to_thread" in line


async def test_on_open_is_timed_too() -> None:
    async with serving(Resource("/sleepy", Sleepy), slow_callback=UNIT) as server:
        async with connect(url(server, "/sleepy?block_open=1")) as ws:
            await ws.send("x")
            assert await ws.recv(T) == "x"
        assert [(c.handler, c.method) for c in server.slow_calls.recent] == [("Sleepy", "on_open")]


async def test_slow_callback_none_turns_the_check_off() -> None:
    async with serving(Resource("/sleepy", Sleepy), slow_callback=None) as server:
        async with connect(url(server, "/sleepy")) as ws:
            await ws.send("block")
            assert await ws.recv(T) == "block"
        assert server.slow_calls.total == 0


def test_the_record_of_slow_calls_is_bounded_and_the_threshold_checked() -> None:
    calls = SlowCalls(0.1)
    for i in range(1000):
        calls.note(Sleepy(), "on_text", 0.2, i, "/x")
    assert calls.total == 1000 and len(calls.recent) == 100 and calls.recent[-1].client == 999
    with pytest.raises(ValueError, match="slow_callback"):
        SlowCalls(0)
