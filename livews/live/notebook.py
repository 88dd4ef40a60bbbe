"""livews from Jupyter: start a live server from a cell, talk to it cell by cell, see its handlers' errors.

    import livews
    srv = livews.start(port=0)          # background thread; the kernel's own event loop is never touched
    srv.register("/echo", Echo)         # a class defined in a cell serves at once; run it again: live replace

``start`` keeps one server per ``key`` (by default ``"host:port"``, so ``"127.0.0.1:0"`` for ``port=0``).
Running the cell again with the same key and the same arguments returns the running server (no second
server, no leaked port); with other arguments it stops that server (clients get 1001) and starts a new one.
``stop()`` stops one or all of them.

The handle is a :class:`~livews.live.handle.LiveServer` with three additions for notebooks:

- ``next_message(path, timeout)`` (and ``await next_message_async(...)``) hands over, oldest first, the
  messages clients sent to resources registered through this handle. To record them, ``register`` gives the
  resource an ``observer`` (``livews.server.observe``): the server shows it each message before the handler
  gets it, and serves your class itself (``type(handler) is YourClass``, after a live replace too).
- Problems the server logs from its thread (a handler that raised, a client closed for being too slow) are
  kept in ``errors`` and printed, with the traceback trimmed to your code, in the output of the cell that is
  running when they happen or of the next cell you run (IPython's ``pre_run_cell``/``post_run_cell``
  hooks, so the text lands in the right cell even though the error happened on the server thread). Outside
  IPython they go to ``sys.stderr`` at once. The connection is handled as for any handler error (1011, or
  held with ``start(debug_on_error=True)``: then ``srv.retry(client)`` / ``srv.skip(client)``). A handler
  error in ``errors`` is the server's own ``ErrorRecord`` (``livews.server.errors``): ``frames``,
  ``locals`` and ``debug()`` (IPython's debugger, or ``debug(commands=[...])`` returning pdb's output).
- The handle, ``errors`` and ``messages()`` display as HTML tables in Jupyter and as text elsewhere (as do
  ``clients()`` and ``resources()``).

Blocking calls (``stop``, ``next_message``) wait in the calling thread. A ``websockets`` client opened in a
cell runs on the kernel's loop, which cannot answer while the cell blocks: use ``await stop_async()`` and
``await next_message_async()`` in that case.

This module is the notebook's handle, its display and the table of running servers; the recorded messages
and their inbox are in ``inbox``, the routing of log records from the server thread in ``logroute``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.codes import CloseCode
from ..server.errors import ErrorRecord, user_traceback
from .debug import announcement
from .handle import LiveServer, registration
from .inbox import Inbox, Message, MessageTable
from .introspect import Column, Table, format_clock
from .logroute import route
from .reloader import ReloadReport
from .report import count

__all__ = ["Message", "MessageTable", "NotebookServer", "Problem", "ProblemTable", "start", "stop"]

_KEEP_PROBLEMS = 1000


# ------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Problem:
    """A warning or error the server logged from its thread; ``traceback`` is trimmed to user code."""

    when: float
    level: str
    message: str
    traceback: str | None = None

    @property
    def error(self) -> str:
        """The exception line (``ZeroDivisionError: division by zero``), empty without one."""
        if not self.traceback:
            return ""
        return self.traceback.rstrip().splitlines()[-1]

    def __str__(self) -> str:
        text = f"livews: {self.message}"
        return f"{text}\n{self.traceback.rstrip()}" if self.traceback else text


class ProblemTable(Table["Problem | ErrorRecord"]):
    """What the server logged as a warning or an error, oldest first (``str(row)`` has the traceback)."""

    noun = "error"
    columns = (
        Column("when", lambda p: format_clock(p.when)),
        Column("level", lambda p: p.level),
        Column("what", lambda p: p.message),
        Column("error", lambda p: p.error),
    )


# -------------------------------------------------------------------------------------- the handle


class NotebookServer(LiveServer):
    """A :class:`LiveServer` that records messages for ``next_message`` and shows errors in cell output.

    ``handlers=None`` serves only what ``register`` adds (pass a directory to also load and watch handler
    files). ``backlog`` bounds the messages kept for ``next_message`` (the oldest go first; 0 records
    nothing and registers classes as they are). ``quiet`` silences the start/stop lines.

    A class given to ``register`` is served as it is; the messages are recorded by the resource's
    ``observer``, so only its connections pay for the recording.
    """

    def __init__(
        self, handlers: str | Path | None = None, *, backlog: int = 1000, quiet: bool = False, **options: Any
    ) -> None:
        options.setdefault("on_report", self._note)
        super().__init__(handlers, **options)
        self.backlog = backlog
        self.quiet = quiet
        self._inbox = Inbox(backlog)
        self._problems: deque[Problem | ErrorRecord] = deque(maxlen=_KEEP_PROBLEMS)
        self._unshown: list[Problem | ErrorRecord | str] = []
        self._problems_lock = threading.Lock()
        self._ident: int | None = None
        self._ipython: Any = None

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self, timeout: float | None = 30.0) -> NotebookServer:
        super().start(timeout)
        thread = self._thread.thread
        assert thread is not None and thread.ident is not None
        self._ipython = _ipython()
        if self._ipython is not None:
            self._ipython.events.register("pre_run_cell", self._show_pending)
            self._ipython.events.register("post_run_cell", self._show_pending)
        self._ident = thread.ident
        route(self._ident, self._logged)
        _ = self.port  # read while running, so the handle still knows the bound port after stop
        return self

    def stop(self, code: int = CloseCode.GOING_AWAY, timeout: float | None = 30.0) -> None:
        """Close every client with ``code`` (1001: going away), free the port, end the server thread.

        Blocks until the clients answered the close (or ``timeout``). Clients running on this thread's event
        loop (a ``websockets`` client in a notebook cell) cannot answer meanwhile: ``await stop_async()``.
        """
        closed: list[int] = []
        try:
            self._stop_now(code, timeout, closed)
        finally:
            self._after_stop(closed)

    async def stop_async(self, code: int = CloseCode.GOING_AWAY, timeout: float | None = 30.0) -> None:
        """``stop`` without blocking the calling event loop, so clients on it answer the close at once."""
        closed: list[int] = []
        try:
            await asyncio.to_thread(self._stop_now, code, timeout, closed)
        finally:
            self._after_stop(closed)

    def _stop_now(self, code: int, timeout: float | None, closed: list[int]) -> None:
        """Stop the server (if running); ``closed`` receives how many clients were closed."""
        if not self.running:
            return
        try:
            count = len(self.clients())
        except Exception:
            count = 0
        try:
            super().stop(code, timeout)
        finally:
            self._inbox.close()
        closed.append(count)

    def _after_stop(self, closed: list[int]) -> None:
        if self._ident is not None:
            route(self._ident, None)
            self._ident = None
        if self._ipython is not None:
            for event in ("pre_run_cell", "post_run_cell"):
                try:
                    self._ipython.events.unregister(event, self._show_pending)
                except ValueError:
                    pass
            self._ipython = None
        _forget(self)
        self._show_pending()
        for n in closed:
            self._say(f"livews: stopped {self.url} ({count(n, 'client')} closed, port freed)")

    # ------------------------------------------------------------------------------------ editing

    def register(self, path: str | type, handler_class: type | None = None, **options: Any) -> ReloadReport:
        """Serve ``handler_class`` at ``path`` now; on a served path, a live replace (connections stay)."""
        path, handler_class, options = registration(path, handler_class, options)
        if self.backlog > 0:
            options.setdefault("observer", self._keep_message)
        return super().register(path, handler_class, **options)

    def _keep_message(self, client: Any, data: str | bytes) -> None:
        """The resources' observer, on the server thread: keep the message for ``next_message``."""
        self._inbox.put(Message(client.path, data, client, time.time(), self))

    # ----------------------------------------------------------------------------------- messages

    def next_message(self, path: str | None = None, timeout: float = 5.0) -> Message:
        """The oldest message clients sent to ``path`` (any registered path for ``None``) not yet taken.

        Waits up to ``timeout`` seconds for one, then raises ``TimeoutError``. Only resources registered
        through this handle record messages, from the moment they are registered.
        """
        if self._ident is not None and threading.get_ident() == self._ident:
            raise RuntimeError("next_message would block the server loop; call it from a cell, not a handler")
        future = self._inbox.take(path)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.cancel():
                raise TimeoutError(_no_message(path, timeout)) from None
            return future.result()
        except BaseException:
            self._inbox.abandon(future)
            raise

    async def next_message_async(self, path: str | None = None, timeout: float = 5.0) -> Message:
        """``next_message`` for ``await``: the calling loop (and its clients) keep running meanwhile."""
        future = self._inbox.take(path)
        try:
            await asyncio.wait([asyncio.wrap_future(future)], timeout=timeout)
        except BaseException:
            self._inbox.abandon(future)
            raise
        if not future.done() and future.cancel():
            raise TimeoutError(_no_message(path, timeout))
        return future.result()

    def messages(self, path: str | None = None) -> MessageTable:
        """The messages waiting for ``next_message`` (all, or on ``path``), without taking them."""
        return MessageTable(self._inbox.peek(path))

    def clear_messages(self, path: str | None = None) -> int:
        """Drop the waiting messages (all, or on ``path``); return how many."""
        return self._inbox.clear(path)

    # ----------------------------------------------------------------------------------- problems

    @property
    def errors(self) -> ProblemTable:
        """Every warning and error the server logged, oldest first (the last 1000)."""
        with self._problems_lock:
            return ProblemTable(self._problems)

    def _logged(self, record: logging.LogRecord) -> None:
        """On the server thread: keep the record as a problem and show it (now, or at a cell boundary)."""
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        kept = getattr(record, "livews_error", None)  # a handler error or fault: the server's own record
        problem = (
            kept
            if isinstance(kept, ErrorRecord)
            else Problem(
                record.created,
                record.levelname,
                message,
                _traceback_of(record),
            )
        )
        with self._problems_lock:
            self._problems.append(problem)
            if self._ipython is not None:
                self._unshown.append(problem)
                return
        print(problem, file=sys.stderr, flush=True)

    def _error_added(self, record: ErrorRecord) -> None:
        line = announcement(record, notebook=True)
        if line is not None:
            self._announce(line)

    def _note(self, line: str) -> None:
        """``on_report``: a handler file was loaded or reloaded (or failed to)."""
        with self._problems_lock:
            if self._ipython is not None:
                self._unshown.append(line)
                return
        self._say(f"livews: {line}")

    def _show_pending(self, *_: object) -> None:
        """In the kernel thread, at a cell boundary: print what happened on the server since the last one."""
        with self._problems_lock:
            pending, self._unshown = self._unshown, []
        for item in pending:
            if not isinstance(item, str):
                print(item, file=sys.stderr, flush=True)
            else:
                self._say(f"livews: {item}")

    # ------------------------------------------------------------------------------------ display

    def describe(self) -> str:
        """The handle as text: URL, state, counts, then the resource table."""
        head = f"livews {self.url} {'running' if self.running else 'stopped'}"
        if not self.running:
            return head
        clients = len(self.clients())
        head += f", {count(clients, 'client')}, {count(len(self.errors), 'error')}"
        return f"{head}\n{self.resources()!r}"

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        head = f"<b>livews</b> <code>{html.escape(self.url)}</code> {state}"
        if not self.running:
            return f"<p>{head}</p>"
        counts = f"{count(len(self.clients()), 'client')}, {count(len(self.errors), 'error')}"
        link = ""
        if self.console_url is not None:
            url = html.escape(self.console_url, quote=True)
            link = f' <a href="{url}" target="_blank" rel="noopener">open the console</a>'
        return f"<div><p>{head}, {html.escape(counts)}{link}</p>{self.resources()._repr_html_()}</div>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else self.describe())

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"<NotebookServer {self.url} {'running' if self.running else 'stopped'}>"

    def _say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)


# ----------------------------------------------------------------------------------- start / stop

_SERVERS: dict[str, NotebookServer] = {}
_SETTINGS: dict[str, dict[str, Any]] = {}
_SERVERS_LOCK = threading.RLock()


def start(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    key: str | None = None,
    handlers: str | Path | None = None,
    replace: bool = False,
    backlog: int = 1000,
    quiet: bool = False,
    **options: Any,
) -> NotebookServer:
    """Start a livews server on a background thread and return its handle; print its URL.

    One server per ``key`` (default ``"host:port"``): called again with the same key and arguments (a cell
    run twice), it returns the running server; with other arguments, or ``replace=True``, it stops that one
    (clients get 1001) and starts a new one. ``handlers``: a directory of handler files to load and watch
    (``None``: only what ``register`` adds). Other keyword arguments go to the server (``ping_interval``,
    ``ssl``, ...). The browser console is on (``console=False`` turns it off; its link is in the handle's
    HTML). Never touches the calling thread's event loop, so it is safe in a Jupyter kernel.
    """
    options.setdefault("console", True)
    key = key if key is not None else f"{host}:{port}"
    settings = {
        "host": host,
        "port": port,
        "handlers": None if handlers is None else Path(handlers).resolve(),
        "backlog": backlog,
        **options,
    }
    with _SERVERS_LOCK:
        current = _SERVERS.get(key)
        if current is not None and current.running and not replace and _SETTINGS.get(key) == settings:
            current.quiet = quiet
            current._say(f"livews: already serving at {current.url} (key {key!r}): returned that server")
            return current
        if current is not None:
            current.stop()
        server = NotebookServer(handlers, host=host, port=port, backlog=backlog, quiet=quiet, **options)
        server.start()
        _SERVERS[key] = server
        _SETTINGS[key] = settings
    server._say(f"livews: serving at {server.url} (key {key!r})")
    return server


def stop(key: str | None = None) -> None:
    """Stop the server ``start`` made for ``key``, or every one of them (clients get 1001)."""
    with _SERVERS_LOCK:
        chosen = list(_SERVERS.values()) if key is None else [s for k, s in _SERVERS.items() if k == key]
    for server in chosen:
        server.stop()


def _forget(server: NotebookServer) -> None:
    with _SERVERS_LOCK:
        for key, value in list(_SERVERS.items()):
            if value is server:
                del _SERVERS[key]
                _SETTINGS.pop(key, None)


# ------------------------------------------------------------------------------------------ small


def _ipython() -> Any:
    """The running IPython shell (kernel or terminal), or ``None``; never imports IPython."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    return get() if get is not None else None


def _traceback_of(record: logging.LogRecord) -> str | None:
    """The record's traceback trimmed to user code, as the server's own error records have it."""
    if not record.exc_info:
        return None
    _, exc, tb = record.exc_info
    return "" if exc is None else user_traceback(exc, tb)


def _no_message(path: str | None, timeout: float) -> str:
    where = f" on {path}" if path is not None else ""
    return f"no message{where} within {timeout}s"
