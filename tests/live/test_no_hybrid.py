"""No hybrid: a handler whose ``async`` call is suspended across a reload finishes that call on the old code
(its class, its methods, its module's globals) and moves to the new class when the call ends; the events
queued behind it, and every later one, run the new code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from livews.live import LiveServer

from .conftest import T
from .saves import ask, reports_until, roundtrip, write_atomically

SOURCE = """\
import asyncio

from livews import Handler, resource
from livews.live import keep

gates = keep("gates", [])
done = keep("done", 0)


@resource("/slow")
class Slow(Handler):
    async def on_text(self, message):
        global done
        if message == "hold":
            gate = asyncio.Event()
            gates.append(gate)
            self.send_text("waiting")
            await gate.wait()
            done += 1  # a global written after the await
        self.reply_@V@(message)  # a method the next version renames

    def reply_@V@(self, message):
        self.send_text(f"@V@ {message} done={done}")


@resource("/release")
class Release(Handler):
    def on_text(self, message):
        for gate in gates:
            gate.set()
        gates.clear()
        self.send_text("released")
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "slow.py").write_text(SOURCE.replace("@V@", "v1"))
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


def test_a_call_suspended_across_a_reload_ends_on_the_old_code_then_the_instance_moves(
    live: LiveServer,
) -> None:
    handler = live.handlers_dir / "slow.py"  # type: ignore[operator]
    with connect(live.url + "/slow", open_timeout=T) as ws:
        assert roundtrip(ws, "hold") == "waiting"
        first = live.report_count
        write_atomically(handler, SOURCE.replace("@V@", "v2"))
        [report] = reports_until(live, first, "reloaded handlers/slow.py")
        ws.send("queued")  # waits behind the running call
        assert ask(live, "/release") == "released"
        assert ws.recv(timeout=T) == "v1 hold done=1"  # the old call, on old code all along
        assert ws.recv(timeout=T) == "v2 queued done=1"  # queued: new code, and the global was not lost
        assert roundtrip(ws, "later") == "v2 later done=1"
        assert ws.close_code is None
    assert report.ok and report.moved == 0 and report.moving == 1, str(report)
    assert "0 instances moved, 1 moving when their current call ends" in str(report)


def test_an_instance_between_calls_moves_at_once(live: LiveServer) -> None:
    handler = live.handlers_dir / "slow.py"  # type: ignore[operator]
    with connect(live.url + "/slow", open_timeout=T) as ws:
        assert roundtrip(ws, "hi") == "v1 hi done=0"
        first = live.report_count
        write_atomically(handler, SOURCE.replace("@V@", "v2"))
        [report] = reports_until(live, first, "reloaded handlers/slow.py")
        assert report.moved == 1 and report.moving == 0, str(report)
        assert roundtrip(ws, "hi") == "v2 hi done=0"
