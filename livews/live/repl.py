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
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from ..handler import Handler, resource
from .handle import LiveServer
from .keep import keep

__all__ = ["HELP", "banner", "namespace", "run_repl"]

HELP = """\
livews live helpers (each runs on the server loop and returns its result or raises the real error):

  server                          the LiveServer handle itself (server.url, server.reports, server.stop())
  resources()                     paths served: path, class, clients, file    -> list of Resource
  clients(path=None)              connected clients with facts and counters    -> list of Client
  register(path, cls, **options)  serve cls at path; on a served path it is a live replace (instances move)
  unregister(path)                stop accepting new connections on path (live ones stay)
  send(client, msg)               send str/bytes to one client (a Client, or its id as in clients())
  broadcast(msg, path=None)       send to every client (on path); returns how many
  kick(client, code=1000, reason="")   close one client (a Client or its id)
  reload()                        reload every handler file now
  stats()                         counters: clients, messages, bytes, reloads
  help(obj)                       Python's help on obj; help() shows this text
  Handler, resource, keep         write handlers at the prompt; keep(name, default) carries module state

Saving a file in the handlers directory reloads it; every live connection moves to the new code.
Ctrl-D or exit() stops the server (clients get 1001 going away)."""


def namespace(server: LiveServer) -> dict[str, Any]:
    """The REPL's globals: the handle, helpers bound to it, and the names used to write handlers."""

    def help(*args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            builtins.help(*args, **kwargs)
        else:
            print(HELP)

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
        "stats": server.stats,
        "help": help,
        "Handler": Handler,
        "resource": resource,
        "keep": keep,
    }
    return ns


def banner(server: LiveServer) -> str:
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
        '       send(client, msg) broadcast(msg, path=None) kick(client, code=1000, reason="")\n'
        "       reload() stats() help() Handler resource keep"
    )
    lines.append("Ctrl-D or exit() stops the server (clients get 1001 going away).")
    return "\n".join(lines)


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

            embed(globals=ns, locals=ns, configure=configure, patch_stdout=True, title="livews")
        else:
            code.interact(banner="", local=ns, exitmsg="")
    except SystemExit:
        pass
    finally:
        out("stopping the server (1001 going away)...")
        server.stop()
        out("stopped.")
