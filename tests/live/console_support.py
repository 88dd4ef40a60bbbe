"""Handler files and a started LiveServer with the console on, for the console tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from livews.live import LiveServer
from tests.live.conftest import T

ECHO = """from livews import Handler, resource


@resource("/echo")
class Echo(Handler):
    def on_text(self, message):
        self.send_text({reply})
"""

CHAT = """from livews import Handler, resource


@resource("/chat", subprotocols=["chat.v1"])
class Chat(Handler):
    def on_text(self, message):
        for other in self.others():
            other.send_text(message)
"""

BOOM = """from livews import Handler, resource


@resource("/boom")
class Boom(Handler):
    def on_text(self, message):
        raise RuntimeError("boom: " + message)
"""


def write(handlers: Path, name: str, source: str) -> None:
    """Save a handler file in one atomic rename, as editors do."""
    tmp = handlers / f".{name}.tmp"
    tmp.write_text(source, encoding="utf-8")
    os.replace(tmp, handlers / name)


def handler_files(folder: Path) -> Path:
    folder.mkdir()
    write(folder, "echo.py", ECHO.format(reply="message"))
    write(folder, "chat.py", CHAT)
    write(folder, "boom.py", BOOM)
    return folder


@contextmanager
def console_server(handlers: Path, **options: Any) -> Iterator[LiveServer]:
    options.setdefault("console", True)
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False, ping_interval=None, **options)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)
