"""How editors save a file, done for real on disk, and a client that asks the server which code answers."""

from __future__ import annotations

import os
import time
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

from livews.live import LiveServer, ReloadReport

from .conftest import T


def write_in_place(path: Path, text: str, split: int | None = None, pause: float = 0.0) -> None:
    """Truncate and rewrite ``path`` (VS Code's way); with ``split``, in two writes ``pause`` s apart."""
    data = text.encode()
    with open(path, "wb") as f:
        if split is not None:
            f.write(data[:split])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(pause)
            data = data[split:]
        f.write(data)


def write_atomically(path: Path, text: str) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path`` (most editors' way)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_with_backup(path: Path, text: str, pause: float = 0.0) -> None:
    """Rename ``path`` to a backup, then write a new ``path`` (vim's way): for a while there is none."""
    os.replace(path, path.with_name(path.name + "~"))
    time.sleep(pause)
    path.write_text(text)


def ask(live: LiveServer, path: str, message: str = "?") -> str:
    """Open a new connection, send one message, return the answer (fails on a refused handshake)."""
    with connect(live.url + path, open_timeout=T) as ws:
        ws.send(message)
        answer = ws.recv(timeout=T)
        assert isinstance(answer, str)
        return answer


def roundtrip(ws: ClientConnection, message: str = "?") -> str:
    ws.send(message)
    answer = ws.recv(timeout=T)
    assert isinstance(answer, str)
    return answer


def reports_until(live: LiveServer, first: int, done: str) -> list[ReloadReport]:
    """The reports from number ``first`` on, until one whose line contains ``done`` (bounded by T)."""
    found = []
    deadline = time.monotonic() + T
    index = first
    while time.monotonic() < deadline:
        report = live.wait_report(index, max(deadline - time.monotonic(), 0.01))
        found.append(report)
        if done in str(report):
            return found
        index += 1
    raise AssertionError(f"no report with {done!r}: {found}")
