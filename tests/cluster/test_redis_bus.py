"""Two nodes in one test process, joined by a real redis-server: delivery, members, gaps, an outage."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, Server
from tests.server.support import eventually, serving, url

from .conftest import T
from .redis_server import RedisServer

#: Short presence timings so expiry is observable quickly (the defaults are 2 s and 6 s).
FAST = "?heartbeat=0.2&expiry=1&backoff=0.05&backoff_max=0.3&log_interval=0.5"


class Room(Handler):
    def on_open(self) -> None:
        self.join("room")
        self.send("joined")

    def on_text(self, message: str) -> None:
        self.publish("room", message)


async def _member(server: Server):  # type: ignore[no-untyped-def]
    ws = await connect(url(server, "/room"))
    assert await ws.recv() == "joined"
    return ws


async def _quiet(ws, seconds: float = 0.3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def test_a_publish_reaches_members_on_both_nodes_exactly_once(redis_server: RedisServer) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        async with serving(Resource("/room", Room), bus=bus, node="b") as b:
            on_a, on_b = await _member(a), await _member(b)
            for i in range(20):
                await on_a.send(f"m{i}")
            for ws in (on_a, on_b):
                assert [await asyncio.wait_for(ws.recv(), T) for _ in range(20)] == [
                    f"m{i}" for i in range(20)
                ]
                await _quiet(ws)
            assert b.stats()["bus_received"] == 20 and b.stats()["bus_gaps"] == 0
            await on_a.close()
            await on_b.close()


async def test_members_from_either_node_lists_both_and_a_closed_one_goes(redis_server: RedisServer) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        async with serving(Resource("/room", Room), bus=bus, node="b") as b:
            on_a, on_b = await _member(a), await _member(b)

            async def nodes(server: Server) -> list[str]:
                return [m.node for m in await server.members("room")]

            for server in (a, b):
                for _ in range(int(T / 0.05)):
                    if await nodes(server) == ["a", "b"]:
                        break
                    await asyncio.sleep(0.05)
                assert await nodes(server) == ["a", "b"]
            await on_b.close()
            for _ in range(int(T / 0.05)):
                if await nodes(a) == ["a"]:
                    break
                await asyncio.sleep(0.05)
            assert await nodes(a) == ["a"]
            await on_a.close()


async def test_a_node_that_stops_heartbeating_expires_without_anyones_help(redis_server: RedisServer) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        b = Server([Resource("/room", Room)], port=0, bus=bus, node="b")
        await b.start()
        on_b = await _member(b)
        for _ in range(int(T / 0.05)):
            if len(await a.members("room")) == 1:
                break
            await asyncio.sleep(0.05)
        assert [m.node for m in await a.members("room")] == ["b"]
        # b "dies": its bus tasks stop without withdrawing anything, as when its process is killed.
        for task in b.groups.bus._tasks:  # type: ignore[attr-defined]
            task.cancel()
        loop = asyncio.get_running_loop()
        started = loop.time()
        while await a.members("room") and loop.time() - started < T:
            await asyncio.sleep(0.05)
        assert await a.members("room") == []
        assert loop.time() - started < 1.0 + T / 2  # expiry (1 s) plus slack for a loaded machine
        await on_b.close()
        await b.close(timeout=2)


async def test_a_redis_outage_keeps_local_delivery_counts_drops_and_recovers_by_itself(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "livews.server")
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        async with serving(Resource("/room", Room), bus=bus, node="b") as b:
            on_a, on_b = await _member(a), await _member(b)
            await on_a.send("before")
            assert await on_b.recv() == "before"
            assert await on_a.recv() == "before"

            redis_server.stop()
            await eventually(lambda: not a.stats()["bus_up"], T)
            for i in range(50):
                await on_a.send(f"during{i}")
            for i in range(50):
                assert await asyncio.wait_for(on_a.recv(), T) == f"during{i}"  # local delivery goes on
            await eventually(lambda: a.stats()["bus_dropped"] == 50, T)
            await _quiet(on_b)
            assert [m.node for m in await a.members("room")] == ["a"]  # what this node can still see
            assert a.stats()["bus_members_partial"] == 1
            drop_logs = [r for r in caplog.records if "publishes dropped (Redis unreachable)" in r.message]
            assert 1 <= len(drop_logs) <= 5  # once per interval, not once per message

            redis_server.start()
            await eventually(lambda: a.stats()["bus_up"] and b.stats()["bus_up"], T)
            for _ in range(int(T / 0.1)):  # the subscribers come back on their own backoff
                await on_a.send("after")
                assert await asyncio.wait_for(on_a.recv(), T) == "after"
                try:
                    assert await asyncio.wait_for(on_b.recv(), 0.1) == "after"
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("delivery did not resume")
            assert a.stats()["bus_dropped"] == 50  # nothing lost after recovery to stale pooled connections
            assert b.stats()["bus_gaps"] >= 50  # b knows what it missed
            assert a.stats()["bus_reconnects"] >= 1
            await on_a.close()
            await on_b.close()


async def test_closing_a_server_with_members_connected_withdraws_them_and_finishes(
    redis_server: RedisServer,
) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        b = Server([Resource("/room", Room)], port=0, bus=bus, node="b")
        await b.start()
        on_b = await _member(b)
        for _ in range(int(T / 0.05)):
            if len(await a.members("room")) == 1:
                break
            await asyncio.sleep(0.05)
        assert [m.node for m in await a.members("room")] == ["b"]
        await asyncio.wait_for(b.close(timeout=2), T)  # members leave as their connections end
        assert on_b.close_code == 1001
        assert await a.members("room") == []  # withdrawn at once, not left to expire


async def test_a_server_that_cannot_listen_leaves_nothing_on_the_bus(redis_server: RedisServer) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/room", Room), bus=bus, node="a") as a:
        clash = Server([Resource("/room", Room)], port=a.port, bus=bus, node="b")
        with pytest.raises(OSError):
            await clash.start()
        assert clash.groups.bus._tasks == []  # type: ignore[attr-defined]
        import redis.asyncio

        async with redis.asyncio.Redis(port=redis_server.port) as admin:
            names = [c.get("name") for c in await admin.client_list()]
        assert "livews:b" not in names


class Named(Handler):
    """Joins the group named by the query string."""

    def on_open(self) -> None:
        self.join(self.client.query_string)
        self.send("joined")


async def test_group_and_node_names_with_the_separator_never_share_membership(
    redis_server: RedisServer,
) -> None:
    bus = redis_server.url + FAST
    async with serving(Resource("/n", Named), bus=bus, node="c") as c:
        async with serving(Resource("/n", Named), bus=bus, node="b:c") as bc:
            other = await connect(url(c, "/n?other"))  # so that the next client of "c" is number 2
            assert await other.recv() == "joined"
            one = await connect(url(c, "/n?a:b"))  # group "a:b" on node "c"
            two = await connect(url(bc, "/n?a"))  # group "a" on node "b:c"
            assert await one.recv() == await two.recv() == "joined"
            for _ in range(int(T / 0.05)):
                if await c.members("a") and await bc.members("a:b"):
                    break
                await asyncio.sleep(0.05)
            assert [(m.node, m.client_id) for m in await c.members("a")] == [("b:c", 1)]
            assert [(m.node, m.client_id) for m in await bc.members("a:b")] == [("c", 2)]
            await other.close()
            await one.close()
            await two.close()
