"""The browser console's backend: a page and a WebSocket of its own on the server's port.

``Console`` serves three static files (``console_static/``) at its path (``/_livews/`` by default) through
the server's plain-HTTP hook, and a WebSocket at ``<path>ws`` through a resource table that resolves that
one path before the live registry. Over that socket it pushes what a person wants to watch (resources,
clients, reload reports, handler errors, a figure per second for the chart) and takes a few actions (kick a
client, broadcast to a path, reload every handler file). Sending to a resource from the page needs nothing
here: the page opens an ordinary WebSocket to that resource.

Who may use the socket: a peer on loopback that asked for a loopback name (``Host``: ``localhost``,
``127.0.0.1``, ``[::1]``), or anyone holding the token (``?token=``, compared in constant time); with
``trust_loopback=False`` everyone needs the token (a shared machine, where loopback is not private). A
browser's ``Origin`` must be the page's own (``http(s)://`` + the ``Host`` it asked), so another site cannot
drive the console from a visitor's browser, and the loopback name rule stops a site whose DNS name was
re-pointed at 127.0.0.1 (DNS rebinding). A client that sends no ``Origin`` (a script) is held to the peer and
token rule alone. All of it is checked at the handshake: a peer refused gets 403 and never a connection (the
server hands ``on_connect`` the peer's address as ``request.peer``).

The static files are plain HTML/CSS/JS with no third-party code; the page writes every value with
``textContent``, and the ``Content-Security-Policy`` sent with it allows only its own script and style.
Everything here runs on the server loop except ``report`` and the log handler, which hop onto it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.codes import CloseCode
from ..handler import Handler
from ..patterns import compile_path
from ..resource import Reject, Resource

if TYPE_CHECKING:
    from ..engine.handshake import Headers
    from ..engine.interface import UpgradeRequest
    from ..server.http import HttpRequest, Response
    from .handle import LiveServer
    from .reloader import ReloadReport

__all__ = ["DEFAULT_PATH", "Console", "console_path"]

_log = logging.getLogger("livews.live")

#: Where the console is served unless told otherwise.
DEFAULT_PATH = "/_livews/"
_STATIC = Path(__file__).resolve().parent / "console_static"
_FILES = {"": ("index.html", "text/html; charset=utf-8"), "console.js": ("console.js", "text/javascript")}
_FILES["console.css"] = ("console.css", "text/css; charset=utf-8")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TICK = 1.0  # seconds between pushes of clients and figures
_HISTORY = 300  # figures kept for the chart: five minutes at one a second
_KEEP_REPORTS = 100
_KEEP_ERRORS = 100
_MAX_ROWS = 500  # clients listed per push: the table a person reads, not an export of every connection
_MAX_COMMAND = 64 * 1024  # a console command is small; a larger message closes that console socket (1009)


def console_path(path: str) -> str:
    """``path`` as the console's prefix: starts and ends with ``/``; ``ValueError`` if it is not a path."""
    if not path.startswith("/") or any(c in path for c in "?#{} \t\r\n"):
        raise ValueError(f"the console path must be a plain path such as {DEFAULT_PATH!r}, not {path!r}")
    return path if path.endswith("/") else path + "/"


class Console:
    """The console of one :class:`LiveServer`: its page, its socket, and what it pushes through it.

    ``token`` defaults to a fresh random one (printed in the banner as part of ``url``).
    """

    #: Clients listed per push (the total is sent too).
    max_rows = _MAX_ROWS

    def __init__(
        self,
        live: LiveServer,
        path: str = DEFAULT_PATH,
        *,
        token: str | None = None,
        trust_loopback: bool = True,
    ) -> None:
        self.live = live
        self.path = console_path(path)
        self.ws_path = self.path + "ws"
        self.token = token or secrets.token_urlsafe(18)
        self.trust_loopback = trust_loopback
        self._files = {
            self.path + name: (_STATIC.joinpath(file).read_bytes(), kind)
            for name, (file, kind) in _FILES.items()
        }
        handler = type("ConsoleSocket", (_ConsoleSocket,), {"console": self})
        self.resource = Resource(
            self.ws_path, handler, on_connect=self._check_request, max_message_size=_MAX_COMMAND
        )
        self._watchers: dict[_ConsoleSocket, None] = {}
        self.reports: deque[dict[str, Any]] = deque(maxlen=_KEEP_REPORTS)
        self.errors: deque[dict[str, Any]] = deque(maxlen=_KEEP_ERRORS)
        self.history: deque[dict[str, Any]] = deque(maxlen=_HISTORY)
        self._last_messages: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._log_handler = _ErrorCatcher(self)

    # ------------------------------------------------------------------------------------ plugging in

    def url(self, base: str) -> str:
        """The page's address on ``base`` (``http://host:port``), with the token."""
        return f"{base}{self.path}?token={self.token}"

    def check_free(self, paths: Iterator[str] | list[str]) -> None:
        """``ValueError`` if a resource path is under the console's path (the console would hide it)."""
        for path in paths:
            if self._hides(path):
                raise ValueError(
                    f"the console's path {self.path!r} is used by the resource {path!r}: "
                    "serve the console elsewhere (console='/other/') or turn it off (console=False)"
                )

    def refusal(self, path: str) -> str | None:
        """Why a handler file may not serve ``path`` once the console runs (the reloader's check), or None."""
        if not self._hides(path):
            return None
        return (
            f"{path} is under the console's path {self.path}: move the resource, or serve the console "
            "elsewhere (--console-path) or not at all (--no-console)"
        )

    def _hides(self, path: str) -> bool:
        pattern = compile_path(path)
        mine = (*self._files, self.ws_path, self.path[:-1])
        return path.startswith(self.path) or any(pattern.overlaps(compile_path(m)) for m in mine)

    def table(self, registry: Any) -> _WithConsole:
        """The table the server resolves from: the console's socket first, then ``registry``."""
        return _WithConsole(registry, self.resource)

    def http(self, fallback: Callable[[HttpRequest], Response | None] | None) -> Callable[..., Any]:
        """The server's plain-HTTP hook: the console's files, else ``fallback`` (the user's hook)."""

        def answer(request: HttpRequest) -> Response | None:
            found = self._files.get(request.path) if request.method in ("GET", "HEAD") else None
            if found is not None:
                from ..server.http import Response

                body, kind = found
                headers = (
                    ("Content-Security-Policy", _CSP),
                    ("Cache-Control", "no-store"),
                    ("Referrer-Policy", "no-referrer"),
                    ("X-Frame-Options", "DENY"),
                )
                return Response(200, body, headers=headers, content_type=kind)
            if request.path == self.path[:-1] and request.method in ("GET", "HEAD"):
                from ..server.http import Response

                query = f"?{request.query_string}" if request.query_string else ""
                return Response(308, "", headers=(("Location", self.path + query),))
            return fallback(request) if fallback is not None else None

        return answer

    def start(self) -> None:
        """On the loop: start the once-a-second push and listen for handler errors."""
        self._loop = asyncio.get_running_loop()
        self._log_handler.thread = threading.get_ident()
        self._ticker = self._loop.create_task(self._tick_forever())
        for name in ("livews.server", "livews.live"):
            logging.getLogger(name).addHandler(self._log_handler)

    def stop(self) -> None:
        for name in ("livews.server", "livews.live"):
            logging.getLogger(name).removeHandler(self._log_handler)
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    # ------------------------------------------------------------------------------------- protection

    def _check_request(self, request: UpgradeRequest) -> None:
        """At the handshake: a browser's Origin must be the page's own; a token, if given, must be right."""
        origin = request.origin
        if origin is not None:
            host = request.headers.get("Host") or ""
            scheme = "https" if self.live._server is not None and self.live._server.ssl else "http"
            if not hmac.compare_digest(origin.lower().encode(), f"{scheme}://{host}".lower().encode()):
                raise Reject("console: origin does not match the page's host", 403)
        given = _query_token(request.query_string)
        if given is not None and not self.token_ok(given):
            raise Reject("console: wrong token", 403)
        if not self.admits(request.peer or "", request.query_string, request.headers):
            raise Reject("console: token required", 403)

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def admits(self, peer: str, query_string: str, headers: Headers | None) -> bool:
        """The right token, or a loopback ``peer`` (when trusted) that asked a loopback name.

        The name matters: a site whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding) reaches this port
        from a visitor's browser with its own name in ``Host`` and a matching ``Origin``.
        """
        given = _query_token(query_string)
        if given is not None and self.token_ok(given):
            return True
        host = headers.get("Host") if headers is not None else None
        return self.trust_loopback and _is_loopback(peer) and _is_loopback_name(host or "")

    # ------------------------------------------------------------------------------------ what it tells

    def report(self, report: ReloadReport) -> None:
        """A reload report happened (any thread): keep it and push it to every watcher."""
        entry = _report_entry(report)
        hidden = [path for path in report.added if self._hides(path)]
        if hidden:
            # Handler files are refused by the reloader (``refusal``); what still gets here (a class
            # registered at the prompt) is served already: say it loudly, where people look.
            _log.warning(
                "%s under the console's path %s: move it or the console", ", ".join(hidden), self.path
            )
            entry["ok"] = False
            entry["where"] = report.source
            entry["line"] += f"; WARNING: {', '.join(hidden)} is under the console's path {self.path}"
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._keep_and_push, self.reports, "report", entry)
        else:  # the first load, on the loop before the console starts: kept for the first page
            self.reports.append(entry)

    def error(self, entry: dict[str, Any]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._keep_and_push, self.errors, "error", entry)

    def _keep_and_push(self, kept: deque[dict[str, Any]], kind: str, entry: dict[str, Any]) -> None:
        kept.append(entry)
        self._push({"type": kind, "entry": entry})

    def _push(self, message: dict[str, Any]) -> None:
        if not self._watchers:
            return
        text = json.dumps(message, default=str)
        for watcher in list(self._watchers):
            watcher.send_text(text)

    def snapshot(self) -> dict[str, Any]:
        """Everything a page that just connected needs."""
        return {
            "type": "hello",
            "path": self.path,
            "resources": self.resources(),
            "clients": self.clients(),
            "clients_total": self._client_total(),
            "reports": list(self.reports),
            "errors": list(self.errors),
            "history": list(self.history),
            "reload": self.live.reload_enabled and self.live.handlers_dir is not None,
        }

    def resources(self) -> list[dict[str, Any]]:
        server = self.live._server
        rows = []
        for entry in self.live._registry.entries():
            resource = entry.resource
            source = entry.source if isinstance(entry.source, str) else _shown(entry.source, self.live)
            rows.append(
                {
                    "path": entry.path,
                    "class": getattr(entry.handler_class, "__qualname__", str(entry.handler_class)),
                    "file": source,
                    "options": _options(resource),
                    "clients": len(server.clients(entry.path)) if server is not None else 0,
                }
            )
        return rows

    def clients(self) -> list[dict[str, Any]]:
        """The first ``max_rows`` clients (oldest first), the console's own sockets left out."""
        server = self.live._server
        if server is None:
            return []
        rows: list[dict[str, Any]] = []
        now = time.monotonic()
        for client in server.clients():
            if client.path == self.ws_path:
                continue
            if len(rows) == self.max_rows:
                break
            rows.append(
                {
                    "id": client.id,
                    "host": f"{client.host}:{client.port}",
                    "path": client.path,
                    "query": client.query_string,
                    "subprotocol": client.subprotocol,
                    "age": round(now - client.connected_at, 1),
                    "messages_in": client.messages_in,
                    "messages_out": client.messages_out,
                    "bytes_in": client.bytes_in,
                    "bytes_out": client.bytes_out,
                    "latency": client.latency,
                    "state": client.state,
                }
            )
        return rows

    def _client_total(self) -> int:
        server = self.live._server
        if server is None:
            return 0
        return len(server.clients()) - len(server.clients(self.ws_path))

    def _figures(self) -> dict[str, Any]:
        """One point of the chart: messages a second (in + out) and open connections, console left out."""
        server = self.live._server
        rows = server.stats()["by_resource"] if server is not None else {}
        messages = sum(r["messages_in"] + r["messages_out"] for p, r in rows.items() if p != self.ws_path)
        connections = sum(r["open"] for p, r in rows.items() if p != self.ws_path)
        previous, self._last_messages = self._last_messages, messages
        rate = 0.0 if previous is None else max(0, messages - previous) / _TICK
        return {"t": time.time(), "mps": rate, "connections": connections}

    async def _tick_forever(self) -> None:
        while True:
            try:
                point = self._figures()
                self.history.append(point)
                if self._watchers:
                    self._push(
                        {
                            "type": "tick",
                            "point": point,
                            "clients": self.clients(),
                            "clients_total": point["connections"],
                            "resources": self.resources(),
                        }
                    )
            except Exception:
                _log.exception("the console's update failed")
            await asyncio.sleep(_TICK)

    # ------------------------------------------------------------------------------------- what it does

    async def act(self, command: dict[str, Any]) -> dict[str, Any]:
        """Run one command from the page; the answer says what happened (or why not)."""
        action = command.get("action")
        server = self.live._server
        if action == "kick":
            client_id = command.get("id")
            for client in server.clients():
                if client.id == client_id and client.path != self.ws_path:
                    client.close(
                        int(command.get("code") or CloseCode.NORMAL), str(command.get("reason") or "kicked")
                    )
                    return {"ok": True, "text": f"closed client #{client_id}"}
            return {"ok": False, "text": f"no connected client #{client_id}"}
        if action == "broadcast":
            path = str(command.get("path") or "")
            if path == self.ws_path or server.resources.resolve(path) is None:
                return {"ok": False, "text": f"no resource at {path!r}"}
            count = server.broadcast(str(command.get("message", "")), path)
            return {"ok": True, "text": f"sent to {count} client{'' if count == 1 else 's'} of {path}"}
        if action == "reload":
            reports = await self.live._reload_on_loop()
            return {"ok": all(r.ok for r in reports), "text": f"reloaded {len(reports)} file(s)"}
        return {"ok": False, "text": f"unknown action {action!r}"}

    def _watch(self, socket: _ConsoleSocket) -> None:
        self._watchers[socket] = None
        socket.send_text(json.dumps(self.snapshot(), default=str))

    def _unwatch(self, socket: _ConsoleSocket) -> None:
        self._watchers.pop(socket, None)


class _ConsoleSocket(Handler):
    """One page's socket: admitted or closed on open, then fed by the console and asked to act."""

    console: Console

    def on_open(self) -> None:  # admitted at the handshake (``Console._check_request``)
        self.console._watch(self)

    async def on_text(self, message: str) -> None:
        try:
            command = json.loads(message)
            if not isinstance(command, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as exc:
            self.send_text(json.dumps({"type": "answer", "ok": False, "text": f"bad command: {exc}"}))
            return
        try:
            answer = await self.console.act(command)
        except Exception as exc:
            _log.exception("console action %r failed", command.get("action"))
            answer = {"ok": False, "text": f"{type(exc).__name__}: {exc}"}
        self.send_text(json.dumps({"type": "answer", "seq": command.get("seq"), **answer}))

    def on_close(self, code: int, reason: str) -> None:
        self.console._unwatch(self)


class _WithConsole:
    """The live registry, with the console's socket resolved first (and never listed among resources)."""

    def __init__(self, registry: Any, resource: Resource) -> None:
        self.registry = registry
        self._resource = resource
        self._path = resource.path

    def resolve(self, path: str) -> Any:
        if path == self._path:
            return self._resource
        return self.registry.resolve(path)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.registry)

    def __len__(self) -> int:
        return len(self.registry)


class _ErrorCatcher(logging.Handler):
    """Errors livews logs with a traceback (a handler method that raised, a failed reload hook).

    Only those logged on this console's server loop: another server in the same process has its own thread.
    """

    def __init__(self, console: Console) -> None:
        super().__init__(logging.ERROR)
        self._console = console
        self.thread: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info or record.exc_info[1] is None or record.thread != self.thread:
            return
        try:
            exc = record.exc_info[1]
            frames = traceback.extract_tb(exc.__traceback__)
            where = (
                f"{_shown(Path(frames[-1].filename), self._console.live)}:{frames[-1].lineno}"
                if frames
                else ""
            )
            self._console.error(
                {
                    "t": record.created,
                    "message": record.getMessage(),
                    "error": f"{type(exc).__name__}: {exc}",
                    "where": where,
                    "client_id": getattr(record, "client_id", None),
                    "path": getattr(record, "path", None),
                }
            )
        except Exception:
            self.handleError(record)


def _report_entry(report: ReloadReport) -> dict[str, Any]:
    error = report.error
    return {
        "t": time.time(),
        "kind": report.kind,
        "source": report.source,
        "ok": report.ok,
        "line": str(report),
        "changed": list(report.changed),
        "added": list(report.added),
        "removed": list(report.removed),
        "moved": report.moved,
        "stuck": report.stuck_count,
        "where": (f"{error.path}:{error.line}" if error.line else str(error.path)) if error else None,
        "detail": error.detail if error is not None else "",
    }


def _options(resource: Any) -> dict[str, Any]:
    """The options of a resource that differ from what people assume, as short text."""
    options: dict[str, Any] = {"origin": repr(resource.origin)}
    subprotocols = resource.subprotocols
    if subprotocols:
        options["subprotocols"] = "chooser" if callable(subprotocols) else list(subprotocols)
    if resource.max_clients is not None:
        options["max_clients"] = resource.max_clients
    options["compression"] = bool(resource.compression)
    options["max_message_size"] = resource.max_message_size
    return options


def _shown(path: Path, live: LiveServer) -> str:
    from .reloader import show_path

    return show_path(path, live.handlers_dir)


def _query_token(query: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(query).get("token")
    return values[0] if values else None


def _is_loopback_name(host_header: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback: ``localhost``, ``127.x.y.z``, ``[::1]``."""
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name == "localhost" or name.endswith(".localhost") or _is_loopback(name)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
