"""What an idle connection holds: every attribute the server sets lives in a slot, none in a dict.

With more than 30 attributes in an instance dict, CPython stops sharing its keys between instances and each
connection pays over a kilobyte for it; slots keep the idle connection small (bench workload 6). Users may
still put attributes of their own on a client.
"""

from __future__ import annotations

from websockets.asyncio.client import connect

from livews import Handler, Resource
from tests.server.support import eventually, serving, url


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)


async def test_an_open_client_keeps_every_server_attribute_in_a_slot() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
        await eventually(lambda: len(server.clients()) == 1)
        client = server.clients()[0]
        assert vars(client) == {}, sorted(vars(client))
        assert client.path == "/echo" and client.messages_in == 1


async def test_a_user_may_still_put_attributes_on_a_client() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")):
        await eventually(lambda: len(server.clients()) == 1)
        client = server.clients()[0]
        client.nickname = "bob"  # type: ignore[attr-defined]
        assert server.clients()[0].nickname == "bob"  # type: ignore[attr-defined]
