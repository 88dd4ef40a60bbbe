"""What one client can cost the server: write buffers on every send path, work per read callback, and tasks.

Each test counts bytes, events or calls (never time): the write buffer held for a client that does not
read, the messages delivered before the loop gets a turn, the order in which two clients are served.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, broadcast
from livews.engine.connection import Connection
from livews.server.protocol import DISPATCH_BUDGET, READ_SLICE
from tests.server.rawws import RawClient
from tests.server.support import eventually, serving, url
from tests.server.units import UNIT, T

MIB = 1024 * 1024


def _buffered(client: Any) -> int:
    """Bytes the server holds for ``client`` and has not written to the socket yet (engine and transport)."""
    pending = sum(len(chunk) for chunk in client._session.conn._out)
    transport = client._session.transport
    return pending + (transport.get_write_buffer_size() if transport is not None else 0)


class Flood(Handler):
    """On any text, sends 40 binary messages of 1 MiB the way ``how`` says, recording the bytes held."""

    how = "send"
    peak = 0
    closes: list[int] = []

    def _flood(self) -> None:
        for _ in range(40):
            if Flood.how == "send":
                self.send_binary(b"z" * MIB)
            else:
                broadcast([self.client], b"z" * MIB)
            Flood.peak = max(Flood.peak, _buffered(self.client))

    def on_text(self, message: str) -> Any:
        if Flood.how == "async":

            async def run() -> None:
                for _ in range(40):
                    self.send_binary(b"z" * MIB)
                    Flood.peak = max(Flood.peak, _buffered(self.client))

            return run()
        self._flood()
        return None

    def on_close(self, code: int, reason: str) -> None:
        Flood.closes.append(code)


@pytest.mark.parametrize("how", ["send", "broadcast", "async"])
async def test_max_write_buffer_bounds_what_a_handler_queues_for_a_non_reading_client(how: str) -> None:
    Flood.how, Flood.peak, Flood.closes = how, 0, []
    limit = 4 * MIB
    async with serving(Resource("/f", Flood), max_write_buffer=limit, ping_interval=None) as server:
        raw = await RawClient.connect(server.port, "/f", rcvbuf=4096)
        raw.send_text("go")  # then never reads
        await eventually(lambda: Flood.closes == [1008], timeout=T)
        # At most the limit, plus what one check lets through: a batch up to the high-water mark and one
        # message. Before the fix a plain method queued all 40 MiB.
        assert Flood.peak <= limit + server.write_limit + 2 * MIB
        raw.close()


class Log(Handler):
    """Records every text of every connection, in the order delivered, in one shared list."""

    log: list[str] = []
    binary: list[bytes] = []

    def on_text(self, message: str) -> None:
        Log.log.append(message)
        if message == "f0":
            # Runs when the loop next gets a turn: the number of messages before it is what one read
            # callback delivered.
            asyncio.get_running_loop().call_soon(Log.log.append, "turn")

    def on_binary(self, payload: bytes) -> None:
        Log.log.append("binary")
        Log.binary.append(payload)


def _frames(count: int) -> bytes:
    """``count`` short texts ``f0``, ``f1``, ... as client frames (masked with a zero key)."""
    frames = []
    for i in range(count):
        payload = f"f{i}".encode()
        frames.append(bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
    return b"".join(frames)


def _flood(raw: RawClient, count: int) -> None:
    """``count`` short texts in one write."""
    raw.writer.write(_frames(count))


@pytest.mark.parametrize("tune_allocator", [True, False], ids=["direct-read", "plain-read"])
async def test_one_read_callback_delivers_at_most_the_budget_then_the_loop_gets_a_turn(
    tune_allocator: bool,
) -> None:
    Log.log = []
    count = 5_000
    async with serving(Resource("/l", Log), ping_interval=None, tune_allocator=tune_allocator) as server:
        raw = await RawClient.connect(server.port, "/l")
        _flood(raw, count)
        await eventually(lambda: len(Log.log) == count + 1, timeout=T)
        assert Log.log.index("turn") <= DISPATCH_BUDGET
        assert [m for m in Log.log if m != "turn"] == [f"f{i}" for i in range(count)]  # nothing reordered
        raw.close()


async def test_a_long_read_reaches_the_engine_in_slices_and_every_message_arrives_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fed: list[int] = []
    receive_data = Connection.receive_data

    def recording(self: Connection, data: bytes) -> None:
        fed.append(len(data))
        receive_data(self, data)

    monkeypatch.setattr(Connection, "receive_data", recording)
    Log.log, Log.binary = [], []
    count = 30_000
    async with serving(Resource("/l", Log), ping_interval=None, tune_allocator=False) as server:
        raw = await RawClient.connect(server.port, "/l")
        await eventually(lambda: len(server.clients("/l")) == 1)
        (client,) = server.clients("/l")
        big = b"b" * (3 * READ_SLICE)
        # One read as a TLS or uvloop transport may deliver it: 30,000 tiny frames and a large one.
        read = _frames(count) + bytes((0x82, 0x80 | 127)) + len(big).to_bytes(8, "big") + b"\0\0\0\0" + big
        assert len(read) > 4 * READ_SLICE
        client._session.data_received(read)
        await eventually(lambda: len(Log.log) == count + 2, timeout=T)
        assert max(fed) <= READ_SLICE
        assert Log.log.index("turn") <= DISPATCH_BUDGET
        assert [m for m in Log.log if m not in ("turn", "binary")] == [f"f{i}" for i in range(count)]
        assert Log.log[-1] == "binary" and Log.binary == [big]
        raw.close()


async def test_another_clients_message_is_served_between_two_batches_of_a_flooding_client() -> None:
    Log.log = []
    count = 20_000
    async with serving(Resource("/l", Log), ping_interval=None) as server:
        flooder = await RawClient.connect(server.port, "/l")
        canary = await RawClient.connect(server.port, "/l")
        await eventually(lambda: len(server.clients("/l")) == 2)
        _flood(flooder, count)  # both are in the kernel before the server's next loop turn
        canary.send_text("canary")
        await eventually(lambda: len(Log.log) == count + 2, timeout=T)
        messages = [m for m in Log.log if m != "turn"]
        assert messages.index("canary") <= 2 * DISPATCH_BUDGET
        flooder.close()
        canary.close()


class Stuck:
    """An async handler whose first text waits forever; records cancellation and close."""

    gate: asyncio.Event
    seen: list[str]
    cancelled: list[str]
    closes: list[int]

    @staticmethod
    def reset() -> None:
        Stuck.gate = asyncio.Event()
        Stuck.seen, Stuck.cancelled, Stuck.closes = [], [], []


class StuckHandler(Handler):
    async def on_text(self, message: str) -> None:
        Stuck.seen.append(message)
        try:
            await Stuck.gate.wait()
        except asyncio.CancelledError:
            Stuck.cancelled.append(message)
            raise

    def on_close(self, code: int, reason: str) -> None:
        Stuck.closes.append(code)


async def test_a_handler_task_outliving_its_connection_is_cancelled_after_close_timeout() -> None:
    Stuck.reset()
    async with serving(Resource("/s", StuckHandler), close_timeout=2 * UNIT, ping_interval=None) as server:
        async with connect(url(server, "/s")) as ws:
            await ws.send("hold")
            await eventually(lambda: Stuck.seen == ["hold"])
        await eventually(lambda: server.count("/s") == 0)
        await eventually(lambda: Stuck.cancelled == ["hold"], timeout=T)
        await eventually(lambda: not server._tasks)
        assert Stuck.closes == [1000]  # on_close still delivered, once


async def test_a_close_frame_behind_a_paused_backlog_is_answered_at_once() -> None:
    Stuck.reset()
    async with serving(
        Resource("/s", StuckHandler), max_pending_events=4, close_timeout=2 * UNIT, ping_interval=None
    ) as server:
        raw = await RawClient.connect(server.port, "/s")
        for i in range(10):
            raw.send_text(str(i))
        await eventually(lambda: len(server.clients("/s")) == 1)
        (client,) = server.clients("/s")
        await eventually(lambda: client._session._reading_paused, timeout=T)
        raw.send_close(1000)
        frames, close = await raw.read_until(8)  # before the fix: nothing until keepalive ended it
        assert frames == [] and close.close_code == 1000
        assert await raw.at_eof()
        await eventually(lambda: Stuck.cancelled == ["0"], timeout=T)  # the stuck method, after close_timeout
        assert Stuck.closes == [1000]
        raw.close()
