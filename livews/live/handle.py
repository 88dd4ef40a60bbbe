"""The live server handle: a livews server on a background thread, driven from any thread.

``LiveServer`` starts the server on its own event loop thread, loads ``handlers/``, watches it for changes and
exposes what the REPL and notebooks need: ``resources()``, ``clients(path=None)``, ``register``,
``unregister``, ``send``, ``broadcast``, ``kick``, ``reload``, ``stats``, ``stop``. Every method hops onto the
server loop, waits for the answer and returns it or raises the error the loop raised; none of them can be held
up by the caller, and a caller can only be held up by a loop busy for longer than ``call_timeout``.

Reload reports (file saves, ``reload()``, ``register``) are kept in ``reports`` and handed to ``on_report``
(the REPL prints them; by default they go to the ``livews.live`` logger).

``console=True`` (or a path) also serves the browser console on the server's port (``livews.live.console``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..handler import collect
from ..resource import Resource
from ..server import Server
from .console import DEFAULT_PATH, Console
from .introspect import ClientTable, ResourceTable, Stats, format_bytes, format_duration
from .loopthread import LoopThread
from .registry import Entry, Registry
from .reloader import Reloader, ReloadReport, show_path
from .watcher import HandlerWatcher

__all__ = ["LiveServer", "start"]

_log = logging.getLogger("livews.live")

_LIVEWS_DIR = Path(__file__).resolve().parent.parent


class LiveServer:
    """A running (or startable) livews server with hot reload, safe to drive from any thread.

    ``handlers`` is the directory of handler files (``None`` serves only what ``register`` adds). ``port=0``
    picks a free port (read it back from ``port``/``urls``). ``reload_step_ms`` is how long the handlers
    directory must stay quiet before a burst of saves is applied; ``watch_livews`` also watches livews's own
    code and reports "restart required" when it changes. ``console``: ``True`` serves the browser console at
    ``/_livews/`` (a string: at that path; see ``console_url``); ``console_token`` fixes its token (default:
    a random one) and ``console_trust_loopback=False`` asks the token of loopback peers too. Other keyword
    arguments go to the server.
    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        handlers: str | Path | None = "handlers",
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        reload: bool = True,
        on_report: Callable[[str], object] | None = None,
        call_timeout: float | None = 30.0,
        reload_step_ms: int = 30,
        watch_livews: bool = True,
        console: bool | str = False,
        console_token: str | None = None,
        console_trust_loopback: bool = True,
        **server_options: Any,
    ) -> None:
        self.handlers_dir = Path(handlers).resolve() if handlers is not None else None
        self.host = host
        self._port = port
        self.reload_enabled = reload
        self.on_report = on_report
        self._step_ms = reload_step_ms
        self._watch_livews = watch_livews
        self._server_options = server_options
        self._thread = LoopThread("livews-server", timeout=call_timeout)
        self._registry = Registry()
        self._server: Any = None
        self._reloader: Reloader | None = None
        self._watcher: HandlerWatcher | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._reports: list[ReloadReport] = []
        self._reports_changed = threading.Condition()
        self._started_at: float | None = None
        self._stopped = False
        self.console: Console | None = None
        if console:
            path = DEFAULT_PATH if console is True else console
            self.console = Console(self, path, token=console_token, trust_loopback=console_trust_loopback)

    # ---------------------------------------------------------------------------------------- lifecycle

    def start(self, timeout: float | None = 30.0) -> LiveServer:
        """Start serving; return once listening (``handlers/`` loaded, watcher ready) or raise why not."""
        if self._thread.thread is not None:
            raise RuntimeError("this LiveServer was already started")
        self._thread.start()
        try:
            self._thread.run(self._startup(), timeout=timeout)
        except BaseException:
            self._thread.close()
            raise
        self._started_at = time.monotonic()
        return self

    async def _startup(self) -> None:
        table: Any = self._registry
        options = dict(self._server_options)
        if self.console is not None:
            table = self.console.table(self._registry)
            options["http"] = self.console.http(options.get("http"))
        self._server = Server(table, host=self.host, port=self._port, **options)
        self._reloader = Reloader(
            self._registry, self.handlers_dir, collect, self._instances, schedule=self._schedule
        )
        for report in await self._reloader.load_all():
            self._record(report, announce=True)
        if self.console is not None:
            self.console.check_free([entry.path for entry in self._registry])
            self.console.start()
        await self._server.start()
        if self.reload_enabled and self.handlers_dir is not None and self.handlers_dir.is_dir():
            self._watcher = HandlerWatcher(
                self.handlers_dir,
                self._apply_changes,
                self._restart_required,
                also_watch=[_LIVEWS_DIR] if self._watch_livews else [],
                step_ms=self._step_ms,
            )
            self._watch_task = asyncio.get_running_loop().create_task(self._watcher.run())
            await self._watcher.ready.wait()

    def stop(self, code: int = 1001, timeout: float | None = 30.0) -> None:
        """Close every connection with ``code`` (1001: going away), stop listening, end the thread."""
        if self._stopped or self._thread.thread is None:
            return
        self._stopped = True
        try:
            if self._thread.running:
                self._thread.run(self._shutdown(code), timeout=timeout)
        finally:
            self._thread.close()

    async def _shutdown(self, code: int) -> None:
        if self.console is not None:
            self.console.stop()
        if self._watcher is not None:
            self._watcher.stop()
        if self._watch_task is not None:
            try:
                await asyncio.wait_for(self._watch_task, 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._watch_task.cancel()
            except Exception:
                _log.exception("the watcher failed while stopping")
        if self._server is not None:
            await self._server.close(code, "server shutting down")

    def __enter__(self) -> LiveServer:
        if self._thread.thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread.running and not self._stopped

    @property
    def port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        if self._server is not None and self.running:
            self._port = int(self._server.port)
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{_host_for_url(self.host)}:{self.port}"

    @property
    def console_url(self) -> str | None:
        """The browser console's address with its token (``None`` when the console is off)."""
        if self.console is None:
            return None
        scheme = "https" if self._server_options.get("ssl") else "http"
        return self.console.url(f"{scheme}://{_host_for_url(self.host)}:{self.port}")

    @property
    def urls(self) -> list[str]:
        """``ws://host:port/path`` for every path served now."""
        entries: list[Entry] = self._thread.call(list, self._registry)
        return [self.url + entry.path for entry in entries]

    # ----------------------------------------------------------------------------------- introspection

    def resources(self) -> ResourceTable:
        """The resources served now (path, handler class, live client count, file they come from)."""

        def snapshot() -> ResourceTable:
            entries = list(self._registry)
            counts = {e.path: len(self._server.clients(e.path)) for e in entries}
            origins = {
                e.path: e.source if isinstance(e.source, str) else show_path(e.source, self.handlers_dir)
                for e in entries
            }
            return ResourceTable([e.resource for e in entries], counts, origins)

        return self._thread.call(snapshot)

    def clients(self, path: str | None = None) -> ClientTable:
        """The connected clients (all, or on ``path``) as live ``Client`` objects in a printable list."""
        return self._thread.call(lambda: ClientTable(self._server.clients(path)))

    def stats(self) -> Stats:
        """Server counters: uptime, clients, messages and bytes, reloads."""

        def snapshot() -> Stats:
            values: dict[str, Any] = {
                "url": self.url,
                "uptime": time.monotonic() - (self._started_at or time.monotonic()),
                "resources": len(self._registry),
            }
            values.update(self._server_stats())
            ok = [r for r in self._reports if r.kind in ("reload", "register") and r.ok]
            values["reloads"] = len(ok)
            values["reload errors"] = sum(1 for r in self._reports if not r.ok)
            values["last reload"] = ok[-1].seconds if ok else None
            values["watching"] = str(self.handlers_dir) if self._watcher is not None else "off"
            return Stats(values, _STAT_FORMATS)

        return self._thread.call(snapshot)

    def _server_stats(self) -> dict[str, Any]:
        return {key.replace("_", " "): value for key, value in self._server.stats().items()}

    # --------------------------------------------------------------------------------------- editing

    def register(self, path: str, handler_class: type, **options: Any) -> ReloadReport:
        """Serve ``handler_class`` at ``path``; on a served path, move its live instances (a live replace)."""
        resource = Resource(path, handler_class, **options)
        report = self._thread.run(self._editor().register(resource))
        self._record(report)
        return report

    def unregister(self, path: str) -> ReloadReport:
        """Stop accepting new connections on ``path``; live ones stay until they close."""
        report = self._thread.run(self._editor().unregister(path))
        self._record(report)
        return report

    def reload(self) -> list[ReloadReport]:
        """Reload every handler file now (changed or not) and return one report per file."""
        reports = self._thread.run(self._editor().reload_all())
        for report in reports:
            self._record(report)
        return reports

    async def _reload_on_loop(self) -> list[ReloadReport]:
        """``reload()`` from the server loop itself (the console's reload button); reports are announced."""
        reports = await self._editor().reload_all()
        for report in reports:
            self._record(report, announce=True)
        return reports

    def _editor(self) -> Reloader:
        if self._reloader is None:
            raise RuntimeError("the server is not started")
        return self._reloader

    # ------------------------------------------------------------------------------------------ talking

    def send(self, client: Any, message: str | bytes) -> None:
        """Send one message (``str``: text, ``bytes``: binary) to a client (a ``Client`` or its ``id``)."""

        def do() -> None:
            if isinstance(message, str):
                self._client(client).send_text(message)
            elif isinstance(message, (bytes, bytearray, memoryview)):
                self._client(client).send_binary(bytes(message))
            else:
                raise TypeError(f"send str or bytes, not {type(message).__name__}")

        self._thread.call(do)

    def broadcast(self, message: str | bytes, path: str | None = None) -> int:
        """Send ``message`` to every client (or every client on ``path``); return how many were sent to."""
        count: int = self._thread.call(lambda: self._server.broadcast(message, path))
        return count

    def kick(self, client: Any, code: int = 1000, reason: str = "") -> None:
        """Close a client's connection (a ``Client`` or its ``id``) with ``code`` and ``reason``."""
        self._thread.call(lambda: self._client(client).close(code, reason))

    def _client(self, client: Any) -> Any:
        """On the loop: a ``Client`` as given, or the connected client with that ``id``."""
        if isinstance(client, int) and not isinstance(client, bool):
            for candidate in self._server.clients():
                if candidate.id == client:
                    return candidate
            raise LookupError(f"no connected client with id {client}")
        return client

    # -------------------------------------------------------------------------------------- reports

    @property
    def reports(self) -> list[ReloadReport]:
        """Every load/reload/register report so far, oldest first."""
        with self._reports_changed:
            return list(self._reports)

    def wait_report(self, index: int, timeout: float = 10.0) -> ReloadReport:
        """Block until report number ``index`` (0-based, see ``len(reports)``) exists and return it."""
        with self._reports_changed:
            if not self._reports_changed.wait_for(lambda: len(self._reports) > index, timeout):
                raise TimeoutError(f"no report #{index} within {timeout}s ({len(self._reports)} so far)")
            return self._reports[index]

    def _record(self, report: ReloadReport, *, announce: bool = False) -> None:
        if self._server is not None:
            self._server.figures.reloaded(report.kind, report.ok)
        with self._reports_changed:
            self._reports.append(report)
            self._reports_changed.notify_all()
        if self.console is not None:
            self.console.report(report)
        if announce:
            self._announce(report.details())

    def _announce(self, line: str) -> None:
        if self.on_report is not None:
            try:
                self.on_report(line)
            except Exception:
                _log.exception("on_report failed")
        else:
            _log.info("%s", line)

    # -------------------------------------------------------------------------------- on the loop only

    def _instances(self, path: str | None) -> list[object]:
        if self._server is None:
            return []
        return [c.handler for c in self._server.clients(path) if getattr(c, "handler", None) is not None]

    def _schedule(self, coro: Coroutine[Any, Any, Any]) -> object:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(_log_failure)
        return task

    async def _apply_changes(self, paths: list[Path]) -> None:
        assert self._reloader is not None
        for report in await self._reloader.apply(paths):
            self._record(report, announce=True)

    def _restart_required(self, paths: list[Path]) -> None:
        report = ReloadReport("restart", ", ".join(show_path(p, self.handlers_dir) for p in paths))
        self._record(report, announce=True)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LiveServer {self.url} {state}>"


def start(
    handlers: str | Path | None = "handlers", *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> LiveServer:
    """Start a live server in the background and return its handle (``port=0``: any free port)."""
    return LiveServer(handlers, host=host, port=port, **options).start()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("async on_reload failed", exc_info=task.exception())


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


_STAT_FORMATS: dict[str, Callable[[Any], str]] = {
    "uptime": format_duration,
    "bytes in": format_bytes,
    "bytes out": format_bytes,
    "last reload": lambda s: "" if s is None else f"{s * 1000:.1f} ms",
}
