"""livews.start / stop: one server per key, never on the caller's event loop, 1001 and a free port on stop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import livews
from livews.live import notebook
from livews.live.notebook import NotebookServer

from .conftest import REPO, T
from .handlers import Echo

Start = Callable[..., NotebookServer]


def _close_code(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=T)  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def _server_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "livews-server")


def test_import_livews_stays_cheap_and_start_comes_from_the_notebook_module() -> None:
    code = (
        "import sys, livews\n"
        "assert not [m for m in sys.modules if m.startswith('livews.live')], 'live layer imported'\n"
        "import livews.live.notebook as nb\n"
        "assert livews.start is nb.start and livews.stop is nb.stop\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=3 * T
    )
    assert done.stdout == "ok\n", done.stderr


def test_start_prints_the_url_and_the_same_call_again_returns_the_running_server(
    start: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _server_threads()
    srv = start(port=0, quiet=False)  # the default key: "127.0.0.1:0"
    assert capsys.readouterr().out == f"livews: serving at {srv.url} (key '127.0.0.1:0')\n"
    assert srv.running and srv.port != 0
    assert start(port=0, quiet=False) is srv
    assert capsys.readouterr().out.startswith(f"livews: already serving at {srv.url}")
    assert _server_threads() == before + 1


def test_start_with_other_arguments_replaces_the_server_and_its_clients_get_1001(start: Start) -> None:
    first = start(key="swap")
    first.register("/echo", Echo)
    with connect(first.url + "/echo") as ws:
        second = start(key="swap", ping_interval=None)
        assert _close_code(ws) == 1001
    assert second is not first and second.running and not first.running
    assert start(key="swap", ping_interval=None) is second
    third = start(key="swap", ping_interval=None, replace=True)
    assert third is not second and third.running and not second.running


def test_different_keys_run_side_by_side(start: Start) -> None:
    a, b = start(key="a"), start(key="b")
    assert a is not b and a.port != b.port and a.running and b.running


def test_stop_closes_every_client_with_1001_and_frees_the_port(start: Start) -> None:
    srv = start(key="stop")
    srv.register("/echo", Echo)
    port = srv.port
    with connect(srv.url + "/echo") as a, connect(srv.url + "/echo") as b:
        srv.stop(timeout=T)
        assert _close_code(a) == 1001 and _close_code(b) == 1001
    assert not srv.running and srv.port == port
    assert start(key="stop-again", port=port).port == port
    srv.stop()  # a second stop does nothing


def test_a_stopped_server_is_not_returned_by_start(start: Start) -> None:
    srv = start(key="restart")
    srv.stop(timeout=T)
    again = start(key="restart")
    assert again is not srv and again.running


def test_livews_stop_stops_every_server_start_made(start: Start) -> None:
    a, b = start(key="all-a"), start(key="all-b")
    livews.stop("all-a")
    assert not a.running and b.running
    livews.stop()
    assert not b.running
    assert notebook._SERVERS == {}


async def test_start_inside_a_running_event_loop_leaves_that_loop_to_the_caller(start: Start) -> None:
    srv = start(key="in-loop")  # what a notebook cell does: the kernel's loop is running here
    srv.register("/echo", Echo)
    async with websockets.connect(srv.url + "/echo") as ws:  # a client on the caller's loop
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), T) == "hi"
        assert threading.current_thread().name not in Echo.threads
        assert Echo.threads == {"livews-server"}
        await srv.stop_async(timeout=T)  # the client answers the close while this awaits
        await asyncio.wait_for(ws.wait_closed(), T)
        assert ws.close_code == 1001
    assert not srv.running
