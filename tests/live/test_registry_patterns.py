"""Path patterns in the live layer: the registry resolves them, and refuses a clash between sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from livews import Handler, Resource
from livews.live.registry import REPL, Registry
from livews.testing import connect, start_live


class Room(Handler):
    def on_open(self) -> None:
        self.send_text(self.client.path_params.get("room", "-"))


class Lobby(Handler):
    def on_open(self) -> None:
        self.send_text("lobby")


ROOMS = """
from livews import Handler, resource

@resource("/rooms/{room}")
class Rooms(Handler):
    def on_open(self):
        self.send_text("file " + self.client.path_params["room"])
"""


def test_the_registry_resolves_exact_paths_first_then_patterns() -> None:
    registry = Registry()
    registry.set(Resource("/rooms/{room}", Room), REPL)
    registry.set(Resource("/lobby", Lobby), REPL)
    assert registry.resolve("/lobby").handler is Lobby
    assert registry.resolve("/rooms/7").handler is Room
    assert registry.resolve("/rooms/7/x") is None
    registry.remove("/rooms/{room}")
    assert registry.resolve("/rooms/7") is None


def test_the_registry_refuses_a_resource_that_could_match_a_served_path_naming_both() -> None:
    registry = Registry()
    registry.set(Resource("/rooms/{room}", Room), REPL)
    with pytest.raises(ValueError, match=r"'/rooms/lobby' \(Lobby\) and '/rooms/\{room\}' \(Room\)"):
        registry.set(Resource("/rooms/lobby", Lobby), REPL)
    registry.set(Resource("/rooms/{room}", Lobby), REPL)  # the same path: a live replace
    assert registry.resolve("/rooms/1").handler is Lobby


async def test_a_handler_file_clashing_with_another_files_pattern_is_not_loaded(tmp_path: Path) -> None:
    (tmp_path / "rooms.py").write_text(ROOMS, encoding="utf-8")
    edit = await start_live(tmp_path)
    try:
        clash = ROOMS.replace("/rooms/{room}", "/rooms/{id}").replace('["room"]', '["id"]')
        report = await edit.save("other.py", clash)
        assert not report.ok
        assert "/rooms/{id}" in str(report) and "/rooms/{room}" in str(report) and "rooms.py" in str(report)
        async with connect(edit, "/rooms/9") as ws:
            assert await ws.receive_text() == "file 9"
        renamed = await edit.save(
            "rooms.py", ROOMS.replace("/rooms/{room}", "/rooms/{r}").replace('["room"]', '["r"]')
        )
        assert renamed.ok, str(renamed)  # a file may rename its own pattern
    finally:
        await edit.server.close(timeout=2)
