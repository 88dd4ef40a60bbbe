"""Path patterns: ``/rooms/{room}`` serves ``/rooms/42`` with ``client.path_params``; overlaps are refused."""

from __future__ import annotations

import json

import pytest

from livews import Handler, Resource, Resources, resource
from livews.patterns import PathPattern
from livews.testing import Communicator, HandshakeRefused, connect, serving


class Room(Handler):
    def on_open(self) -> None:
        self.send_text(json.dumps(self.client.path_params))

    def on_text(self, message: str) -> None:
        for other in self.client.server.clients(self.client.path):
            other.send_text(message)


class Exact(Handler):
    def on_open(self) -> None:
        self.send_text(f"exact {self.client.path_params}")


async def test_a_pattern_serves_matching_paths_with_their_parameters() -> None:
    async with serving(Resource("/rooms/{room}/users/{user}", Room)) as server:
        async with connect(server, "/rooms/42/users/ann") as ws:
            assert await ws.receive_json() == {"room": "42", "user": "ann"}


async def test_parameters_are_percent_decoded_and_a_segment_never_spans_a_slash() -> None:
    async with serving(Resource("/files/{name}", Room)) as server:
        async with connect(server, "/files/a%20b%2Fc") as ws:
            assert await ws.receive_json() == {"name": "a b/c"}
        for path in ("/files/a/b", "/files/", "/files"):
            with pytest.raises(HandshakeRefused) as refused:
                async with connect(server, path):
                    pass
            assert refused.value.status == 404


async def test_exact_paths_are_served_beside_patterns_that_cannot_reach_them() -> None:
    async with serving(Resource("/rooms/{room}", Room), Resource("/lobby", Exact)) as server:
        async with connect(server, "/lobby") as ws:
            assert await ws.receive_text() == "exact {}"
        async with connect(server, "/rooms/lobby") as ws:
            assert await ws.receive_json() == {"room": "lobby"}


async def test_clients_of_one_room_are_grouped_by_the_path_they_opened() -> None:
    async with serving(Resource("/rooms/{room}", Room)) as server:
        async with connect(server, "/rooms/a") as a1, connect(server, "/rooms/a") as a2:
            async with connect(server, "/rooms/b") as b:
                for ws in (a1, a2, b):
                    await ws.receive_json()
                await a1.send_text("to room a")
                assert await a1.receive_text() == "to room a"
                assert await a2.receive_text() == "to room a"
                await b.receive_nothing()
                assert len(server.clients("/rooms/{room}")) == 3
                assert len(server.clients("/rooms/a")) == 2


async def test_the_decorator_takes_a_pattern_and_the_communicator_sees_its_parameters() -> None:
    @resource("/games/{game}")
    class Game(Handler):
        def on_open(self) -> None:
            self.game = self.client.path_params["game"]

    async with Communicator(Game, request_path="/games/7") as comm:
        assert comm.handler.game == "7"
        assert comm.client.path_params == {"game": "7"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/rooms/{room}", "/rooms/{id}"),
        ("/rooms/{room}", "/rooms/lobby"),
        ("/{a}/x", "/y/{b}"),
        ("/chat", "/chat"),
    ],
)
def test_two_resources_that_can_match_one_path_are_refused_naming_both(first: str, second: str) -> None:
    class A(Handler):
        pass

    class B(Handler):
        pass

    table = Resources([Resource(first, A)])
    with pytest.raises(ValueError) as refused:
        table.add(Resource(second, B))
    message = str(refused.value)
    assert first in message and second in message and "A" in message and "B" in message


@pytest.mark.parametrize(
    ("first", "second"),
    [("/rooms/{room}", "/rooms/{room}/log"), ("/rooms/{room}", "/rooms/"), ("/a/{x}", "/b/{x}")],
)
def test_patterns_that_cannot_match_one_path_are_served_together(first: str, second: str) -> None:
    table = Resources([Resource(first, Room), Resource(second, Exact)])
    assert len(table) == 2


def test_exact_paths_are_found_before_any_pattern_is_tried() -> None:
    calls = []

    class Counting(PathPattern):
        def match(self, path: str) -> dict[str, str] | None:
            calls.append(path)
            return super().match(path)

    pattern = Resource("/p/{x}", Room)
    pattern.pattern = Counting("/p/{x}")
    table = Resources([pattern, Resource("/exact", Exact)])
    assert table.resolve("/exact").handler is Exact
    assert calls == []
    assert table.resolve("/p/1") is pattern and calls == ["/p/1"]


@pytest.mark.parametrize("bad", ["rooms/{room}", "/rooms/{room", "/rooms/x{room}", "/a/{1x}", "/{a}/{a}"])
def test_a_malformed_pattern_is_refused_at_the_decorator(bad: str) -> None:
    with pytest.raises(ValueError):
        resource(bad)
