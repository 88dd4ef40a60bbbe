"""The two ways ``python -m livews`` runs a live server: with the prompt, or in the foreground without one.

Both start a :class:`LiveServer` (server on its own thread, ``handlers/`` loaded, watcher on unless
``reload=False``) and print one line per reload. With the prompt, leaving it stops the server; in the
foreground, Ctrl-C or SIGTERM does, and prompts may attach from other terminals (``attach=False``: none).
Either way every client gets 1001 "going away" and the attach socket is removed.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .handle import LiveServer

if TYPE_CHECKING:
    from .attach_server import AttachServer

__all__ = ["missing_handlers", "run"]


def _say(line: str) -> None:
    print(line, flush=True)


def run(
    handlers: str | Path = "handlers",
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    repl: bool = True,
    reload: bool = True,
    attach: bool = True,
    console: bool | str = True,
    **server_options: Any,
) -> int:
    """Serve ``handlers`` live until the prompt is left (``repl``) or a signal comes; return the exit code.

    ``console``: serve the browser console (``True``: at ``/_livews/``, a string: at that path, or not).
    """
    folder = Path(handlers)
    if not folder.exists():
        print(f"livews: {missing_handlers(folder)}", file=sys.stderr)
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
    return _foreground(server, attach)


def _foreground(server: LiveServer, attach: bool) -> int:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    prompts = None
    try:
        if attach:
            prompts = _accept_prompts(server)
        for url in server.urls or [server.url]:
            _say(url)
        if prompts is not None:
            _say(f"attach: python -m livews attach --port {server.port}")
        if server.console_url is not None:
            _say(f"console: {server.console_url}")
        watched = server.handlers_file or server.handlers_dir
        watching = f"reload: watching {watched}" if server.reload_enabled else "reload: off"
        _say(f"{watching}; Ctrl-C stops the server")
        # Short waits: the kernel may hand the signal to another thread (a handler file's import blocked in
        # a system call, say), and the main thread only runs Python's handler once its own wait returns.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _say("stopping the server (1001 going away)...")
        if prompts is not None:
            prompts.close()
        server.stop()
    return 0


def _accept_prompts(server: LiveServer) -> AttachServer | None:
    from .attach import AttachError
    from .attach_cluster import cluster_helpers, worker_index, worker_socket
    from .attach_server import AttachServer

    index = worker_index()
    try:
        if index is not None:  # one socket per worker; attach on the port reaches them all

            def extend(namespace: dict[str, Any]) -> None:
                cluster_helpers(namespace, server, index)

            return AttachServer(server, worker_socket(server.port, index), extend=extend).start()
        return AttachServer(server).start()
    except (AttachError, OSError) as exc:
        _say(f"attach: off ({exc})")
        return None


def missing_handlers(given: Path) -> str:
    """What to tell a user whose ``--handlers`` names nothing: the absolute path looked at, and what to do."""
    where = given if given.is_absolute() else Path.cwd() / given
    return (
        f"no handler folder or file at {where} (from --handlers {given}): pass --handlers with a folder of "
        "handler files or one handler file, or run from the folder that holds handlers/"
    )
