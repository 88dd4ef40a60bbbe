"""The live layer: program a running livews server from a REPL or a notebook, and hot-reload handler files.

    import livews.live
    server = livews.live.serve_in_background("handlers", port=0)  # returns once listening
    server.clients()                                               # live Client objects, as a table
    server.stop()

Handler files keep module state across reloads with ``messages = keep("messages", [])``.
The server and the engine never import this package; it edits what the server resolves.
"""

from __future__ import annotations

from .handle import LiveServer, serve_in_background
from .keep import keep
from .loader import LoadError
from .reloader import ReloadReport

__all__ = ["LiveServer", "LoadError", "ReloadReport", "keep", "serve_in_background"]
