"""Handler errors are recorded with their frames; ``debug_on_error`` holds the connection for retry/skip.

Real servers on 127.0.0.1 port 0, real ``websockets`` clients; the retry after a fix swaps the held
instance's class the way the live layer does (``instance.__class__ = New``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from livews import Handler, Resource, Server
from livews.engine.connection import Connection
from livews.server import hold
from livews.server.errors import KEEP_FRAMES
from tests.server.support import eventually, serving, url
from tests.server.units import T

events: list[object] = []


class Divide(Handler):
    """``"a/b"`` answers the quotient; ``b == 0`` raises in the handler's own frame."""

    def on_open(self) -> None:
        events.clear()

    def on_text(self, message: str) -> None:
        numerator, _, denominator = message.partition("/")
        top, bottom = int(numerator), int(denominator)
        events.append(message)
        self.send_text(str(top // bottom))

    def on_close(self, code: int, reason: str) -> None:
        events.append(("close", code))


class DivideFixed(Divide):
    def on_text(self, message: str) -> None:
        numerator, _, denominator = message.partition("/")
        bottom = int(denominator)
        events.append(message)
        self.send_text("inf" if bottom == 0 else str(int(numerator) // bottom))


class AsyncDivide(Divide):
    async def on_text(self, message: str) -> None:
        await asyncio.sleep(0)
        Divide.on_text(self, message)


async def _closed_code(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), T)  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def test_without_debug_on_error_a_raising_handler_still_closes_with_1011_and_is_recorded() -> None:
    async with serving(Resource("/d", Divide)) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            assert await _closed_code(ws) == 1011
        [record] = list(server.errors)
        assert record.kind == "handler" and record.where == "Divide.on_text" and record.path == "/d"
        assert record.error == "ZeroDivisionError: integer division or modulo by zero"
        assert record.outcome == "closed 1011" and not record.held
        assert record.locals["message"] == "1/0" and record.locals["bottom"] == 0
        assert "top // bottom" in record.traceback and "dispatch.py" not in record.traceback
        assert server.held() == []
        out = record.debug(commands=["p top, bottom", "where"])
        assert out is not None and "(0, 1)" not in out and "(1, 0)" in out and "-> self.send_text" in out
        assert "dispatch.py" not in out  # pdb starts at the user's first frame
        session, screen = io.StringIO("p message\nc\n"), io.StringIO()
        assert record.debug(stdin=session, stdout=screen) is None  # an attached prompt's own streams
        assert "'1/0'" in screen.getvalue()


async def test_the_debugger_gives_back_the_trace_function_it_found() -> None:
    """pdb clears the thread's tracer on continue/quit; a coverage run or an IDE must keep theirs."""
    async with serving(Resource("/d", Divide)) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            assert await _closed_code(ws) == 1011
        [record] = list(server.errors)

        def tracer(frame: object, event: str, arg: object) -> None:
            return None

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            record.debug(commands=["c"])
            after_commands = sys.gettrace()
            record.debug(stdin=io.StringIO("c\n"), stdout=io.StringIO())
            after_streams = sys.gettrace()
        finally:
            sys.settrace(previous)
        assert after_commands is tracer and after_streams is tracer


async def test_a_held_connection_stays_open_queues_later_messages_and_retry_reaches_the_fixed_class() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            await ws.send("6/3")  # waits behind the failed event
            await eventually(lambda: len(server.held()) == 1)
            [client] = server.held()
            record = server.errors.last()
            assert record.held and record.outcome == "held" and record.has_frames
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.2)  # nothing answered while held
            await ws.ping()  # the held connection still answers pings
            client.handler.__class__ = DivideFixed  # what a reload does to live instances
            hold.retry(client)  # type: ignore[arg-type]
            assert await asyncio.wait_for(ws.recv(), T) == "inf"
            assert await asyncio.wait_for(ws.recv(), T) == "2"
            assert record.outcome == "retried" and not record.held
            assert server.held() == []
            await ws.send("9/3")
            assert await asyncio.wait_for(ws.recv(), T) == "3"
        await eventually(lambda: ("close", 1000) in events)
        # the failed try, the retry, then the message that waited, in order
        assert events == ["1/0", "1/0", "6/3", "9/3", ("close", 1000)]


async def test_skip_drops_the_failed_event_and_delivers_the_ones_that_waited() -> None:
    async with serving(Resource("/d", AsyncDivide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            await ws.send("8/2")
            await eventually(lambda: len(server.held()) == 1)
            hold.skip(server.held()[0])  # type: ignore[arg-type]
            assert await asyncio.wait_for(ws.recv(), T) == "4"
            assert server.errors.last().outcome == "skipped"


async def test_a_held_connection_nobody_attends_is_closed_with_1011_after_the_hold_timeout() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True, debug_hold_timeout=0.2) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            await ws.send("4/2")
            assert await _closed_code(ws) == 1011
        await eventually(lambda: ("close", 1011) in events)
        assert events == ["1/0", ("close", 1011)]  # the waiting message was dropped, on_close ran once
        assert server.errors.last().outcome == "hold timed out; closed 1011"


async def test_closing_a_held_client_ends_its_hold_and_delivers_on_close_once() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            await eventually(lambda: len(server.held()) == 1)
            server.held()[0].close(1011, "internal error")  # the prompt's kick
            assert await _closed_code(ws) == 1011
        await eventually(lambda: ("close", 1011) in events)
        assert events.count(("close", 1011)) == 1
        assert server.held() == [] and not server.errors.last().held


async def test_other_clients_never_notice_a_held_one() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as held_ws, connect(url(server, "/d")) as other:
            await held_ws.send("1/0")
            await eventually(lambda: len(server.held()) == 1)
            for i in range(1, 50):
                await other.send(f"{2 * i}/2")
                assert await asyncio.wait_for(other.recv(), T) == str(i)


async def test_only_the_newest_errors_keep_their_frames_and_held_ones_keep_theirs() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as first:
            await first.send("1/0")
            await eventually(lambda: len(server.held()) == 1)
            server.debug_on_error = False
            for _ in range(KEEP_FRAMES + 2):
                async with connect(url(server, "/d")) as ws:
                    await ws.send("1/0")
                    await _closed_code(ws)
            records = list(server.errors)
            assert len(records) == KEEP_FRAMES + 3
            assert records[0].held and records[0].has_frames  # held: kept whatever its age
            assert [r.has_frames for r in records[1:]] == [False, False] + [True] * KEEP_FRAMES
            assert "top // bottom" in records[1].traceback and records[1].locals == {}


async def test_a_fault_in_livews_is_logged_with_context_counted_and_drops_only_that_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Connection.events_received

    def faulty(self: Connection) -> list[object]:
        events = real(self)
        if any(getattr(e, "data", None) == "fault" for e in events):
            raise RuntimeError("injected fault in the engine")
        return events

    monkeypatch.setattr(Connection, "events_received", faulty)
    caplog.set_level(logging.ERROR, "livews.server")
    async with serving(Resource("/d", DivideFixed), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as ws, connect(url(server, "/d")) as other:
            await ws.send("fault")
            assert await _closed_code(ws) == 1011
            await other.send("4/2")
            assert await asyncio.wait_for(other.recv(), T) == "2"
        assert server.server_errors == 1 and server.stats()["server_errors"] == 1
        record = server.errors.last()
        assert record.kind == "server" and record.where == "data_received" and record.has_frames
        assert "RuntimeError: injected fault in the engine" == record.error
        [logged] = [r for r in caplog.records if "livews fault in data_received" in r.getMessage()]
        assert "path /d, state OPEN" in logged.getMessage() and logged.exc_info is not None


async def test_without_debug_on_error_a_fault_in_livews_keeps_no_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def faulty(self: Connection, data: bytes) -> None:
        raise RuntimeError("injected")

    async with serving(Resource("/d", Divide)) as server:
        async with connect(url(server, "/d")) as ws:
            monkeypatch.setattr(Connection, "receive_data", faulty)
            await ws.send("x")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
        await eventually(lambda: server.server_errors == 1)
        assert not server.errors.last().has_frames


def _listen_backlog(port: int) -> int:
    """The listening socket's backlog as the kernel reports it (``ss``: Send-Q of a LISTEN socket)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    [line] = [line for line in out.splitlines() if line.strip()]
    return int(line.split()[2])


@pytest.mark.parametrize("backlog", [7, 33])
async def test_the_backlog_option_reaches_listen(backlog: int) -> None:
    server = Server([Resource("/d", Divide)], port=0, backlog=backlog)
    await server.start()
    try:
        assert server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert _listen_backlog(server.port) == backlog
    finally:
        await server.close()


async def test_keepalive_does_not_drop_a_held_client_whose_pongs_wait_behind_paused_reading() -> None:
    import time

    # A timeout with room for a loaded machine's late pongs before the hold; the held client then goes
    # unanswered for many times it.
    timeout = 0.3
    options = {"ping_interval": 0.05, "ping_timeout": timeout, "max_pending_events": 1}
    async with serving(Resource("/d", Divide), debug_on_error=True, **options) as server:
        # No compression: the padding below must cost its size on the wire.
        async with connect(url(server, "/d"), ping_interval=None, compression=None) as ws:
            await ws.send("1/0")
            for _ in range(4):
                await ws.send("2/1")  # more than max_pending_events wait: reading pauses...
            # ...after a few more KiB (so a close frame right behind a backlog is still read): spend them.
            await ws.send("2/1" + " " * 32 * 1024)
            await eventually(lambda: len(server.held()) == 1)
            [client] = server.held()
            await eventually(lambda: client._session._reading_paused and client._session._read_allowance <= 0)
            # A ping goes unanswered (its pong cannot be read) for many times ping_timeout...
            await eventually(
                lambda: (
                    client._session._ping_sent_at is not None
                    and time.monotonic() - client._session._ping_sent_at > 4 * timeout
                )  # type: ignore[attr-defined]
            )
            # ...and the held client is still open and held; skip lets it go on.
            assert client.state == "OPEN" and server.held() == [client]
            hold.skip(client)  # type: ignore[arg-type]
            # The pong still waits behind the backlog: keepalive must not judge the released client by it.
            assert not client._session.pong_overdue(time.monotonic(), timeout)
            for _ in range(5):
                assert await asyncio.wait_for(ws.recv(), T) == "2"


async def test_a_record_pushed_out_of_the_log_while_held_drops_its_frames_when_the_hold_ends() -> None:
    from livews.server.errors import ErrorLog

    async with serving(Resource("/d", DivideFixed), debug_on_error=True) as server:
        server.errors = ErrorLog(keep=2, keep_frames=1)
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/x")  # int("x") raises: held
            await eventually(lambda: len(server.held()) == 1)
            held_client = server.held()[0]
            record = server.errors.last()
            server.debug_on_error = False
            for _ in range(3):
                async with connect(url(server, "/d")) as other:
                    await other.send("y/1")
                    await _closed_code(other)
            assert record not in list(server.errors) and record.has_frames  # still held: kept
            hold.skip(held_client)  # type: ignore[arg-type]
            assert not record.has_frames


async def test_closing_the_server_closes_a_held_client_with_1001_and_runs_on_close_once() -> None:
    async with serving(Resource("/d", Divide), debug_on_error=True) as server:
        async with connect(url(server, "/d")) as ws:
            await ws.send("1/0")
            await ws.send("2/1")
            await eventually(lambda: len(server.held()) == 1)
            await server.close(timeout=2)
            assert await _closed_code(ws) == 1001
    assert events == ["1/0", ("close", 1001)]
