"""The closing handshake on the wire, with a raw peer: who closes TCP, and the close timeout."""

from __future__ import annotations

from livews import Handler, Resource
from tests.server.rawws import RawClient
from tests.server.support import eventually, serving
from tests.server.units import UNIT

closes: list[tuple[int, str]] = []


class ClosesOnRequest(Handler):
    def on_text(self, message: str) -> None:
        self.close(4000, "your turn")

    def on_close(self, code: int, reason: str) -> None:
        closes.append((code, reason))


async def test_after_the_peers_close_frame_the_server_echoes_it_and_closes_tcp_first() -> None:
    """RFC 6455 §7.1.1: the server should close the TCP connection first, once the close is echoed."""
    closes.clear()
    async with serving(Resource("/c", ClosesOnRequest)) as server:
        raw = await RawClient.connect(server.port, "/c")
        raw.send_close(3000, "bye")
        _, echo = await raw.read_until(8)
        assert echo.close_code == 3000
        assert await raw.at_eof()  # without the client closing its side
        raw.close()
    assert closes == [(3000, "bye")]


async def test_a_peer_that_never_answers_our_close_is_dropped_after_the_close_timeout() -> None:
    closes.clear()
    async with serving(Resource("/c", ClosesOnRequest), close_timeout=4 * UNIT) as server:
        raw = await RawClient.connect(server.port, "/c")
        raw.send_text("close please")
        _, close = await raw.read_until(8)
        assert close.close_code == 4000 and close.payload[2:] == b"your turn"
        assert await raw.at_eof()  # we never answer; the server gives up and drops us
        await eventually(lambda: len(closes) == 1)
        raw.close()
    assert closes == [(1006, "")]  # no close frame came back: abnormal closure, reported once


async def test_data_after_our_close_frame_is_not_delivered() -> None:
    """RFC 6455 §7.1.2: once the server has sent close, further data from the peer is discarded."""
    closes.clear()
    seen: list[str] = []

    class Recorder(ClosesOnRequest):
        def on_text(self, message: str) -> None:
            seen.append(message)
            super().on_text(message)

    async with serving(Resource("/c", Recorder)) as server:
        raw = await RawClient.connect(server.port, "/c")
        raw.send_text("first")
        await raw.read_until(8)
        raw.send_text("too late")
        raw.send_close(4000)
        assert await raw.at_eof()
        raw.close()
    assert seen == ["first"] and closes == [(4000, "")]


class FloodsOnRequest(ClosesOnRequest):
    """Queues far more than loopback's socket buffers hold for a peer that reads none of it."""

    def on_text(self, message: str) -> None:
        for _ in range(24):
            self.send(bytes(1024 * 1024))


async def test_a_peer_that_closes_but_never_reads_what_is_queued_is_dropped_after_the_close_timeout() -> None:
    """Once the close is echoed, the server closes TCP; what is still queued must not keep it open forever."""
    closes.clear()
    options = {"close_timeout": 4 * UNIT, "max_write_buffer": 64 * 1024 * 1024, "ping_interval": None}
    async with serving(Resource("/c", FloodsOnRequest), **options) as server:
        raw = await RawClient.connect(server.port, "/c")
        raw.send_text("flood me")
        await eventually(lambda: server.clients("/c")[0].bytes_out > 16 * 1024 * 1024)
        raw.send_close(3000, "bye")  # and never read a byte
        await eventually(lambda: closes == [(3000, "bye")])
        await eventually(lambda: not server.clients("/c"))  # connection_lost: the transport was dropped
        raw.close()
