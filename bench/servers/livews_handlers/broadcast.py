"""Bench broadcast handler for livews, served on /broadcast.

LIVEWS ADAPTER: written against the handler API livews is expected to have (``livews.Handler`` with
``self.client``, ``on_open``, ``on_text``, ``on_close``; the ``@livews.resource(path)`` mark;
``client.send_text``; and ``livews.broadcast(clients, message)``). The lead adjusts the names when livews
lands; the behaviour must stay:

- every open connection is kept in ``_clients``;
- ``go:<n>`` from any client broadcasts ``MESSAGE`` (1 KiB text) n times to all of them, then answers that
  client with ``cpu:<seconds>``, the process CPU time (``time.process_time``) the n broadcasts took.

``MESSAGE`` and the go/cpu talk are the same as in bench/servers/_common.py (not imported: livews loads this
file on its own); the runner checks the 1,024 bytes that arrive.
"""

from __future__ import annotations

import time
from typing import Any

import livews

MESSAGE = "0123456789abcdef" * 64
_MAX_GO = 1000

_clients: set[Any] = set()


def _go_count(text: str) -> int | None:
    if not text.startswith("go:"):
        return None
    try:
        count = int(text[3:])
    except ValueError:
        return None
    return count if 1 <= count <= _MAX_GO else None


@livews.resource("/broadcast")
class Broadcast(livews.Handler):
    """Keeps its client in the broadcast group while open; ``go:<n>`` broadcasts n times."""

    def on_open(self) -> None:
        _clients.add(self.client)

    def on_close(self, code: int, reason: str) -> None:
        _clients.discard(self.client)

    def on_text(self, text: str) -> None:
        count = _go_count(text)
        if count is None:
            return
        started = time.process_time()
        for _ in range(count):
            livews.broadcast(_clients, MESSAGE)
        self.client.send_text(f"cpu:{time.process_time() - started:.9f}")
