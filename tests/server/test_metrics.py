"""The server's figures: ``stats()`` and ``/metrics``, read with prometheus_client's text parser."""

from __future__ import annotations

import socket

from prometheus_client.parser import text_string_to_metric_families

from livews import Handler, Resource, Server
from livews.testing import HandshakeRefused, connect, serving, start_live

from .support import eventually
from .test_plain_http import http


class Echo(Handler):
    def on_text(self, message: str) -> None:
        if message == "fail":
            raise RuntimeError("handler error")
        self.send_text(message)


class Room(Handler):
    pass


async def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = await http(server, "GET /metrics HTTP/1.1\nHost: test\n")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_count_connections_messages_bytes_refusals_and_closes_per_resource() -> None:
    async with serving(Resource("/echo", Echo), Resource("/rooms/{room}", Room), metrics=True) as server:
        async with connect(server, "/echo", compression=False) as ws:
            for text in ("one", "two"):
                await ws.send_text(text)
                assert await ws.receive_text() == text
            async with connect(server, "/rooms/1"), connect(server, "/rooms/2"):
                samples = await scrape(server)
                assert samples[("livews_connections_open", (("resource", "/rooms/{room}"),))] == 2
                assert samples[("livews_connections_open", (("resource", "/echo"),))] == 1
        try:
            async with connect(server, "/nowhere"):
                pass
        except HandshakeRefused:
            pass
        async with connect(server, "/echo") as ws:
            await ws.send_text("fail")
            assert await ws.wait_closed() == (1011, "internal error")
        await eventually(lambda: server.stats()["clients"] == 0)
        samples = await scrape(server)
        echo = (("resource", "/echo"),)
        assert samples[("livews_connections_total", echo)] == 2
        assert samples[("livews_connections_total", (("resource", "/rooms/{room}"),))] == 2
        assert samples[("livews_messages_received_total", echo)] == 3
        assert samples[("livews_messages_sent_total", echo)] == 2
        assert samples[("livews_received_bytes_total", echo)] > samples[("livews_sent_bytes_total", echo)] > 0
        assert samples[("livews_handshake_refusals_total", (("status", "404"),))] == 1
        assert samples[("livews_closes_total", (("code", "1000"),))] == 3
        assert samples[("livews_closes_total", (("code", "1011"),))] == 1
        assert samples[("livews_handler_errors_total", ())] == 1
        assert samples[("livews_http_responses_total", (("status", "200"),))] == 1  # the first scrape


async def test_stats_shows_the_same_figures_as_metrics() -> None:
    async with serving(Resource("/echo", Echo), metrics=True) as server:
        async with connect(server, "/echo") as a, connect(server, "/echo") as b:
            assert server.broadcast("all") == 2
            assert await a.receive_text() == await b.receive_text() == "all"
        await eventually(lambda: server.stats()["clients"] == 0)
        stats = server.stats()
        samples = await scrape(server)
        row = stats["by_resource"]["/echo"]
        echo = (("resource", "/echo"),)
        assert row["connections_total"] == samples[("livews_connections_total", echo)] == 2
        assert row["messages_out"] == stats["messages_out"] == samples[("livews_messages_sent_total", echo)]
        assert row["bytes_in"] == stats["bytes_in"] == samples[("livews_received_bytes_total", echo)]
        assert stats["broadcasts"] == samples[("livews_broadcasts_total", ())] == 1
        assert stats["broadcast_recipients"] == samples[("livews_broadcast_recipients_total", ())] == 2
        assert stats["closes"] == {1000: 2}


async def test_a_client_dropped_for_not_reading_is_counted() -> None:
    async with serving(Resource("/q", Room), max_write_buffer=256 * 1024, metrics=True) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(
            b"GET /q HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        try:
            await eventually(lambda: len(server.clients("/q")) == 1)
            (stuck,) = server.clients("/q")
            for _ in range(100):
                stuck.send_binary(b"y" * 65536)
                if not stuck.open:
                    break
            assert server.stats()["write_buffer_drops"] == 1
            samples = await scrape(server)
            assert samples[("livews_write_buffer_drops_total", ())] == 1
        finally:
            sock.close()


async def test_reloads_and_failed_reloads_are_counted(tmp_path) -> None:
    source = "from livews import Handler, resource\n\n@resource('/r')\nclass R(Handler):\n    pass\n"
    (tmp_path / "r.py").write_text(source, encoding="utf-8")
    edit = await start_live(tmp_path, metrics=True)
    try:
        assert (await edit.save("r.py", source + "# v2\n")).ok
        assert not (await edit.save("r.py", source + "class (\n")).ok
        samples = await scrape(edit.server)
        assert samples[("livews_reloads_total", ())] == 1
        assert samples[("livews_reloads_failed_total", ())] == 1
    finally:
        await edit.server.close(timeout=2)


async def test_metrics_are_off_by_default() -> None:
    async with serving(Resource("/echo", Echo)) as server:
        status, _, _ = await http(server, "GET /metrics HTTP/1.1\nHost: test\n")
        assert status == 404
