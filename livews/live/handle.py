"""The live server handle: a livews server on a background thread, driven from any thread.

``LiveServer`` starts the server on its own event loop thread, loads ``handlers/``, watches it for changes and
exposes what the REPL and notebooks need: ``resources()``, ``clients(path=None)``, ``register``,
``unregister``, ``send``, ``broadcast``, ``kick``, ``reload``, ``stats``, ``stop``. Every method hops onto the
server loop, waits for the answer and returns it or raises the error the loop raised; none of them can be held
up by the caller, and a caller can only be held up by a loop busy for longer than ``call_timeout``.

Reload reports (file saves, ``reload()``, ``register``) are handed to ``on_report`` (the REPL prints them; by
default they go to the ``livews.live`` logger). The most recent ones are kept (``reports``, ``history()``);
older ones are dropped, so a server reloaded all day holds the same memory for them. ``rollback(file)`` and
``diff(file)`` undo and show the last reload of a file.

``console=True`` (or a path) also serves the browser console on the server's port (``livews.live.console``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..engine.codes import CloseCode
from ..handler import _MARK, Handler, collect
from ..resource import Resource
from ..server import Server
from ..server import hold as _hold
from ..server.client import Client
from ..server.errors import ErrorRecord
from ..server.loops import LoopFactory
from .console import DEFAULT_PATH, Console
from .debug import ErrorTable, announcement
from .history import History, Text
from .introspect import (
    ClientTable,
    Lines,
    ResourceRows,
    SlowTable,
    Stats,
    format_bytes,
    format_duration,
)
from .loopthread import LoopThread
from .registry import Registry
from .reloader import DEFAULT_LOAD_TIMEOUT, DEFAULT_SETTLE, Reloader, ReloadReport, show_path
from .watcher import HandlerWatcher

__all__ = ["LiveServer", "registration", "serve_in_background"]

_log = logging.getLogger("livews.live")

_LIVEWS_DIR = Path(__file__).resolve().parent.parent

#: Reports kept for ``reports`` and ``history()``; older ones are dropped.
REPORTS_KEPT = 100


class LiveServer:
    """A running (or startable) livews server with hot reload, safe to drive from any thread.

    ``handlers`` is the directory of handler files, or one handler file (its siblings are then loaded only
    as modules it imports); ``None`` serves only what ``register`` adds. ``port=0``
    picks a free port (read it back from ``port``/``urls``). ``reload_step_ms`` is how long the handlers
    directory must stay quiet before a burst of saves is applied; ``watch_livews`` also watches livews's own
    code and reports "restart required" when it changes. ``load_timeout`` bounds a handler file's import
    (seconds; ``None``: no bound): past it the import is reported as hung, with its file and line, and
    interrupted. ``settle`` is how long a file must stay unchanged before an empty, missing, broken or
    path-dropping read of it is believed (a save still in progress otherwise). ``console``: ``True`` serves
    the browser console at ``/_livews/`` (a string: at that path; see ``console_url``); ``console_token``
    fixes its token (default: a random one) and ``console_trust_loopback=False`` asks the token of loopback
    peers too. ``loop_factory`` makes the server's event loop (``livews.server.loops.loop_factory("uvloop")``
    serves on uvloop). Other keyword arguments go to the server. Use it as a context manager, or call
    :meth:`start` and :meth:`stop`.
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
        load_timeout: float | None = DEFAULT_LOAD_TIMEOUT,
        settle: float = DEFAULT_SETTLE,
        console: bool | str = False,
        console_token: str | None = None,
        console_trust_loopback: bool = True,
        loop_factory: LoopFactory = asyncio.new_event_loop,
        **server_options: Any,
    ) -> None:
        given = Path(handlers).resolve() if handlers is not None else None
        #: The one handler file served when ``handlers`` names a file (its folder is then ``handlers_dir``).
        self.handlers_file = given if given is not None and given.is_file() else None
        self.handlers_dir = given.parent if self.handlers_file is not None and given is not None else given
        self.host = host
        self._port = port
        self.reload_enabled = reload
        self.on_report = on_report
        self._listeners: list[Callable[[str], object]] = []  # attached prompts, besides on_report
        self._step_ms = reload_step_ms
        self._watch_livews = watch_livews
        self._load_timeout = load_timeout
        self._settle = settle
        self._server_options = server_options
        self._thread = LoopThread("livews-server", timeout=call_timeout, loop_factory=loop_factory)
        self._registry = Registry()
        self._server: Any = None
        self._reloader: Reloader | None = None
        self._watcher: HandlerWatcher | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._reports: deque[ReloadReport] = deque(maxlen=REPORTS_KEPT)
        self._report_count = 0  # every report so far, kept or dropped
        self._reloads = self._reload_errors = 0
        self._last_reload: float | None = None
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
        self._server.errors.on_add = self._error_added
        self._reloader = Reloader(
            self._registry,
            self.handlers_dir,
            collect,
            self._instances,
            schedule=self._schedule,
            later=_later,
            load_timeout=self._load_timeout,
            settle=self._settle,
            only=self.handlers_file,
        )
        for report in await self._reloader.load_all():
            self._record(report, announce=True)
        if self.console is not None:
            self.console.check_free([resource.path for resource in self._registry])
            self._reloader.reserved = self.console.refusal  # from now on such a file fails to load
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

    def stop(self, code: int = CloseCode.GOING_AWAY, timeout: float | None = 30.0) -> None:
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
        resources: list[Resource] = self._thread.call(list, self._registry)
        return [self.url + resource.path for resource in resources]

    # ----------------------------------------------------------------------------------- introspection

    def resources(self) -> ResourceRows:
        """The resources served now (path, handler class, live client count, file they come from)."""

        def snapshot() -> ResourceRows:
            entries = self._registry.entries()
            counts = {e.path: len(self._server.clients(e.path)) for e in entries}
            origins = {
                e.path: e.source if isinstance(e.source, str) else show_path(e.source, self.handlers_dir)
                for e in entries
            }
            return ResourceRows([e.resource for e in entries], counts, origins)

        return self._thread.call(snapshot)

    def clients(self, path: str | None = None) -> ClientTable:
        """The connected clients (all, or on ``path``) as live ``Client`` objects in a printable list."""
        return self._thread.call(lambda: ClientTable(self._server.clients(path)))

    def slow(self) -> SlowTable:
        """The recent plain handler calls that held the server loop past ``slow_callback`` (class, method)."""
        return self._thread.call(lambda: SlowTable(self._server.slow_calls.recent))

    def stats(self) -> Stats:
        """Server counters: uptime, clients, messages and bytes, reloads."""

        def snapshot() -> Stats:
            values: dict[str, Any] = {
                "url": self.url,
                "uptime": time.monotonic() - (self._started_at or time.monotonic()),
                "resources": len(self._registry),
            }
            values.update(self._server_stats())
            with self._reports_changed:
                values["reloads"] = self._reloads
                values["reload errors"] = self._reload_errors
                values["last reload"] = self._last_reload
            watched = self.handlers_file or self.handlers_dir
            values["watching"] = str(watched) if self._watcher is not None else "off"
            return Stats(values, _STAT_FORMATS)

        return self._thread.call(snapshot)

    def _server_stats(self) -> dict[str, Any]:
        return {key.replace("_", " "): value for key, value in self._server.stats().items()}

    # --------------------------------------------------------------------------------------- editing

    def register(self, path: str | type, handler_class: type | None = None, **options: Any) -> ReloadReport:
        """Serve ``handler_class`` at ``path``; on a served path, move its live instances (a live replace).

        ``register(Cls)`` serves a class marked ``@resource(path, ...)`` at its path with its options.
        Anything else than a path and a ``Handler`` subclass is refused at once with a one-line reason.
        """
        path, handler_class, options = registration(path, handler_class, options)
        resource = Resource(path, handler_class, **options)
        report = self._thread.run(self._editor().register(resource))
        self._record(report)
        return report

    def unregister(self, path: str) -> ReloadReport:
        """Stop accepting new connections on ``path``; live ones stay until they close."""
        report = self._thread.run(self._editor().unregister(path))
        self._record(report)
        return report

    def reload(self) -> Lines[ReloadReport]:
        """Reload every handler file now (changed or not) and return one report per file (prints as lines)."""
        reports = self._thread.run(self._editor().reload_all())
        for report in reports:
            self._record(report)
        return Lines(reports)

    def history(self) -> History:
        """The recent reports (at most ``REPORTS_KEPT``), oldest first: when, and what each change did."""
        with self._reports_changed:
            return History(self._reports)

    def rollback(self, file: str | Path) -> ReloadReport:
        """Put the previously loaded version of ``file`` back live; the file on disk is left as it is."""
        report = self._thread.run(self._editor().rollback(file))
        self._record(report)
        return report

    def diff(self, file: str | Path) -> Text:
        """What the last reload of ``file`` changed in its text (a unified diff)."""
        editor = self._editor()
        return Text(self._thread.call(editor.diff, file))

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
        self._thread.call(lambda: self._client(client).send(message))

    def broadcast(self, message: str | bytes, path: str | None = None) -> int:
        """Send ``message`` to every client (or every client on ``path``); return how many were sent to."""
        count: int = self._thread.call(lambda: self._server.broadcast(message, path))
        return count

    def kick(self, client: Any, code: int | None = None, reason: str = "") -> None:
        """Close a client's connection (a ``Client`` or its ``id``) with ``code`` and ``reason``.

        Without a code: 1000, or 1011 "internal error" for a client held after a handler error.
        """

        def do() -> None:
            target = self._client(client)
            if code is None and _hold.is_held(target):
                target.close(CloseCode.INTERNAL_ERROR, reason or "internal error")
            else:
                target.close(CloseCode.NORMAL if code is None else code, reason)

        self._thread.call(do)

    # ---------------------------------------------------------------------- errors (see debug.py)

    @property
    def debug_on_error(self) -> bool:
        """Whether a handler that raises holds its connection (``retry``/``skip``) instead of closing it."""
        return (
            bool(self._server_options.get("debug_on_error", False))
            if self._server is None
            else bool(self._server.debug_on_error)
        )

    @debug_on_error.setter
    def debug_on_error(self, on: bool) -> None:
        self._server_options["debug_on_error"] = bool(on)
        if self._server is not None:
            self._thread.call(setattr, self._server, "debug_on_error", bool(on))

    def error_records(self) -> ErrorTable:
        """Recent handler errors and server faults (bounded: ``livews.server.errors``), oldest first."""
        return self._thread.call(lambda: ErrorTable(self._server.errors))

    def error(self, number: int | None = None) -> ErrorRecord:
        """Error record ``number`` (as numbered in ``error_records()``), or the last one."""
        errors = self._server.errors if self._server is not None else None
        if errors is None:
            raise RuntimeError("the server is not started")
        return self._thread.call(lambda: errors.last() if number is None else errors.get(number))

    def held(self) -> ClientTable:
        """Clients held after a handler error (``debug_on_error``), oldest error first."""
        return self._thread.call(lambda: ClientTable(self._server.held()))

    def retry(self, client: Any) -> None:
        """Deliver a held client's failed event again, to its handler's class as it is now; then go on."""
        self._thread.call(lambda: _hold.retry(self._client(client)))

    def skip(self, client: Any) -> None:
        """Drop a held client's failed event and deliver the events that waited behind it."""
        self._thread.call(lambda: _hold.skip(self._client(client)))

    def _error_added(self, record: ErrorRecord) -> None:
        line = announcement(record)
        if line is not None:
            self._announce(line)

    def _client(self, client: Any) -> Any:
        """On the loop: a ``Client`` as given, or the connected client with that ``id``."""
        if isinstance(client, int) and not isinstance(client, bool):
            for candidate in self._server.clients():
                if candidate.id == client:
                    return candidate
            raise LookupError(f"no client {client}")
        if not isinstance(client, Client):
            raise TypeError(f"give a client or its id (as in clients()), not {_shown(client)}")
        return client

    # -------------------------------------------------------------------------------------- reports

    @property
    def reports(self) -> list[ReloadReport]:
        """The most recent load/reload/register reports (at most ``REPORTS_KEPT``), oldest first."""
        with self._reports_changed:
            return list(self._reports)

    @property
    def report_count(self) -> int:
        """How many reports there were so far (kept or dropped): the index the next one will have."""
        with self._reports_changed:
            return self._report_count

    def wait_report(self, index: int, timeout: float = 10.0) -> ReloadReport:
        """Block until report number ``index`` (0-based, see ``report_count``) exists and return it.

        ``LookupError`` if that report was already dropped (more than ``REPORTS_KEPT`` came after it).
        """
        with self._reports_changed:
            if not self._reports_changed.wait_for(lambda: self._report_count > index, timeout):
                raise TimeoutError(f"no report #{index} within {timeout}s ({self._report_count} so far)")
            first = self._report_count - len(self._reports)
            if index < first:
                raise LookupError(f"report #{index} was dropped (the oldest kept is #{first})")
            return self._reports[index - first]

    def _record(self, report: ReloadReport, *, announce: bool = False) -> None:
        if self._server is not None:
            self._server.figures.reloaded(report.kind, report.ok)
        with self._reports_changed:
            self._reports.append(report)
            self._report_count += 1
            if not report.ok:
                self._reload_errors += 1
            elif report.kind in ("reload", "register", "rename", "rollback"):
                self._reloads += 1
                self._last_reload = report.seconds
            self._reports_changed.notify_all()
        if self.console is not None:
            self.console.report(report)
        if announce:
            self._announce(report.details())

    def listen(self, callback: Callable[[str], object]) -> Callable[[], None]:
        """Hand every announcement (reload reports, held clients) to ``callback`` too; return how to stop.

        For prompts other than the owner's (one attached over a socket): ``on_report`` stays the owner's.
        ``callback`` is called on the server loop, so it must only queue the line, never wait.
        """
        self._listeners.append(callback)

        def stop() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return stop

    def _announce(self, line: str) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(line)
            except Exception:
                _log.exception("an announcement listener failed")
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


def serve_in_background(
    handlers: str | Path | None = "handlers", *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> LiveServer:
    """Start a live server on a background thread and return its handle (``port=0``: any free port).

    Not named ``start``: ``livews.start`` is the notebook's entry point (one server per key, messages
    recorded for ``next_message``), and two functions of one name doing different things misled readers.
    """
    return LiveServer(handlers, host=host, port=port, **options).start()


def registration(
    target: str | type, handler_class: type | None, options: dict[str, Any]
) -> tuple[str, type, dict[str, Any]]:
    """``register``'s arguments checked: path, handler class and options, or a one-line ``TypeError``."""
    if isinstance(target, type) and handler_class is None:
        mark = vars(target).get(_MARK)
        if mark is None:
            name = target.__qualname__
            raise TypeError(f"{name} has no @resource(path); give one: register('/path', {name})")
        path, marked = mark
        return registration(path, target, {**marked, **options})
    if not isinstance(target, str):
        raise TypeError(f"register(path, cls): the path must be a str like '/echo', not {_shown(target)}")
    if not target.startswith("/"):
        raise ValueError(f"a path starts with '/': {target!r}")
    if handler_class is None:
        raise TypeError(f"register({target!r}, cls): which Handler subclass serves {target}?")
    if not isinstance(handler_class, type):
        raise TypeError(f"{_shown(handler_class)} is not a class; give a Handler subclass")
    if not issubclass(handler_class, Handler):
        name = handler_class.__qualname__
        raise TypeError(f"{name} is not a Handler subclass (write class {name}(Handler): ...)")
    return target, handler_class, options


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _later(handler: object) -> Callable[[Callable[[], object]], object] | None:
    """For the swap: ``after_call`` of a handler's connection while its ``async`` method runs, else None."""
    client = getattr(handler, "client", None)
    if client is None or not client.in_call():
        return None
    after_call: Callable[[Callable[[], object]], object] = client.after_call
    return after_call


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
