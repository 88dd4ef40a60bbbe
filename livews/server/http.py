"""Plain HTTP on the WebSocket port, and extra headers on the upgrade response.

A request without an ``Upgrade`` header is not a WebSocket handshake. Instead of refusing it with 426, the
server answers it here: the health check path if one is set (``Server(health_path="/healthz")``), else the
resource's ``http`` hook for a path a resource serves, else the server's ``http`` hook; a hook returns a
``Response`` or ``None`` to pass. What no one answers keeps a fixed reply: 426 on a WebSocket path (a browser
opened a ``ws`` URL), 404 elsewhere. HEAD gets the headers of GET without the body. Every answer ends the
connection (``Connection: close``): one small request per connection, nothing kept per client.

No reply made here echoes the request: bodies of the fixed replies are constant sentences, and
``Response.html`` escapes every value it puts in its template. Hooks run on the server loop, inline: keep
them quick (a health check, a status page), never blocking.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ..engine.errors import HandshakeError
from ..engine.handshake import reject_response
from ..engine.http import HttpRequest, parse_plain_request

if TYPE_CHECKING:
    from ..engine.interface import UpgradeRequest
    from ..resource import Resource
    from .server import Server

__all__ = ["HttpHook", "HttpRequest", "Response", "plain_answer", "upgrade_headers"]

_log = logging.getLogger("livews.server")

_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_bad_value = re.compile(r"[^\t\x20-\x7e]").search  # controls (but HTAB), DEL and non-ASCII
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NOT_FOUND = "nothing is served at this path\n"
_WEBSOCKET_ONLY = "this URL is a WebSocket endpoint: connect to it with a WebSocket client"


@dataclass(frozen=True)
class Response:
    """An answer to a plain HTTP request: status, extra headers, body (``str`` is sent as UTF-8).

    ``Content-Type`` (``content_type``), ``Content-Length``, ``Connection: close`` and
    ``X-Content-Type-Options: nosniff`` are added. A header name that is not a token, or a value holding a
    line break or another control character, is refused when the response is sent (500, logged).
    """

    status: int = 200
    body: str | bytes = b""
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = field(default_factory=tuple)
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def html(cls, template: str, status: int = 200, **values: Any) -> Response:
        """An HTML page: ``template.format(**values)`` with every value HTML-escaped first."""
        escaped = {name: html.escape(str(value), quote=True) for name, value in values.items()}
        return cls(status, template.format(**escaped), content_type="text/html; charset=utf-8")

    def encode(self, *, head_only: bool = False) -> bytes:
        """The response's bytes; ``head_only`` leaves the body out (HEAD) but keeps its length."""
        if not 200 <= self.status <= 599:
            raise ValueError(f"a plain response needs a final status (200-599), not {self.status!r}")
        body = self.body.encode("utf-8") if isinstance(self.body, str) else bytes(self.body)
        extra = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            ("X-Content-Type-Options", "nosniff"),
            *extra,
        ]
        lines = [f"HTTP/1.1 {self.status} {_PHRASES.get(self.status, '')}".rstrip()]
        lines.extend(f"{name}: {value}" for name, value in checked_headers(headers))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


HttpHook = Callable[[HttpRequest], "Response | None"]
UpgradeHeaders = Callable[["UpgradeRequest"], "Iterable[tuple[str, str]] | Mapping[str, str] | None"]


def checked_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` as a list, or ``ValueError`` for a name that is not a token or a value with a control."""
    checked = []
    for name, value in headers:
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ValueError(f"header name {name!r} is not a token")
        if _bad_value(value):
            raise ValueError(f"header {name} has a control or non-ASCII character in its value")
        checked.append((name, value))
    return checked


def plain_answer(server: Server, head: bytes | bytearray, refusal: HandshakeError) -> bytes | None:
    """The bytes answering ``head`` if it is a plain request, or ``None`` to keep ``refusal``."""
    request = parse_plain_request(head)
    if request is None:
        return None
    head_only = request.method == "HEAD"
    try:
        response = _respond(server, request)
    except Exception:
        _log.exception("the http hook for %s raised", request.path)
        response = Response(500, "internal error\n")
    if response is None:  # a WebSocket path: the handshake's refusal, as before
        if head_only:
            # HEAD mirrors GET, which is refused with 426 here; the answer keeps its length but not its body.
            get_refusal = HandshakeError(426, _WEBSOCKET_ONLY, [("Upgrade", "websocket")])
            answer = reject_response(refusal if refusal.status == 426 else get_refusal)
            return answer[: answer.index(b"\r\n\r\n") + 4]
        return reject_response(refusal)
    try:
        return response.encode(head_only=head_only)
    except ValueError:
        _log.exception("the http hook for %s returned a response that cannot be sent", request.path)
        return Response(500, "internal error\n").encode(head_only=head_only)


def _respond(server: Server, request: HttpRequest) -> Response | None:
    """The hook chain; ``None`` means a WebSocket path nobody answers in HTTP (keep the refusal)."""
    get = request.method in ("GET", "HEAD")
    if get and server.health_path is not None and request.path == server.health_path:
        return Response(200, "ok\n", headers=(("Cache-Control", "no-store"),))
    if get and server.metrics_path is not None and request.path == server.metrics_path:
        from .metrics import prometheus_text

        body, content_type = prometheus_text(server)
        return Response(200, body, headers=(("Cache-Control", "no-store"),), content_type=content_type)
    resource = server.resources.resolve(request.path)
    hook = getattr(resource, "http", None)
    if hook is not None:
        response = hook(request)
        if response is not None:
            return _checked(response)
    if server.http is not None:
        response = server.http(request)
        if response is not None:
            return _checked(response)
    if resource is not None:
        return None
    return Response(404, _NOT_FOUND)


def _checked(response: object) -> Response:
    if not isinstance(response, Response):
        raise TypeError(f"an http hook must return a Response or None, not {type(response).__name__}")
    return response


def upgrade_headers(server: Server, resource: Resource, request: UpgradeRequest) -> list[tuple[str, str]]:
    """Extra headers for the 101 response: the server's hook, then the resource's; 500 if one fails."""
    found: list[tuple[str, str]] = []
    for hook in (server.response_headers, getattr(resource, "response_headers", None)):
        if hook is None:
            continue
        try:
            headers = hook(request)
            if headers is not None:
                items = headers.items() if isinstance(headers, Mapping) else headers
                found.extend(checked_headers(items))
        except Exception:
            _log.exception("the response_headers hook for %s failed", request.path)
            raise HandshakeError(500, "internal error") from None
    return found
