"""The server asks a resource table two things only: ``resolve(path)`` and an iteration of plain resources."""

from __future__ import annotations

from collections.abc import Iterator

from websockets.asyncio.client import connect

from livews import Handler, Resource, Server
from livews.live.registry import REPL, Registry
from tests.server.units import T


class Hello(Handler):
    def on_open(self) -> None:
        self.send_text("hello " + self.client.path)


class TwoMethods:
    """A table with nothing but the two things the server may ask of it."""

    def __init__(self, *resources: Resource) -> None:
        self._resources = {r.path: r for r in resources}

    def resolve(self, path: str) -> Resource | None:
        return self._resources.get(path)

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._resources.values()))


async def test_a_table_of_resolve_and_iteration_serves_and_lists_its_paths() -> None:
    server = Server(TwoMethods(Resource("/a", Hello), Resource("/b", Hello)), port=0)
    await server.start()
    try:
        assert server.urls == [server.url + "/a", server.url + "/b"]
        async with connect(server.url + "/b") as ws:
            assert await ws.recv() == "hello /b"
    finally:
        await server.close(timeout=T)


async def test_the_live_registry_is_such_a_table_of_plain_resources() -> None:
    registry = Registry()
    first, second = Resource("/a", Hello), Resource("/rooms/{room}", Hello)
    registry.set(first, REPL)
    registry.set(second, REPL)
    assert list(registry) == [first, second]
    assert [entry.resource for entry in registry.entries()] == [first, second]
    server = Server(registry, port=0)
    await server.start()
    try:
        assert server.urls == [server.url + "/a", server.url + "/rooms/{room}"]
        async with connect(server.url + "/rooms/7") as ws:
            assert await ws.recv() == "hello /rooms/7"
    finally:
        await server.close(timeout=T)
