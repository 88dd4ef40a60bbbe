"""``--max-message-size`` and ``--no-compression``: server-wide defaults that reach every resource.

Through real ``python -m livews serve`` processes (the live registry and the plain server) and real clients;
a resource that chose its own value keeps it. A class registered at run time gets the defaults too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livews import Handler
from livews.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
T = 15.0

HANDLERS = """from livews import Handler, resource
from livews.engine.deflate import DeflateConfig


@resource("/echo")
class Echo(Handler):
    def on_text(self, message):
        self.send_text(message)


@resource("/roomy", max_message_size=4000, compression=DeflateConfig())
class Roomy(Handler):
    def on_text(self, message):
        self.send_text(message)
"""


def _serve(tmp_path: Path, *options: str) -> Iterator[str]:
    folder = tmp_path / "handlers"
    folder.mkdir()
    (folder / "both.py").write_text(HANDLERS)
    argv = [sys.executable, "-m", "livews", "serve", "--port", "0", "--handlers", str(folder), *options]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert proc.stdout is not None
        urls: list[str] = []
        while len(urls) < 2:
            line = proc.stdout.readline()
            assert line, "the server ended before serving"
            if line.startswith("ws://"):
                urls.append(line.strip())
        yield urls[0].rsplit("/", 1)[0]
    finally:
        proc.terminate()
        proc.wait(T)


@pytest.fixture(params=["live", "plain"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A server started with ``--max-message-size 1000 --no-compression`` (live registry, or --no-reload)."""
    extra = ["--no-console", "--no-attach"] if request.param == "live" else ["--no-reload"]
    yield from _serve(tmp_path, "--max-message-size", "1000", "--no-compression", *extra)


def _closed_code(url: str, message: str) -> int | None:
    with connect(url, open_timeout=T, max_size=None) as ws:
        ws.send(message)
        try:
            ws.recv(timeout=T)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
    return None


def test_max_message_size_and_no_compression_reach_every_resource_that_sets_none_of_its_own(
    limited: str,
) -> None:
    with connect(f"{limited}/echo", open_timeout=T) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None  # deflate offered, not agreed
        ws.send("x" * 1000)
        assert ws.recv(timeout=T) == "x" * 1000
    assert _closed_code(f"{limited}/echo", "x" * 1001) == 1009


def test_a_resource_that_chose_its_own_size_and_compression_keeps_them(limited: str) -> None:
    with connect(f"{limited}/roomy", open_timeout=T) as ws:
        assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        ws.send("y" * 3000)
        assert ws.recv(timeout=T) == "y" * 3000
    assert _closed_code(f"{limited}/roomy", "y" * 4001) == 1009


def test_without_the_options_the_library_defaults_stay(tmp_path: Path) -> None:
    for base in _serve(tmp_path, "--no-console", "--no-attach"):
        with connect(f"{base}/echo", open_timeout=T, max_size=None) as ws:
            assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
            ws.send("z" * 100_000)
            assert ws.recv(timeout=T) == "z" * 100_000


def test_a_class_registered_at_run_time_gets_the_server_defaults(tmp_path: Path) -> None:
    class Up(Handler):
        def on_text(self, message: str) -> None:
            self.send_text(message.upper())

    server = LiveServer(None, port=0, call_timeout=T, max_message_size=500, compression=False).start(T)
    try:
        server.register("/up", Up)
        url = f"ws://127.0.0.1:{server.port}/up"
        with connect(url, open_timeout=T) as ws:
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
            ws.send("a" * 500)
            assert ws.recv(timeout=T) == "A" * 500
        assert _closed_code(url, "a" * 501) == 1009
    finally:
        server.stop(timeout=T)
