"""Edges of the server contract: big answers, slow peers during broadcast, shutdown mid-handshake, the
facts and helpers the live layer and handler files rely on."""

from __future__ import annotations

import asyncio
import json
import logging
from types import ModuleType

import pytest
from websockets.asyncio.client import connect

import livews
from livews import ConnectionClosed, Handler, Resource, broadcast, collect
from tests.server.rawws import RawClient
from tests.server.support import eventually, serving, url
from tests.server.units import T


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


async def test_an_answer_bigger_than_the_hard_write_limit_reaches_a_client_that_reads() -> None:
    """The hard limit is for peers that do not read, not for one large message to a peer that does."""
    payload = b"\xab" * (32 * 1024 * 1024)
    async with (
        serving(
            Resource("/echo", Echo, max_message_size=64 * 1024 * 1024, max_frame_size=64 * 1024 * 1024),
            max_write_buffer=1024 * 1024,
        ) as server,
        connect(url(server, "/echo"), max_size=None, compression=None) as ws,
    ):
        await ws.send(payload)
        assert await asyncio.wait_for(ws.recv(), T) == payload
        await ws.send("still open")
        assert await asyncio.wait_for(ws.recv(), T) == "still open"


members: set[livews.Client] = set()
closes: list[int] = []


class Room(Handler):
    """Keeps its own member set, as handler files do, and broadcasts to it."""

    def on_open(self) -> None:
        members.add(self.client)

    def on_text(self, message: str) -> None:
        for _ in range(200):
            broadcast(members, message * 1000)
        self.send_text("done")

    def on_close(self, code: int, reason: str) -> None:
        members.discard(self.client)
        closes.append(code)


async def test_a_slow_client_dropped_during_a_broadcast_does_not_disturb_the_broadcaster(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """on_close of a client closed for overflow must not run inside someone else's broadcast loop."""
    caplog.set_level(logging.WARNING, "livews.server")
    members.clear()
    closes.clear()
    async with serving(Resource("/room", Room), max_write_buffer=128 * 1024, write_limit=16 * 1024) as server:
        stuck = await RawClient.connect(server.port, "/room", rcvbuf=4096)
        assert stuck.status == 101
        async with connect(url(server, "/room"), max_size=None, max_queue=None) as talker:
            await eventually(lambda: len(members) == 2)
            await talker.send("x" * 64)
            received = []
            for _ in range(201):
                message = await asyncio.wait_for(talker.recv(), T)
                received.append(message)
                if message == "done":
                    break
            assert received[-1] == "done"  # the broadcaster was not closed with 1011
            await eventually(lambda: 1008 in closes)
            assert 1011 not in closes
        stuck.close()
    assert "1008" in caplog.text


async def test_shutdown_closes_connections_still_in_their_handshake() -> None:
    async with serving(Resource("/echo", Echo), handshake_timeout=60 * T) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        await writer.drain()
        await asyncio.wait_for(server.close(timeout=T), 2 * T)
        try:  # FIN, or RST if the server had not read the partial head yet: either way it is gone
            assert await asyncio.wait_for(reader.read(), T) == b""
        except ConnectionResetError:
            pass
        writer.close()


class Producer(Handler):
    """Sends while it may, waiting on drain; records how drain ended once the client is gone."""

    outcome: asyncio.Future[str]

    async def on_text(self, message: str) -> None:
        try:
            for _ in range(100_000):
                self.send_binary(b"z" * 65536)
                await self.client.drain()
            Producer.outcome.set_result("never stopped")
        except ConnectionClosed:
            Producer.outcome.set_result("closed")
        except Exception as exc:
            Producer.outcome.set_result(f"raised {type(exc).__name__}")


async def test_drain_raises_connection_closed_once_the_client_is_gone() -> None:
    """A producer loop ``send(); await drain()`` must end when the peer leaves, not spin forever."""
    Producer.outcome = asyncio.get_running_loop().create_future()
    async with serving(Resource("/p", Producer), write_limit=16 * 1024) as server:
        raw = await RawClient.connect(server.port, "/p", rcvbuf=4096)
        raw.send_text("go")
        await eventually(lambda: len(server.clients("/p")) == 1)
        raw.writer.transport.abort()
        assert await asyncio.wait_for(Producer.outcome, T) == "closed"


async def test_client_send_picks_text_or_binary_from_the_type() -> None:
    async with serving(Resource("/e", Echo)) as server, connect(url(server, "/e")) as ws:
        await eventually(lambda: len(server.clients()) == 1)
        (client,) = server.clients()
        client.send("text")
        client.send(b"bytes")
        assert [await ws.recv(), await ws.recv()] == ["text", b"bytes"]
        with pytest.raises(TypeError):
            client.send(42)  # type: ignore[arg-type]


async def test_clients_have_distinct_ids_and_print_readably() -> None:
    async with serving(Resource("/e", Echo)) as server:
        async with connect(url(server, "/e?room=1")), connect(url(server, "/e")):
            await eventually(lambda: len(server.clients()) == 2)
            a, b = server.clients()
            assert isinstance(a.id, int) and a.id != b.id
            assert {a.query, b.query} == {"room=1", ""}
            assert "/e" in repr(a) and str(a.port) in repr(a)


async def test_others_lists_the_other_open_clients_of_my_path_only() -> None:
    seen: list[int] = []

    class Counter(Handler):
        def on_text(self, message: str) -> None:
            seen.append(len(self.others()))  # type: ignore[arg-type]

    async with serving(Resource("/c", Counter), Resource("/d", Counter)) as server:
        async with connect(url(server, "/c")) as a, connect(url(server, "/c")), connect(url(server, "/d")):
            await eventually(lambda: len(server.clients()) == 3)
            await a.send("how many?")
            await eventually(lambda: seen == [1])


def test_collect_also_finds_resource_instances_bound_in_the_module() -> None:
    module = ModuleType("instance_style")
    exec(
        "import livews\nclass B(livews.Handler):\n    pass\nbroadcast = livews.Resource('/broadcast', B)\n",
        vars(module),
    )
    (found,) = collect(module)
    assert found.path == "/broadcast" and found.handler is module.B


async def test_subprotocol_may_be_chosen_by_a_callable_of_the_resource() -> None:
    def pick(offered: list[str]) -> str | None:
        return offered[-1] if offered else None

    async with serving(Resource("/p", Echo, subprotocols=pick)) as server:
        async with connect(url(server, "/p"), subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "b"


order: list[str] = []


class FailsOnBoom(Handler):
    def on_text(self, message: str) -> None:
        order.append(message)
        if message == "boom":
            raise RuntimeError("bug")

    def on_close(self, code: int, reason: str) -> None:
        order.append(f"close {code}")


async def test_after_a_handler_error_nothing_is_delivered_after_on_close() -> None:
    order.clear()
    async with serving(Resource("/f", FailsOnBoom)) as server:
        raw = await RawClient.connect(server.port, "/f")
        raw.send_frame(1, b"boom")
        raw.send_frame(1, b"after")  # same write: one read on the server
        _, close = await raw.read_until(8)
        assert close.close_code == 1011
        await eventually(lambda: any(e.startswith("close") for e in order))
        raw.close()
    assert order == ["boom", "close 1011"]


class ReplyThenBroadcast(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(f"reply {message}")
        broadcast(self.client.server.clients("/rb"), f"broadcast {message}")


async def test_a_broadcast_does_not_overtake_what_the_handler_sent_before_it() -> None:
    async with serving(Resource("/rb", ReplyThenBroadcast)) as server, connect(url(server, "/rb")) as ws:
        raw = await RawClient.connect(server.port, "/rb")
        raw.send_text("1")
        raw.send_text("2")  # both in one read: sends are batched, the broadcast must queue behind
        texts = [(await raw.read_frame()).payload for _ in range(4)]
        assert texts == [b"reply 1", b"broadcast 1", b"reply 2", b"broadcast 2"]
        assert [await ws.recv(), await ws.recv()] == ["broadcast 1", "broadcast 2"]
        raw.close()


async def test_a_resource_may_set_its_own_hard_write_limit() -> None:
    closes.clear()
    async with serving(
        Resource("/tight", Room, max_write_buffer=64 * 1024, write_limit=8 * 1024),
        Resource("/room", Room),
        max_write_buffer=512 * 1024 * 1024,
    ) as server:
        stuck = await RawClient.connect(server.port, "/tight", rcvbuf=4096)
        await eventually(lambda: len(server.clients("/tight")) == 1)
        (client,) = server.clients("/tight")
        for _ in range(2000):
            client.send_binary(b"w" * 65536)
            if not client.open:
                break
        assert not client.open
        await eventually(lambda: closes == [1008])
        stuck.close()


async def test_client_state_names_the_engine_state_and_adds_connecting_before_the_handshake() -> None:
    """``Client.state`` is an enum like ``Connection.state``, still equal to the plain names users compare."""
    from livews.server.client import ClientState

    async with serving(Resource("/echo", Echo)) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            await eventually(lambda: len(server._protocols) == 1)
            (session,) = server._protocols
            waiting = session.client
            assert waiting.state is ClientState.CONNECTING and waiting.state == "CONNECTING"
        finally:
            writer.close()
        async with connect(url(server, "/echo")) as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), T) == "hi"
            (client,) = server.clients("/echo")
            assert client.state is ClientState.OPEN and client.state == "OPEN"
            assert json.loads(json.dumps(client.info()))["state"] == "OPEN"
            assert repr(client).endswith(" OPEN>")
        await eventually(lambda: client.state is ClientState.CLOSED)
        assert client.state == client._session.conn.state.name == "CLOSED"
