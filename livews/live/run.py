"""The two ways ``python -m livews`` runs a live server: with the prompt, or in the foreground without one.

Both start a :class:`LiveServer` (server on its own thread, ``handlers/`` loaded, watcher on unless
``reload=False``) and print one line per reload. With the prompt, leaving it stops the server; in the
foreground, Ctrl-C or SIGTERM does. Either way every client gets 1001 "going away".
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .handle import LiveServer

__all__ = ["run"]


def _say(line: str) -> None:
    print(line, flush=True)


def run(
    handlers: str | Path = "handlers",
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    repl: bool = True,
    reload: bool = True,
    console: bool | str = True,
    **server_options: Any,
) -> int:
    """Serve ``handlers`` live until the prompt is left (``repl``) or a signal comes; return the exit code.

    ``console``: serve the browser console (``True``: at ``/_livews/``, a string: at that path, or not).
    """
    folder = Path(handlers)
    if not folder.is_dir():
        print(f"livews: no handler directory {folder}", file=sys.stderr)
        return 2
    server = LiveServer(
        folder, host=host, port=port, reload=reload, on_report=_say, console=console, **server_options
    )
    try:
        server.start()
    except OSError as exc:
        print(f"livews: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # the console's path is taken by a resource
        print(f"livews: {exc}", file=sys.stderr)
        return 2
    if repl:
        from .repl import run_repl

        run_repl(server)
        return 0
    return _foreground(server)


def _foreground(server: LiveServer) -> int:
    for url in server.urls or [server.url]:
        _say(url)
    watching = f"reload: watching {server.handlers_dir}" if server.reload_enabled else "reload: off"
    if server.console_url is not None:
        _say(f"console: {server.console_url}")
    _say(f"{watching}; Ctrl-C stops the server")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _say("stopping the server (1001 going away)...")
        server.stop()
    return 0
