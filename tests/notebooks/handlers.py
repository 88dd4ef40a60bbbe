"""Handler classes shared by the notebook tests (the tests define more in place, as cells would)."""

from __future__ import annotations

import threading

from livews import Handler


class Echo(Handler):
    """Sends every message back; remembers the thread it ran on."""

    threads: set[str] = set()

    def on_text(self, message: str) -> None:
        Echo.threads.add(threading.current_thread().name)
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


class Broken(Handler):
    def on_text(self, message: str) -> None:
        return 1 / 0  # type: ignore[return-value]  # the line the notebook must show
