"""``Communicator``: one handler driven through the real handshake, engine and dispatch, with no socket."""

from __future__ import annotations

import asyncio

import pytest

from livews import Handler, Reject, Resource, resource
from livews.testing import Closed, Communicator, HandshakeRefused


@resource("/count")
class Counter(Handler):
    def on_open(self) -> None:
        self.seen: list[str] = []

    def on_text(self, message: str) -> None:
        self.seen.append(message)
        self.send_text(f"{len(self.seen)}:{message}")
        if message == "stop":
            self.close(4000, "stopped")

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload[::-1])


class Slow(Handler):
    """An async method: later events wait for it, and what it sends arrives after an await."""

    async def on_text(self, message: str) -> None:
        await asyncio.sleep(0)
        self.send_text(message + "!")


class Broken(Handler):
    def on_text(self, message: str) -> None:
        raise RuntimeError("boom")


async def test_handler_state_and_what_it_sent_are_visible() -> None:
    async with Communicator(Counter) as comm:
        await comm.send_text("a")
        await comm.send_text("b")
        assert comm.sent == ["1:a", "2:b"]
        assert comm.handler.seen == ["a", "b"]
        assert await comm.receive_text() == "1:a"
        assert await comm.receive_text() == "2:b"
        await comm.receive_nothing()


async def test_binary_and_large_messages_cross_the_engine() -> None:
    big = bytes(range(256)) * 1000  # over 64 KiB: the 8-byte length form, both ways
    async with Communicator(Counter) as comm:
        await comm.send_binary(big)
        assert await comm.receive_bytes() == big[::-1]


async def test_async_methods_are_awaited_in_order() -> None:
    async with Communicator(Slow, path="/slow") as comm:
        await comm.send_text("one")
        await comm.send_text("two")
        assert [await comm.receive_text(), await comm.receive_text()] == ["one!", "two!"]


async def test_handler_close_gives_its_code_and_reason_then_on_close() -> None:
    async with Communicator(Counter) as comm:
        await comm.send_text("stop")
        assert await comm.receive_text() == "1:stop"
        assert await comm.wait_closed() == (4000, "stopped")
        with pytest.raises(Closed):
            await comm.send_text("late")
    assert comm.client.close_code == 4000


async def test_a_handler_error_closes_with_1011_and_no_internals() -> None:
    async with Communicator(Broken, path="/broken") as comm:
        await comm.send_text("x")
        assert await comm.wait_closed() == (1011, "internal error")
        assert comm.server.handler_errors == 1


async def test_closing_from_the_client_reaches_on_close() -> None:
    closes: list[tuple[int, str]] = []

    class Recorder(Handler):
        def on_close(self, code: int, reason: str) -> None:
            closes.append((code, reason))

    async with Communicator(Recorder, path="/r") as comm:
        await comm.close(4100, "done")
        assert comm.close_code == 4100  # the server echoed it
    assert closes == [(4100, "done")]


async def test_resource_options_apply_subprotocols_query_and_refusals() -> None:
    def members_only(request: object) -> None:
        raise Reject("members only", status=401)

    async with Communicator(
        Resource("/q", Counter, subprotocols=["b", "a"]), query="room=7", subprotocols=["a", "b"]
    ) as comm:
        assert comm.subprotocol == "b"
        assert comm.client.query_params == {"room": "7"}
    with pytest.raises(HandshakeRefused) as refused:
        async with Communicator(Resource("/p", Counter, on_connect=members_only)):
            pass
    assert refused.value.status == 401


async def test_receive_waits_at_most_its_timeout() -> None:
    async with Communicator(Counter) as comm:
        with pytest.raises(TimeoutError):
            await comm.receive(timeout=0.01)
