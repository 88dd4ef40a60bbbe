"""srv.register from a cell: serves at once; a changed class on a served path is a live replace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
        handler = client.handler
        assert isinstance(handler, v2) and not isinstance(handler, v1)
        assert type(handler).__qualname__ == v2.__qualname__
        [resource] = srv.resources()
        assert issubclass(resource.handler, v2)


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
