"""One connection is three objects with small interfaces: the session, the public ``Client``, the dispatcher.

The shape ARCHITECTURE.md describes ("One connection"): composition, not one object built from mixins that
share private fields; everything per connection in slots, so idle memory stays what the bench measures.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect

from livews import Handler, Resource
from livews.server.client import Client
from livews.server.dispatch import Dispatcher
from livews.server.protocol import DirectReadProtocol, ServerProtocol
from tests.server.support import T, eventually, serving, url


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)


def test_the_session_client_and_dispatcher_are_separate_classes_not_mixins() -> None:
    for cls in (ServerProtocol, DirectReadProtocol):
        assert not issubclass(cls, (Client, Dispatcher))
    assert not issubclass(Client, (asyncio.BaseProtocol, Dispatcher))
    assert not issubclass(Dispatcher, (asyncio.BaseProtocol, Client))


async def test_a_connection_is_a_session_behind_its_client_with_a_dispatcher_made_at_the_handshake() -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), T) == "hi"
        await eventually(lambda: len(server.clients()) == 1)
        (client,) = server.clients()
        session = client._session
        assert type(client) is Client and isinstance(session, ServerProtocol)
        assert session.client is client and client.handler is not None and client.handler.client is client
        dispatcher = session.dispatcher
        assert isinstance(dispatcher, Dispatcher) and dispatcher.client is client
        assert server._protocols == {session}
        # Per-connection state lives in slots: the only instance dict is the Client's, empty unless filled.
        assert not hasattr(session, "__dict__") and not hasattr(dispatcher, "__dict__")
        assert client.__dict__ == {}
        assert (client.messages_in, client.messages_out) == (1, 1)
