"""srv.register from a cell: serves at once; a changed class on a served path is a live replace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from websockets.sync.client import connect

from livews import Handler
from livews.live.notebook import NotebookServer

from .conftest import T
from .handlers import Echo

Start = Callable[..., NotebookServer]


def _counter_class(version: str) -> type[Handler]:
    """A fresh class named Counter each call, as re-running the cell that defines it gives."""

    class Counter(Handler):
        def on_open(self) -> None:
            self.count = 0

        def on_text(self, message: str) -> None:
            self.count += 1
            self.send_text(f"{version} {message} #{self.count}")

    return Counter


def test_a_class_defined_in_a_cell_serves_as_soon_as_it_is_registered(start: Start) -> None:
    srv = start(key="serve")
    report = srv.register("/echo", Echo)
    assert report.added == ["/echo"]
    with connect(srv.url + "/echo") as ws:
        ws.send("hi")
        assert ws.recv(timeout=T) == "hi"


def test_registering_a_changed_class_keeps_the_connection_and_moves_its_state(start: Start) -> None:
    srv = start(key="replace")
    v1 = _counter_class("v1")
    srv.register("/count", v1)
    with connect(srv.url + "/count") as ws:
        ws.send("a")
        assert ws.recv(timeout=T) == "v1 a #1"
        v2 = _counter_class("v2")
        report = srv.register("/count", v2)
        assert report.moved == 1 and report.stuck == []
        assert report.changed == [f"{v1.__qualname__} -> {v2.__qualname__}"]
        ws.send("b")
        assert ws.recv(timeout=T) == "v2 b #2"
        [client] = srv.clients("/count")
        assert type(client.handler) is v2  # recorded, yet an instance of the class given, not a subclass
        [resource] = srv.resources()
        assert resource.handler is v2
    assert [srv.next_message("/count", timeout=T).data for _ in range(2)] == ["a", "b"]


def test_a_recorded_handler_is_an_instance_of_the_registered_class_itself(start: Start) -> None:
    srv = start(key="own-class")
    srv.register("/echo", Echo)
    with connect(srv.url + "/echo") as ws:
        ws.send("hi")
        assert ws.recv(timeout=T) == "hi"
        [client] = srv.clients("/echo")
        assert type(client.handler) is Echo
        [resource] = srv.resources()
        assert resource.handler is Echo
    assert srv.next_message("/echo", timeout=T).data == "hi"


def test_on_reload_of_a_recorded_handler_receives_the_class_registered_before(start: Start) -> None:
    given: list[type] = []

    class Old(Handler):
        def on_text(self, message: str) -> None:
            self.send_text("old")

    class New(Handler):
        def on_text(self, message: str) -> None:
            self.send_text("new")

        def on_reload(self, old_cls: type) -> None:
            given.append(old_cls)

    srv = start(key="on-reload")
    srv.register("/r", Old)
    with connect(srv.url + "/r") as ws:
        ws.send("1")
        assert ws.recv(timeout=T) == "old"
        srv.register("/r", New)
        ws.send("2")
        assert ws.recv(timeout=T) == "new"
    assert given == [Old]
    assert [srv.next_message("/r", timeout=T).data for _ in range(2)] == ["1", "2"]


def test_a_recorded_path_serving_a_handler_files_class_follows_the_file_and_keeps_recording(
    start: Start, tmp_path: Path
) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    source = handlers / "counter.py"
    source.write_text(_COUNTER_FILE.format(version="v1"))
    srv = start(key="file-class", handlers=handlers, reload=False)
    [served] = srv.resources()
    srv.register("/recorded", served.handler)  # the file's class, recorded at a path of the notebook's
    with connect(srv.url + "/recorded") as ws:
        ws.send("a")
        assert ws.recv(timeout=T) == "v1 a #1"
        source.write_text(_COUNTER_FILE.format(version="v2"))
        [report] = srv.reload()
        assert report.moved == 1, report
        ws.send("b")
        assert ws.recv(timeout=T) == "v2 b #2"
        [client] = srv.clients("/recorded")
        new_class = next(r.handler for r in srv.resources() if r.path == "/count")
        assert new_class is not served.handler and type(client.handler) is new_class
    assert [srv.next_message("/recorded", timeout=T).data for _ in range(2)] == ["a", "b"]


_COUNTER_FILE = """
from livews import Handler, resource


@resource("/count")
class Counter(Handler):
    def on_open(self):
        self.count = 0

    def on_text(self, message):
        self.count += 1
        self.send_text(f"{version} {{message}} #{{self.count}}")
"""


def test_registering_the_same_class_again_changes_nothing(start: Start) -> None:
    srv = start(key="same-class")
    srv.register("/echo", Echo)
    with connect(srv.url + "/echo"):
        report = srv.register("/echo", Echo)
        assert report.changed == [] and report.moved == 0
        [client] = srv.clients("/echo")
        srv.register("/other", type(client.handler))  # a served class given back is the user's class
        first, second = srv.resources()
        assert first.handler is second.handler


def test_a_class_with_slots_moves_to_its_new_version(start: Start) -> None:
    def version(tag: str) -> type[Handler]:
        class Slotted(Handler):
            __slots__ = ("seen",)

            def on_text(self, message: str) -> None:
                self.seen = getattr(self, "seen", 0) + 1
                self.send_text(f"{tag} {self.seen}")

        return Slotted

    srv = start(key="slots")
    srv.register("/s", version("v1"))
    with connect(srv.url + "/s") as ws:
        ws.send("x")
        assert ws.recv(timeout=T) == "v1 1"
        report = srv.register("/s", version("v2"))
        assert report.moved == 1 and report.stuck == []
        ws.send("y")
        assert ws.recv(timeout=T) == "v2 2"


def test_async_handler_methods_still_run_and_their_messages_are_recorded(start: Start) -> None:
    class Later(Handler):
        async def on_text(self, message: str) -> None:
            await asyncio.sleep(0)
            self.send_text(f"later {message}")

    srv = start(key="async")
    srv.register("/later", Later)
    with connect(srv.url + "/later") as ws:
        ws.send("x")
        assert ws.recv(timeout=T) == "later x"
    assert srv.next_message("/later", timeout=T).data == "x"


def test_backlog_zero_serves_the_class_itself_and_records_nothing(start: Start) -> None:
    srv = start(key="no-backlog", backlog=0)
    srv.register("/echo", Echo)
    [resource] = srv.resources()
    assert resource.handler is Echo
    with connect(srv.url + "/echo") as ws:
        ws.send("hi")
        assert ws.recv(timeout=T) == "hi"
    assert srv.messages() == []
