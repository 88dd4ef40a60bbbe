"""next_message: the oldest message not yet taken, waited for with a timeout, for cell-by-cell talk."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
import websockets
from websockets.sync.client import connect

from livews.live.notebook import NotebookServer

from .conftest import T
from .handlers import Echo

Start = Callable[..., NotebookServer]


@pytest.fixture
def srv(start: Start) -> NotebookServer:
    server = start(key="messages")
    server.register("/one", Echo)
    server.register("/two", Echo)
    return server


def _say(ws: object, message: str | bytes) -> None:
    """Send and wait for the echo, so the server has handled the message."""
    ws.send(message)  # type: ignore[attr-defined]
    assert ws.recv(timeout=T) == message  # type: ignore[attr-defined]


def test_next_message_hands_over_messages_oldest_first_with_sender_and_path(srv: NotebookServer) -> None:
    with connect(srv.url + "/one") as ws:
        _say(ws, "first")
        _say(ws, "second")
        msg = srv.next_message("/one", timeout=T)
        assert (msg.path, msg.data, msg.kind) == ("/one", "first", "text")
        assert msg.client.path == "/one" and msg.client.open
        assert srv.next_message("/one", timeout=T).data == "second"


def test_reply_answers_the_client_that_sent_the_message(srv: NotebookServer) -> None:
    with connect(srv.url + "/one") as ws:
        _say(ws, "question")
        srv.next_message("/one", timeout=T).reply("answer")
        assert ws.recv(timeout=T) == "answer"


def test_a_path_takes_only_its_own_messages_and_none_takes_any(srv: NotebookServer) -> None:
    with connect(srv.url + "/one") as one, connect(srv.url + "/two") as two:
        _say(one, "to one")
        _say(two, "to two")
        assert srv.next_message("/two", timeout=T).data == "to two"
        assert srv.next_message(timeout=T).data == "to one"


def test_binary_messages_are_recorded_as_bytes(srv: NotebookServer) -> None:
    with connect(srv.url + "/one") as ws:
        _say(ws, b"\x00\x01")
        msg = srv.next_message("/one", timeout=T)
        assert msg.data == b"\x00\x01" and msg.kind == "binary"


def test_no_message_in_time_raises_timeout_error_and_a_later_message_is_not_lost(srv: NotebookServer) -> None:
    with pytest.raises(TimeoutError, match=re.escape("no message on /one within 0.05s")):
        srv.next_message("/one", timeout=0.05)
    with connect(srv.url + "/one") as ws:
        _say(ws, "late")
    assert srv.next_message("/one", timeout=T).data == "late"


def test_messages_lists_the_waiting_ones_without_taking_them_and_clear_drops_them(
    srv: NotebookServer,
) -> None:
    with connect(srv.url + "/one") as one, connect(srv.url + "/two") as two:
        _say(one, "a")
        _say(two, "b")
    table = srv.messages()
    assert [m.data for m in table] == ["a", "b"]
    assert [m.data for m in srv.messages("/two")] == ["b"]
    assert repr(table).splitlines()[0].split() == ["path", "from", "kind", "data", "received"]
    assert "&#x27;a&#x27;" in table._repr_html_()
    assert srv.clear_messages("/one") == 1
    assert [m.data for m in srv.messages()] == ["b"]
    assert srv.clear_messages() == 1 and srv.messages() == []


def test_the_backlog_keeps_the_newest_messages(start: Start) -> None:
    srv = start(key="small-backlog", backlog=3)
    srv.register("/one", Echo)
    with connect(srv.url + "/one") as ws:
        for n in range(5):
            _say(ws, str(n))
    assert [m.data for m in srv.messages()] == ["2", "3", "4"]


def test_a_wait_on_a_stopped_server_fails_at_once(srv: NotebookServer) -> None:
    srv.stop(timeout=T)
    with pytest.raises(RuntimeError, match="stopped"):
        srv.next_message("/one", timeout=T)


async def test_next_message_async_lets_a_client_on_the_same_loop_send_meanwhile(srv: NotebookServer) -> None:
    async with websockets.connect(srv.url + "/one") as ws:
        waiting = asyncio.ensure_future(srv.next_message_async("/one", timeout=T))
        await ws.send("while waiting")
        assert (await waiting).data == "while waiting"
        with pytest.raises(TimeoutError, match="no message on /one"):
            await srv.next_message_async("/one", timeout=0.05)
        await ws.send("after the timeout")
        assert await asyncio.wait_for(ws.recv(), T) == "while waiting"
        assert await asyncio.wait_for(ws.recv(), T) == "after the timeout"
    assert srv.next_message("/one", timeout=T).data == "after the timeout"


async def test_a_cancelled_async_wait_gives_its_message_back(srv: NotebookServer) -> None:
    waiting = asyncio.ensure_future(srv.next_message_async("/one", timeout=T))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with connect(srv.url + "/one") as ws:
        _say(ws, "kept")
    assert srv.next_message("/one", timeout=T).data == "kept"
