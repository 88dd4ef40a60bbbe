"""Plain HTTP on the WebSocket port: health, hooks, 404 vs 426, HEAD, escaping, upgrade headers, cookies.

Raw requests go over a socket so every byte of the answer is seen; the upgrade-side hooks are checked with the
``websockets`` client through ``livews.testing.connect``.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from livews import Handler, Resource, Response, Server
from livews.engine.handshake import Headers
from livews.engine.http import parse_cookies
from livews.testing import HandshakeRefused, connect, serving

from .rawws import TIMEOUT


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)


class Cookies(Handler):
    def on_open(self) -> None:
        self.send_text(repr(sorted(self.client.cookies.items())))


async def http(server: Server, head: str) -> tuple[int, dict[str, str], bytes]:
    """Send one raw request head; read the whole answer until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n")
        raw = await asyncio.wait_for(reader.read(), TIMEOUT)  # to EOF: every answer closes the connection
    finally:
        writer.close()
    top, _, body = raw.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return int(lines[0].split(" ")[1]), headers, body


def get(path: str, method: str = "GET", extra: str = "") -> str:
    return f"{method} {path} HTTP/1.1\nHost: test\n{extra}"


async def test_health_path_answers_get_with_200_and_closes() -> None:
    async with serving(Resource("/ws", Echo), health_path="/healthz") as server:
        status, headers, body = await http(server, get("/healthz"))
        assert (status, body) == (200, b"ok\n")
        assert headers["connection"] == "close" and headers["content-length"] == "3"
        assert headers["content-type"] == "text/plain; charset=utf-8"


async def test_head_gets_the_headers_of_get_and_no_body() -> None:
    async with serving(Resource("/ws", Echo), health_path="/healthz") as server:
        status, headers, body = await http(server, get("/healthz", "HEAD"))
        assert (status, headers["content-length"], body) == (200, "3", b"")
        status, headers, body = await http(server, get("/nowhere", "HEAD"))
        assert status == 404 and body == b"" and int(headers["content-length"]) > 0
        status, headers, body = await http(server, get("/ws", "HEAD"))  # as GET: 426, without its body
        assert (status, headers["upgrade"], body) == (426, "websocket", b"") and int(
            headers["content-length"]
        ) > 0


async def test_plain_get_to_an_unserved_path_is_404_and_to_a_websocket_path_426() -> None:
    async with serving(Resource("/ws", Echo)) as server:
        status, _, body = await http(server, get("/<script>alert(1)</script>"))
        assert status == 404
        assert b"script" not in body  # nothing of the request is echoed
        status, headers, _ = await http(server, get("/ws"))
        assert status == 426 and headers["upgrade"] == "websocket"


async def test_an_attempted_upgrade_keeps_its_websocket_refusal() -> None:
    async with serving(Resource("/ws", Echo), health_path="/healthz") as server:
        bad_version = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 99\n"
        status, headers, _ = await http(server, get("/healthz", extra=bad_version))
        assert status == 426 and headers["sec-websocket-version"] == "13, 8, 7"
        status, _, _ = await http(server, get("/ws", "POST"))
        assert status == 405


async def test_the_resource_hook_is_asked_before_the_server_hook_and_none_passes() -> None:
    def page(request):
        if request.query_params.get("page") == "1":
            return Response(200, "resource page\n")
        return None

    def server_hook(request):
        return Response(200, f"server {request.method}\n", headers={"X-Hook": "server"})

    async with serving(Resource("/ws", Echo, http=page), http=server_hook) as server:
        status, _, body = await http(server, get("/ws?page=1"))
        assert (status, body) == (200, b"resource page\n")
        status, headers, body = await http(server, get("/ws"))
        assert (status, body, headers["x-hook"]) == (200, b"server GET\n", "server")
        status, _, body = await http(server, get("/anything", "DELETE"))
        assert (status, body) == (200, b"server DELETE\n")
        async with connect(server, "/ws") as ws:  # the same path still upgrades
            await ws.send_text("x")
            assert await ws.receive_text() == "x"


async def test_a_failing_hook_answers_500_and_the_server_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request):
        raise RuntimeError("secret detail")

    def injecting(request):
        return Response(200, "x", headers=[("X-Evil", "a\r\nSet-Cookie: stolen=1")])

    async with serving(Resource("/ws", Echo), Resource("/inj", Echo, http=injecting), http=broken) as server:
        with caplog.at_level(logging.ERROR, logger="livews.server"):
            status, _, body = await http(server, get("/page"))
            assert status == 500 and b"secret" not in body
            status, headers, _ = await http(server, get("/inj"))
            assert status == 500 and "set-cookie" not in headers
        assert "http hook" in caplog.text
        async with connect(server, "/ws") as ws:
            await ws.send_text("still serving")
            assert await ws.receive_text() == "still serving"


def test_response_html_escapes_every_value() -> None:
    response = Response.html("<p>hello {name}</p>", name='<img src=x onerror="alert(1)">')
    assert response.body == "<p>hello &lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"
    assert response.content_type == "text/html; charset=utf-8"


async def test_upgrade_response_headers_come_from_the_server_then_the_resource() -> None:
    def server_headers(request):
        return [("X-Server", "1")]

    def session(request):
        return {"Set-Cookie": "session=abc; HttpOnly", "X-Path": request.path}

    resource = Resource("/ws", Echo, response_headers=session)
    async with serving(resource, response_headers=server_headers) as server:
        async with connect(server, "/ws") as ws:
            names = [name for name, _ in ws.response_headers]
            assert ("Set-Cookie", "session=abc; HttpOnly") in ws.response_headers
            assert ("X-Path", "/ws") in ws.response_headers
            assert names.index("X-Server") < names.index("Set-Cookie")


async def test_a_failing_or_unsafe_upgrade_header_hook_refuses_with_500() -> None:
    def broken(request):
        raise RuntimeError("boom")

    def unsafe(request):
        return [("X-A", "1\r\nX-B: 2")]

    async with serving(
        Resource("/a", Echo, response_headers=broken), Resource("/b", Echo, response_headers=unsafe)
    ) as server:
        for path in ("/a", "/b"):
            with pytest.raises(HandshakeRefused) as refused:
                async with connect(server, path):
                    pass
            assert refused.value.status == 500


async def test_the_requests_cookies_are_parsed_on_the_client() -> None:
    async with serving(Resource("/c", Cookies)) as server:
        headers = [("Cookie", 'theme=dark; session="q w"'), ("Cookie", "theme=light; flag")]
        async with connect(server, "/c", headers=headers) as ws:
            assert await ws.receive_text() == repr([("session", "q w"), ("theme", "dark")])


def test_cookie_parsing_skips_pairs_without_a_name_or_equals_and_keeps_the_first() -> None:
    headers = Headers([("Cookie", "a=1; =x; b; c = 3 ;a=2"), ("cookie", 'd=""')])
    assert parse_cookies(headers) == {"a": "1", "c": "3", "d": ""}
