"""Every limit has one owner: the handshake's are the server's, a message's are its resource's.

A limit handed to the wrong owner is an error that names the right one, never a value silently ignored.
"""

from __future__ import annotations

import dataclasses

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

import livews
from livews import Handler, HandshakeLimits, Resource, Server
from livews.engine import MessageLimits
from tests.server.support import serving, url


class Echo(Handler):
    def on_text(self, text: str) -> None:
        self.send_text(text)


def test_message_limits_given_to_the_server_are_a_type_error_that_names_the_resource() -> None:
    with pytest.raises(TypeError, match=r"per resource, Resource\(path, handler, max_frame_size=") as info:
        Server([Resource("/echo", Echo)], port=0, limits=MessageLimits(max_frame_size=1))  # type: ignore[arg-type]
    assert "HandshakeLimits" in str(info.value)


def test_a_resource_holds_message_limits_and_no_handshake_field_it_would_never_read() -> None:
    resource = Resource("/echo", Echo, max_frame_size=10, max_message_size=20, max_frame_count=3)
    assert resource.limits == MessageLimits(max_frame_size=10, max_message_size=20, max_frame_count=3)
    fields = {f.name for f in dataclasses.fields(resource.limits)}
    assert fields == {"max_frame_size", "max_message_size", "max_frame_count"}


def test_the_two_kinds_of_limits_share_no_field() -> None:
    head = {f.name for f in dataclasses.fields(HandshakeLimits)}
    message = {f.name for f in dataclasses.fields(MessageLimits)}
    assert head == {
        "max_request_line",
        "max_header_count",
        "max_header_size",
        "max_head_size",
        "max_list_items",
    }
    assert head.isdisjoint(message)


def test_the_old_combined_name_says_where_each_limit_went() -> None:
    with pytest.raises(AttributeError, match=r"HandshakeLimits for Server\(limits=\.\.\.\)"):
        livews.Limits  # noqa: B018


async def test_the_servers_handshake_limits_bound_a_real_clients_head() -> None:
    # The websockets client sends seven header lines: three are allowed.
    async with serving(Resource("/echo", Echo), limits=HandshakeLimits(max_header_count=3)) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server, "/echo")):
                pass
    assert info.value.response.status_code == 431


async def test_the_resources_message_limits_close_a_real_client_with_1009() -> None:
    async with serving(Resource("/echo", Echo, max_message_size=10)) as server:
        async with connect(url(server, "/echo")) as ws:
            await ws.send("0123456789")
            assert await ws.recv() == "0123456789"
            await ws.send("0123456789!")
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
