"""A 16 MiB compressed echo does not hold the loop: the server compresses it a step per loop turn, so another
client's messages are answered meanwhile, and the echo still arrives whole, in order, with the compressor's
context intact for the messages after it. No timings: what is checked is what the server did while the large
message was still being compressed."""

from __future__ import annotations

import asyncio
import os

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, broadcast
from livews.engine.deflate import DeflateConfig
from livews.engine.zlib_backends import BACKEND_NAMES
from tests.server.support import serving, url
from tests.server.units import T

MiB = 1024 * 1024


class Watching(Handler):
    """Echo; counts small messages handled while the large echo's connection was compressing it."""

    big: Handler | None = None
    during = 0

    def on_text(self, message: str) -> None:
        if len(message) > MiB:
            type(self).big = self
        else:
            big = type(self).big
            if big is not None and big.client._session.conn.compressing:
                type(self).during += 1
        self.send_text(message)


def _big_text(size: int) -> str:
    chunk = " ".join(f'{{"n":{i},"id":"{os.urandom(4).hex()}"}}' for i in range(2000))
    return (chunk * (size // len(chunk) + 1))[:size]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
async def test_a_16_mib_compressed_echo_round_trips_while_another_clients_echoes_are_answered(
    backend: str,
) -> None:
    Watching.big, Watching.during = None, 0
    big = _big_text(16 * MiB)
    resource = Resource("/echo", Watching, max_message_size=32 * MiB, max_frame_size=32 * MiB)
    async with serving(resource, deflate_backend=backend) as server:
        async with (
            connect(url(server, "/echo"), compression="deflate", max_size=None) as large,
            connect(url(server, "/echo"), compression="deflate") as small,
        ):
            done = asyncio.Event()

            async def chatter() -> int:
                answered = 0
                while not done.is_set() and answered < 100_000:
                    await small.send(f"small {answered} " * 4)
                    assert await asyncio.wait_for(small.recv(), T) == f"small {answered} " * 4
                    answered += 1
                return answered

            chatting = asyncio.create_task(chatter())
            await large.send(big)
            echo = await asyncio.wait_for(large.recv(), 20 * T)
            done.set()
            answered = await asyncio.wait_for(chatting, T)
            assert echo == big
            # Context takeover still agrees on both sides after the stepped message.
            for i in range(3):
                await large.send(f"after {i} " * 20)
                assert await asyncio.wait_for(large.recv(), T) == f"after {i} " * 20
    assert answered > 0
    assert Watching.during > 0, "no other client was answered while the large echo was being compressed"


class BigThenBroadcast(Handler):
    """On "go": a large message to this client, then a broadcast to every client on the path at once and
    another from outside any handler (the next loop turn, before the first compression step)."""

    def on_text(self, message: str) -> None:
        if message == "go":
            self.send_text(BIG)
            assert self.client._session.conn.compressing
            clients = self.client.server.clients("/b")
            broadcast(clients, SHARED)
            asyncio.get_running_loop().call_soon(broadcast, clients, SHARED.encode())
            self.send_text(SHARED[::-1])


BIG = _big_text(MiB)
#: In the large message too, so a compressor that saw it first would refer to it from the large message.
SHARED = BIG[1000:1400]


@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-context-takeover"])
async def test_a_broadcast_to_a_client_mid_large_message_arrives_after_it_intact(takeover: bool) -> None:
    config = DeflateConfig(server_no_context_takeover=not takeover)
    async with serving(Resource("/b", BigThenBroadcast, compression=config)) as server:
        async with (
            connect(url(server, "/b"), compression="deflate", max_size=None) as sender,
            connect(url(server, "/b"), compression="deflate", max_size=None) as other,
        ):
            await sender.send("go")
            received = [await asyncio.wait_for(sender.recv(), T) for _ in range(4)]
            assert received == [BIG, SHARED, SHARED[::-1], SHARED.encode()]
            assert await asyncio.wait_for(other.recv(), T) == SHARED
            assert await asyncio.wait_for(other.recv(), T) == SHARED.encode()
