"""The prompt of ``python -m livews``: ptpython in the main thread over a :class:`LiveServer`.

The namespace holds the handle as ``server`` and short helpers bound to it (``resources()``, ``clients()``,
``register()``, ... and ``help()``), plus ``Handler``, ``resource`` and ``keep`` for writing handlers at the
prompt. Reload reports print above the prompt as they happen. Leaving the prompt (Ctrl-D, ``exit()``) stops
the server gracefully: every client gets 1001 "going away".

Without a terminal (stdin not a tty) the same namespace runs in the standard library's console.
"""

from __future__ import annotations

import builtins
import code
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from ..handler import Handler, resource
from .debug import DEBUG_HELP, prompt_helpers
from .handle import LiveServer
from .keep import keep
from .tracebacks import one_line

__all__ = ["HELP", "banner", "namespace", "run_repl"]

HELP = """\
livews live helpers (each runs on the server loop and returns its result or raises the real error):

  server                          the LiveServer handle itself (server.url, server.reports, server.stop())
  resources()                     paths served: path, class, clients, file    -> list of Resource
  clients(path=None)              connected clients with facts and counters    -> list of Client
  register(path, cls, **options)  serve cls at path; on a served path it is a live replace (instances move)
  register(cls)                   serve a class marked @resource(path, ...) at its path
  unregister(path)                stop accepting new connections on path (live ones stay)
  send(client, msg)               send str/bytes to one client (a Client, or its id as in clients())
  broadcast(msg, path=None)       send to every client (on path); returns how many
  kick(client, code=None, reason="")   close one client (a Client or its id; a held one with 1011)
  reload()                        reload every handler file now; returns the reports (printed as lines)
  history()                       the recent reloads, with when and what each changed
  rollback(file)                  put the previously loaded version of file back live (the disk keeps yours)
  diff(file)                      what the last reload of file changed in its text
  stats()                         counters: clients, messages, bytes, reloads, slow calls, errors
  slow()                          handler calls that held the server loop too long (class, method, ms)
  help(obj)                       Python's help on obj; help() shows this text
  Handler, resource, keep         write handlers at the prompt; keep(name, default) carries module state

Debugging (a handler that raises is held for you when server.debug_on_error is on):
{debug}

Saving a file in the handlers directory reloads it; every live connection moves to the new code.
""".replace("{debug}", DEBUG_HELP)

#: How leaving the prompt ends: the local prompt owns the server, an attached one does not.
_LEAVING = "Ctrl-D or exit() stops the server (clients get 1001 going away)."
_DETACHING = "Ctrl-D or exit() detaches; the server keeps running."


def namespace(server: LiveServer, *, attached: bool = False) -> dict[str, Any]:
    """The REPL's globals: the handle, helpers bound to it, and the names used to write handlers."""

    def help(*args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            builtins.help(*args, **kwargs)
        else:
            print(HELP + (_DETACHING if attached else _LEAVING))

    ns: dict[str, Any] = {
        "__name__": "__main__",
        "__doc__": HELP,
        "__builtins__": builtins,
        "server": server,
        "resources": server.resources,
        "clients": server.clients,
        "register": server.register,
        "unregister": server.unregister,
        "send": server.send,
        "broadcast": server.broadcast,
        "kick": server.kick,
        "reload": server.reload,
        "history": server.history,
        "rollback": server.rollback,
        "diff": server.diff,
        "stats": server.stats,
        "slow": server.slow,
        "help": help,
        "Handler": Handler,
        "resource": resource,
        "keep": keep,
    }
    ns.update(prompt_helpers(server))  # errors() pm() held() retry() skip(), and kick() that knows holds
    return ns


def banner(server: LiveServer, *, attached: bool = False) -> str:
    """What the prompt shows first: the URLs served, where reloads come from, the names available."""
    lines = [f"livews {_version()} serving {server.url}"]
    table = server.resources()
    width = max((len(server.url + r.path) for r in table), default=0)
    for r in table:
        cls = getattr(r, "handler", None)
        name = cls.__qualname__ if isinstance(cls, type) else "?"
        lines.append(f"  {(server.url + r.path).ljust(width)}  {name}  ({table.origin_of(r.path)})")
    if not table:
        lines.append("  (no resources yet: add a file to the handlers directory or register() one)")
    watching = server.stats()["watching"]
    lines.append(f"reload: {'watching ' + watching if watching != 'off' else 'off'}")
    if server.console_url is not None:
        lines.append(f"console: {server.console_url}")
    lines.append(
        "names: server resources() clients(path=None) register(path, cls, **options) unregister(path)\n"
        '       send(client, msg) broadcast(msg, path=None) kick(client, code=None, reason="")\n'
        "       reload() history() rollback(file) diff(file) stats() slow() help() Handler resource keep\n"
        "       errors() pm(n=None) held() retry(client) skip(client)"
    )
    if server.debug_on_error:
        lines.append(
            "debug on error: on (a handler that raises holds its client: pm(), retry(), skip(), kick())"
        )
    else:
        lines.append("debug on error: off (a handler that raises closes its client with 1011)")
    lines.append(_DETACHING if attached else _LEAVING)
    return "\n".join(lines)


class _Console(code.InteractiveConsole):
    """The standard library's console, showing a helper's refusal in one line as the ptpython prompt does."""

    def showtraceback(self) -> None:
        exc = sys.exc_info()[1]
        line = one_line(exc) if exc is not None else None
        if line is None:
            super().showtraceback()
        else:
            self.write(line + "\n")


@contextmanager
def logs_above_the_prompt() -> Iterator[None]:
    """Point the log handlers that write to the terminal at whatever ``sys.stderr``/``sys.stdout`` is now.

    ``logging.basicConfig`` keeps the stream it was given; under the prompt that is the raw terminal, and a
    line logged by the server thread would be drawn over ptpython's toolbar. Through ``sys.stderr`` (which
    ptpython's ``patch_stdout`` replaces) it is printed above the prompt, which is then redrawn.
    """
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    terminals = {
        id(s): name
        for name in ("stdout", "stderr")
        for s in (getattr(sys, name), getattr(sys, "__" + name + "__"))
    }
    for logger in (logging.getLogger(), *(logging.getLogger(n) for n in ("livews", *_LOGGERS))):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in terminals:
                moved.append((handler, handler.setStream(_Current(terminals[id(handler.stream)]))))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


_LOGGERS = ("livews.engine", "livews.server", "livews.live")


class _Current:
    """Writes to ``sys.<name>`` as it is at each write (ptpython's proxy while the prompt runs)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        written: int = getattr(sys, self._name).write(text)
        return written

    def flush(self) -> None:
        getattr(sys, self._name).flush()


def _version() -> str:
    try:
        return metadata.version("livews")
    except metadata.PackageNotFoundError:
        return "(source)"


def run_repl(
    server: LiveServer, *, ptpython: bool | None = None, out: Callable[[str], object] = print
) -> None:
    """Run the prompt until the user leaves it, then stop the server. Blocks the calling (main) thread."""
    ns = namespace(server)
    use_pt = sys.stdin.isatty() and sys.stdout.isatty() if ptpython is None else ptpython
    out(banner(server))
    try:
        if use_pt:
            from ptpython.repl import embed

            def configure(repl: Any) -> None:
                repl.show_docstring = False
                repl.enable_history_search = False
                shown = repl._handle_exception

                def handle_exception(exc: BaseException) -> None:
                    line = one_line(exc)
                    if line is None:
                        shown(exc)
                    else:
                        repl.app.output.write(line + "\n")
                        repl.app.output.flush()

                repl._handle_exception = handle_exception

            with logs_above_the_prompt():
                embed(globals=ns, locals=ns, configure=configure, patch_stdout=True, title="livews")
        else:
            _Console(ns).interact(banner="", exitmsg="")
    except SystemExit:
        pass
    finally:
        out("stopping the server (1001 going away)...")
        server.stop()
        out("stopped.")
