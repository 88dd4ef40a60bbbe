"""Bench server on livews: the ``python -m livews serve`` CLI run in this process, plus a READY line.

    python bench/servers/livews_server.py --port P --mode echo|broadcast [--compress]

#########################################################################################################
#  LIVEWS ADAPTER: written against the API livews is expected to have; the lead finishes it when it     #
#  lands. Everything to adjust is in the block marked ADAPTER below and in livews_handlers/broadcast.py. #
#########################################################################################################

What it expects from livews:
- ``python -m livews serve --host 127.0.0.1 --port P --handlers DIR`` serves the handler files in DIR and
  keeps running (run here with ``runpy``, in this process, so the runner measures the real server's pid).
- echo mode serves the repository's ``handlers/`` folder, whose ``echo.py`` echoes text and binary on
  ``/echo``.
- broadcast mode serves ``bench/servers/livews_handlers/``, whose ``broadcast.py`` serves ``/broadcast`` with
  ``livews.broadcast(clients, message)``.
- the bench settings of ``_common``: permessage-deflate only with --compress (window 15, level 1, memLevel 8),
  messages up to 16 MiB (the livews default), no keepalive pings during a run.

READY is printed once this process has a listening TCP socket on the port (seen through psutil, so no probe
connection reaches the server).
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from pathlib import Path

import psutil
from _common import HOST, Options, announce_ready, parse_args

__all__ = ["main"]

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent.parent

# ----------------------------------------------------------------------------------------------- ADAPTER
_ECHO_HANDLERS = _REPO / "handlers"
"""Handler folder for echo mode: echo.py serves /echo."""
_BROADCAST_HANDLERS = _HERE / "livews_handlers"
"""Handler folder for broadcast mode: broadcast.py serves /broadcast."""
_DEFLATE_ARGS: dict[bool, list[str]] = {False: [], True: []}
"""Extra CLI arguments without / with --compress. Clients only offer permessage-deflate in the compressed
workloads, so the plain ones are unaffected either way; if livews does not negotiate deflate by default, or
its defaults differ from window 15 / level 1 / memLevel 8, put the flags that set them here."""
_EXTRA_ARGS: list[str] = []
"""Anything else the bench needs from the CLI (turning keepalive pings or hot reload off, for instance)."""


def _cli_args(options: Options) -> list[str]:
    handlers = _ECHO_HANDLERS if options.mode == "echo" else _BROADCAST_HANDLERS
    return [
        "serve",
        "--host",
        HOST,
        "--port",
        str(options.port),
        "--handlers",
        str(handlers),
        *_DEFLATE_ARGS[options.compress],
        *_EXTRA_ARGS,
    ]


# ------------------------------------------------------------------------------------------ end ADAPTER

_READY_TIMEOUT = 30.0


def _announce_when_listening(port: int) -> None:
    me = psutil.Process()
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        for conn in me.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                announce_ready(port)
                return
        time.sleep(0.02)
    print(f"livews did not listen on {port} within {_READY_TIMEOUT:.0f}s", flush=True)


def main() -> None:
    options = parse_args(__doc__.splitlines()[0])
    if str(_REPO) not in sys.path:
        sys.path.insert(1, str(_REPO))
    threading.Thread(target=_announce_when_listening, args=(options.port,), daemon=True).start()
    sys.argv = ["livews", *_cli_args(options)]
    runpy.run_module("livews", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
