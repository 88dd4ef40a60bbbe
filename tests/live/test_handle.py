"""The LiveServer handle and its REPL helpers, driven from the test thread as the REPL drives them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from livews.handler import Handler, resource
from livews.live import LiveServer
from livews.live.loopthread import LoopThreadError

from .conftest import T, install


def _close_code(ws: object) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=T)  # type: ignore[attr-defined]
    rcvd = info.value.rcvd
    assert rcvd is not None
    return rcvd.code, rcvd.reason


def test_start_with_port_zero_serves_the_handler_files_and_reports_the_load(live: LiveServer) -> None:
    assert live.port != 0
    assert live.urls == [f"ws://127.0.0.1:{live.port}/echo"]
    [report] = live.reports
    assert report.kind == "load" and report.added == ["/echo"]
    with connect(live.url + "/echo") as ws:
        ws.send("hi")
        assert ws.recv(timeout=T) == "v1 hi #1 h1"


def test_resources_are_live_resource_objects_printed_as_a_table(live: LiveServer) -> None:
    with connect(live.url + "/echo"):
        table = live.resources()
        [resource] = table
        assert resource.path == "/echo" and resource.handler.__name__ == "Echo"
        text = repr(table)
        assert text.splitlines()[0].split() == ["path", "class", "clients", "from"]
        assert text.splitlines()[2].split() == ["/echo", "Echo", "1", "handlers/echo.py"]
        assert "<table>" in table._repr_html_()


def test_clients_are_live_client_objects_with_facts_and_counters(live: LiveServer) -> None:
    with connect(live.url + "/echo?room=7") as ws:
        ws.send("one")
        ws.recv(timeout=T)
        [client] = live.clients()
        assert client.path == "/echo" and client.query_string == "room=7"
        assert client.messages_in == 1 and client.messages_out == 1
        text = repr(live.clients())
        header = text.splitlines()[0]
        titles = ("host", "port", "path", "query", "subprotocol", "for", "msg in", "bytes out", "latency")
        assert all(title in header for title in titles)
        assert "room=7" in text and "1 client" in text
        assert live.clients("/elsewhere") == []
        assert "room=7" in live.clients("/echo")._repr_html_()


def test_send_reaches_one_client_as_text_or_binary(live: LiveServer) -> None:
    with connect(live.url + "/echo") as ws:
        [client] = live.clients()
        live.send(client, "text from the prompt")
        assert ws.recv(timeout=T) == "text from the prompt"
        live.send(client.id, b"\x00\x01")
        assert ws.recv(timeout=T) == b"\x00\x01"
        with pytest.raises(LookupError):
            live.send(client.id + 1000, "nobody")
        with pytest.raises(TypeError, match="str or bytes"):
            live.send(client, 42)  # type: ignore[arg-type]


def test_broadcast_reaches_every_client_and_returns_the_count(live: LiveServer) -> None:
    with connect(live.url + "/echo") as a, connect(live.url + "/echo") as b:
        assert live.broadcast("to all") == 2
        assert a.recv(timeout=T) == b.recv(timeout=T) == "to all"
        assert live.broadcast("nobody", "/elsewhere") == 0


def test_kick_closes_the_client_with_the_code_and_reason(live: LiveServer) -> None:
    with connect(live.url + "/echo") as ws:
        [client] = live.clients()
        live.kick(client, 4000, "bye")
        assert _close_code(ws) == (4000, "bye")


def test_a_helper_raises_the_error_the_server_loop_raised(live: LiveServer) -> None:
    with connect(live.url + "/echo"):
        [client] = live.clients()
        with pytest.raises(ValueError):
            live.kick(client, 1005)  # 1005 may never be sent on the wire
        with pytest.raises(KeyError):
            live.unregister("/not-served")


class Shout(Handler):
    def on_text(self, message: str) -> None:
        self.client.send_text(message.upper())


def test_register_serves_a_class_at_a_new_path(live: LiveServer) -> None:
    report = live.register("/shout", Shout)
    assert report.added == ["/shout"]
    with connect(live.url + "/shout") as ws:
        ws.send("hey")
        assert ws.recv(timeout=T) == "HEY"
    assert any(r.path == "/shout" and live.resources().origin_of(r.path) == "repl" for r in live.resources())


def test_register_on_a_served_path_moves_its_live_connections(live: LiveServer) -> None:
    with connect(live.url + "/echo") as ws:
        ws.send("before")
        assert ws.recv(timeout=T) == "v1 before #1 h1"
        report = live.register("/echo", Shout)
        assert report.moved == 1
        ws.send("after")
        assert ws.recv(timeout=T) == "AFTER"


def test_unregister_stops_new_connections_and_keeps_live_ones(live: LiveServer) -> None:
    with connect(live.url + "/echo") as ws:
        report = live.unregister("/echo")
        assert report.kept_live == 1
        with pytest.raises(InvalidStatus) as info:
            connect(live.url + "/echo", open_timeout=T)
        assert info.value.response.status_code == 404
        ws.send("still here")
        assert ws.recv(timeout=T) == "v1 still here #1 h1"


def test_reload_reloads_every_handler_file_now(live: LiveServer, handlers: Path) -> None:
    with connect(live.url + "/echo") as ws:
        ws.send("a")
        ws.recv(timeout=T)
        (handlers / "echo.py").write_text((handlers / "echo.py").read_text().replace('f"v1 ', 'f"v1b '))
        reports = live.reload()
        assert [r.kind for r in reports] == ["reload"] and reports[0].moved == 1
        ws.send("b")
        assert ws.recv(timeout=T) == "v1b b #2 h2"


def test_stats_counts_clients_messages_and_reloads(live: LiveServer) -> None:
    with connect(live.url + "/echo") as ws:
        ws.send("x")
        ws.recv(timeout=T)
        live.reload()
        stats = live.stats()
        assert stats["clients"] == 1 and stats["messages in"] == 1 and stats["reloads"] == 1
        assert "clients" in repr(stats) and "<table>" in stats._repr_html_()


def test_a_blocked_caller_thread_never_stalls_the_clients(live: LiveServer) -> None:
    """The REPL thread stuck in a statement: clients still get every answer from the server thread."""
    done = threading.Event()
    answers: list[str] = []

    def client() -> None:
        with connect(live.url + "/echo") as ws:
            for i in range(50):
                ws.send(str(i))
                answers.append(ws.recv(timeout=T))
        done.set()

    threading.Thread(target=client, daemon=True).start()
    assert done.wait(T)  # this thread is "blocked at the prompt" the whole time
    assert len(answers) == 50


class Blocker(Handler):
    entered = threading.Event()
    release = threading.Event()

    def on_text(self, message: str) -> None:
        Blocker.entered.set()
        Blocker.release.wait(30)
        self.client.send_text("released")


def test_a_handler_blocking_the_loop_makes_a_helper_time_out_not_freeze(handlers: Path) -> None:
    with LiveServer(handlers, port=0, call_timeout=0.2, watch_livews=False) as server:
        server.register("/block", Blocker)
        with connect(server.url + "/block") as ws:
            ws.send("go")
            assert Blocker.entered.wait(T)
            try:
                with pytest.raises(TimeoutError, match="handler blocking"):
                    server.clients()
            finally:
                Blocker.release.set()
            assert ws.recv(timeout=T) == "released"
            assert len(server.clients()) == 1


class AsksTheServer(Handler):
    live: LiveServer

    def on_text(self, message: str) -> None:
        if message == "count":
            self.client.send_text(str(len(AsksTheServer.live.clients())))
        else:
            try:
                AsksTheServer.live.reload()
            except LoopThreadError as exc:
                self.client.send_text(f"refused: {exc}")


def test_helpers_called_from_a_handler_run_inline_or_refuse_clearly(live: LiveServer) -> None:
    AsksTheServer.live = live
    live.register("/ask", AsksTheServer)
    with connect(live.url + "/ask") as ws:
        ws.send("count")
        assert ws.recv(timeout=T) == "1"
        ws.send("reload")
        assert ws.recv(timeout=T).startswith("refused: cannot wait for the server loop from inside it")


def test_stop_closes_every_client_with_1001(handlers: Path) -> None:
    server = LiveServer(handlers, port=0, watch_livews=False).start(timeout=T)
    with connect(server.url + "/echo") as ws:
        server.stop(timeout=T)
        assert _close_code(ws)[0] == 1001
    assert not server.running
    server.stop()  # twice is fine


def test_a_port_in_use_is_raised_by_start(live: LiveServer, handlers: Path) -> None:
    with pytest.raises(OSError):
        LiveServer(handlers, port=live.port, reload=False).start(timeout=T)


def test_a_saved_file_is_reloaded_by_the_watcher(live: LiveServer, handlers: Path) -> None:
    with connect(live.url + "/echo") as ws:
        ws.send("a")
        assert ws.recv(timeout=T) == "v1 a #1 h1"
        n = live.report_count
        install("v2", handlers)
        report = live.wait_report(n, T)
        assert report.kind == "reload" and report.moved == 1 and report.changed == ["Echo"]
        ws.send("b")
        assert ws.recv(timeout=T) == "v2 B #2 h2 from=Echo"


def test_editor_temp_files_and_helpers_nobody_imports_are_ignored(live: LiveServer, handlers: Path) -> None:
    n = live.report_count
    for junk in (".echo.py.swp", "echo.py~", "4913", "#echo.py#", "notes.txt"):
        (handlers / junk).write_text("junk")
    (handlers / "_helper.py").write_text("X = 1\n")
    install("v2", handlers)
    report = live.wait_report(n, T)
    assert report.kind == "reload" and report.source == "handlers/echo.py", str(report)
    assert not any("swp" in str(r) or "~" in str(r) or "4913" in str(r) for r in live.reports)
    assert not any("_helper" in str(r) or r.kind == "restart" for r in live.reports)


def test_an_added_file_is_served_and_a_deleted_one_keeps_its_live_clients(
    live: LiveServer, handlers: Path
) -> None:
    n = live.report_count
    install("v1", handlers, "echo.py")
    (handlers / "shout.py").write_text(
        "from livews.handler import Handler, resource\n\n\n"
        "@resource('/shout')\nclass Shout(Handler):\n"
        "    def on_text(self, message):\n        self.client.send_text(message.upper())\n"
    )
    report = live.wait_report(n, T)
    assert report.kind == "load" and report.added == ["/shout"]
    with connect(live.url + "/shout") as ws:
        (handlers / "shout.py").unlink()
        report = live.wait_report(n + 1, T)
        assert report.kind == "remove" and report.removed == ["/shout"] and report.kept_live == 1
        with pytest.raises(InvalidStatus):
            connect(live.url + "/shout", open_timeout=T)
        ws.send("kept")
        assert ws.recv(timeout=T) == "KEPT"


def test_register_refuses_what_is_not_a_path_and_a_handler_class_in_one_line(live: LiveServer) -> None:
    with pytest.raises(TypeError, match=r"^str is not a Handler subclass"):
        live.register("/bad", str)
    with pytest.raises(TypeError, match=r"^42 is not a class; give a Handler subclass$"):
        live.register("/bad", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Handler has no @resource"):
        live.register(Handler)
    with pytest.raises(ValueError, match=r"starts with '/'"):
        live.register("bad", Handler)
    with pytest.raises(TypeError, match=r"which Handler subclass serves /bad"):
        live.register("/bad")
    assert "/bad" not in [r.path for r in live.resources()]


def test_register_serves_a_resource_marked_class_at_its_path_with_its_options(live: LiveServer) -> None:
    @resource("/marked", max_clients=1)
    class Marked(Handler):
        def on_text(self, message: str) -> None:
            self.send_text(message[::-1])

    assert live.register(Marked).ok
    served = next(r for r in live.resources() if r.path == "/marked")
    assert served.handler is Marked and served.max_clients == 1
    with connect(live.url + "/marked") as ws:
        ws.send("abc")
        assert ws.recv(timeout=T) == "cba"


def test_send_and_kick_name_the_missing_client(live: LiveServer) -> None:
    with pytest.raises(LookupError, match=r"^no client 99$"):
        live.send(99, "x")
    with pytest.raises(LookupError, match=r"^no client 99$"):
        live.kick(99)
    with pytest.raises(TypeError, match=r"give a client or its id"):
        live.send("99", "x")


def test_reload_returns_a_list_of_reports_that_prints_as_their_lines(live: LiveServer) -> None:
    reports = live.reload()
    assert len(reports) == 1 and reports[0].kind == "reload"
    assert repr(reports).startswith("reloaded handlers/echo.py") or repr(reports).startswith(
        "reloaded echo.py"
    )
    assert "ReloadReport(" not in repr(reports)


def test_slow_shows_the_handler_calls_that_held_the_loop() -> None:
    class Sleepy(Handler):
        def on_text(self, message: str) -> None:
            time.sleep(0.15)
            self.send_text(message)

    with LiveServer(None, port=0, call_timeout=T, watch_livews=False, slow_callback=0.05) as live:
        live.register("/sleepy", Sleepy)
        assert repr(live.slow()) == "(no slow calls)"
        with connect(live.url + "/sleepy") as ws:
            ws.send("x")
            assert ws.recv(timeout=T) == "x"
        table = live.slow()
        assert [(c.handler, c.method, c.path) for c in table] == [
            ("test_slow_shows_the_handler_calls_that_held_the_loop.<locals>.Sleepy", "on_text", "/sleepy")
        ]
        assert "Sleepy.on_text" in repr(table) and "asyncio.to_thread" in repr(table)
        assert live.stats()["slow calls"] == 1


def test_serve_in_background_is_the_live_layers_start_and_leaves_start_to_livews(tmp_path: Path) -> None:
    """Two ``start`` functions doing different things misled readers: the live layer's has its own name."""
    import livews
    import livews.live

    assert not hasattr(livews.live, "start")
    assert livews.start.__module__ == "livews.live.notebook"
    server = livews.live.serve_in_background(tmp_path, port=0)
    try:
        assert server.running and server.port != 0
    finally:
        server.stop()
    assert not server.running
