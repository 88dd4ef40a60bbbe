"""Groups on one node and between nodes of one in-process bus: join, leave, publish, members, gaps."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

import livews
from livews import Handler, Resource
from livews.server.bus import InProcessBus, Member

from .support import eventually, serving, url


class Room(Handler):
    """Joins the group named by the query (``?g=a``); ``pub:GROUP:TEXT`` publishes, ``leave:GROUP`` leaves."""

    def on_open(self) -> None:
        for group in filter(None, self.client.query_params.get("g", "").split(",")):
            self.join(group)
        self.send("joined")

    def on_text(self, message: str) -> None:
        verb, _, rest = message.partition(":")
        if verb == "pub":
            group, _, text = rest.partition(":")
            self.publish(group, text)
        elif verb == "leave":
            self.leave(rest)


async def _join(server: livews.Server, group: str):  # type: ignore[no-untyped-def]
    ws = await connect(url(server, f"/room?g={group}"))
    assert await ws.recv() == "joined"
    return ws


async def test_publish_reaches_every_member_of_the_group_once_and_no_one_else() -> None:
    async with serving(Resource("/room", Room)) as server:
        a1, a2, b = await _join(server, "a"), await _join(server, "a"), await _join(server, "b")
        await a1.send("pub:a:hello")
        assert await a1.recv() == "hello"
        assert await a2.recv() == "hello"
        await b.send("pub:b:only b")
        assert await b.recv() == "only b"
        for ws in (a1, a2):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.2)
        for ws in (a1, a2, b):
            await ws.close()


async def test_binary_publish_arrives_as_binary() -> None:
    async with serving(Resource("/room", Room)) as server:
        ws = await _join(server, "a")
        assert server.publish("a", b"\x00\xff") == 1
        assert await ws.recv() == b"\x00\xff"
        await ws.close()


async def test_a_closed_connection_leaves_all_its_groups() -> None:
    async with serving(Resource("/room", Room)) as server:
        ws = await _join(server, "a,b")
        assert [m.client_id for m in await server.members("a")] == [1]
        assert [m.client_id for m in await server.members("b")] == [1]
        await ws.close()
        await eventually(lambda: server.stats()["groups"] == 0)
        assert await server.members("a") == []


async def test_leave_stops_delivery_and_members_lists_node_client_path_and_host() -> None:
    async with serving(Resource("/room", Room), node="n1") as server:
        ws1, ws2 = await _join(server, "a"), await _join(server, "a")
        assert await server.members("a") == [
            Member("n1", 1, "/room", "127.0.0.1"),
            Member("n1", 2, "/room", "127.0.0.1"),
        ]
        await ws2.send("leave:a")
        await eventually(lambda: len(server.groups.local_members("a")) == 1)
        server.publish("a", "after leave")
        assert await ws1.recv() == "after leave"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws2.recv(), 0.2)
        await ws1.close()
        await ws2.close()


async def test_livews_publish_and_members_use_the_running_server() -> None:
    async with serving(Resource("/room", Room), node="solo") as server:
        ws = await _join(server, "news")
        livews.publish("news", "from anywhere")
        assert await ws.recv() == "from anywhere"
        assert [m.node for m in await livews.members("news")] == ["solo"]
        await ws.close()


async def test_livews_publish_from_another_thread_is_handed_to_the_loop() -> None:
    async with serving(Resource("/room", Room)) as server:
        ws = await _join(server, "news")
        await asyncio.to_thread(livews.publish, "news", "from a thread")
        assert await ws.recv() == "from a thread"
        await ws.close()


async def test_nodes_sharing_an_in_process_bus_deliver_to_each_others_members_exactly_once() -> None:
    bus = InProcessBus()
    async with serving(Resource("/room", Room), bus=bus, node="a") as one:
        async with serving(Resource("/room", Room), bus=bus, node="b") as two:
            on_one, on_two = await _join(one, "g"), await _join(two, "g")
            await on_one.send("pub:g:across")
            assert await on_one.recv() == "across"
            assert await on_two.recv() == "across"
            for ws in (on_one, on_two):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.2)
            assert [m.node for m in await one.members("g")] == ["a", "b"]
            assert [m.node for m in await two.members("g")] == ["a", "b"]
            await on_one.close()
            await on_two.close()


async def test_a_receiver_counts_the_messages_it_missed_and_calls_the_gap_hook() -> None:
    bus = InProcessBus()
    gaps: list[tuple[str, int]] = []
    async with serving(Resource("/room", Room), bus=bus, node="pub") as publisher:
        async with serving(Resource("/room", Room), bus=bus, node="sub") as subscriber:
            subscriber.groups.on_gap = lambda node, missed: gaps.append((node, missed))
            ws = await _join(subscriber, "g")
            publisher.publish("g", "1")
            assert await ws.recv() == "1"
            await bus.detach(subscriber.groups)  # the subscriber is cut off while two messages go out
            publisher.publish("g", "2")
            publisher.publish("g", "3")
            await bus.attach(subscriber.groups)
            publisher.publish("g", "4")
            assert await ws.recv() == "4"
            assert gaps == [("pub", 2)]
            assert subscriber.stats()["bus_gaps"] == 2
            assert subscriber.stats()["bus_received"] == 2
            await ws.close()


async def test_a_restarted_publisher_starts_a_new_sequence_without_a_false_gap() -> None:
    bus = InProcessBus()
    gaps: list[tuple[str, int]] = []
    async with serving(Resource("/room", Room), bus=bus, node="sub") as subscriber:
        subscriber.groups.on_gap = lambda node, missed: gaps.append((node, missed))
        ws = await _join(subscriber, "g")
        for text in ("first life", "second life"):
            async with serving(Resource("/room", Room), bus=bus, node="pub") as publisher:
                for i in range(3):
                    publisher.publish("g", f"{text} {i}")
                for i in range(3):
                    assert await ws.recv() == f"{text} {i}"
        assert gaps == []
        assert subscriber.stats()["bus_received"] == 6
        assert subscriber.stats()["bus_out_of_order"] == 0
        await ws.close()


def test_the_redis_client_is_imported_only_when_a_redis_bus_is_configured() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from livews import Server\n"
        "Server([], node='x')\n"
        "print('redis' in sys.modules, 'livews.server.redisbus' in sys.modules)\n"
        "Server([], bus='redis://127.0.0.1:1/0')\n"
        "print('livews.server.redisbus' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "True"]
