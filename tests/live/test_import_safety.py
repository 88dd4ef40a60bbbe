"""A handler file's import cannot hurt the server: a hung import is stopped (where Python allows it) and named
with its file and line, other files keep reloading, ``register`` keeps working, shutdown ends; no
``BaseException`` from user code (at import or in a handler call) ends the server loop."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livews.handler import Handler
from livews.live import LiveServer

from .conftest import T, install
from .prompt import spawn_livews
from .saves import ask, reports_until, roundtrip

#: The import time limit in these tests (seconds).
LIMIT = 1.0

SPIN = "x = 0\nwhile True: x += 1\n"
BLOCK = "import threading\nthreading.Event().wait()\n"


@pytest.fixture
def limited(handlers: Path) -> Iterator[LiveServer]:
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False, load_timeout=LIMIT)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


class Upper(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message.upper())


def _the_server_still_works(live: LiveServer, handlers: Path) -> None:
    n = live.report_count
    install("v2", handlers)
    report = live.wait_report(n, T + LIMIT)
    assert report.ok and report.kind == "reload" and report.source == "handlers/echo.py", str(report)
    assert live.register("/up", Upper).ok
    assert ask(live, "/up", "still here") == "STILL HERE"


def _running(file: str) -> bool:
    """Whether any thread is executing ``file`` now."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_filename.endswith(file):
                return True
            frame = frame.f_back  # type: ignore[assignment]
    return False


def test_a_spinning_import_is_interrupted_named_and_the_server_goes_on(
    limited: LiveServer, handlers: Path
) -> None:
    with connect(limited.url + "/echo", open_timeout=T) as ws:
        assert roundtrip(ws, "a") == "v1 a #1 h1"
        n = limited.report_count
        (handlers / "spin.py").write_text(SPIN)
        for _ in range(int(T * 100)):
            if _running("spin.py"):
                break
            time.sleep(0.01)
        # While the import spins: clients are served and register() answers, without waiting for it.
        assert roundtrip(ws, "during") == "v1 during #2 h2"
        assert limited.register("/during", Upper).kind == "register"
        assert ask(limited, "/during", "x") == "X"
        report = reports_until(limited, n, "spin.py")[-1]
        assert not report.ok and report.error is not None, str(report)
        assert f"{handlers / 'spin.py'}:2" in str(report) and "hung" in str(report), str(report)
        assert "(interrupted)" in str(report), str(report)
        assert roundtrip(ws, "b") == "v1 b #3 h3"
        assert not _running("spin.py"), "the spinning import still runs"
        _the_server_still_works(limited, handlers)
    limited.stop(timeout=T)
    assert limited._thread.thread is not None and not limited._thread.thread.is_alive()


def test_a_blocked_import_is_named_left_behind_and_the_server_goes_on(
    limited: LiveServer, handlers: Path
) -> None:
    with connect(limited.url + "/echo", open_timeout=T) as ws:
        n = limited.report_count
        (handlers / "block.py").write_text(BLOCK)
        report = limited.wait_report(n, T + LIMIT)
        assert not report.ok and f"{handlers / 'block.py'}:2" in str(report), str(report)
        assert "cannot interrupt" in str(report), str(report)
        assert roundtrip(ws, "a") == "v1 a #1 h1"
        _the_server_still_works(limited, handlers)
        # Saving the file again is a new load with its own limit; the server is not stuck behind the first.
        n = limited.report_count
        (handlers / "block.py").write_text("VALUE = 1\n")
        report = limited.wait_report(n, T + LIMIT)
        assert report.ok and report.kind == "load", str(report)
    limited.stop(timeout=T)
    assert limited._thread.thread is not None and not limited._thread.thread.is_alive()


def test_serve_with_a_blocked_import_still_exits_on_sigterm(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    install("v1", handlers)
    child = spawn_livews(tmp_path, ["serve", "--port", "0"])
    try:
        child.expect("Ctrl-C stops the server")
        (handlers / "block.py").write_text(BLOCK)
        child.expect("block.py:2: hung", timeout=T + 5)
        child.kill(signal.SIGTERM)
        child.expect("stopping the server")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "SystemExit(0)", "GeneratorExit"])
def test_a_base_exception_raised_at_import_is_a_failed_load_and_the_server_goes_on(
    live: LiveServer, handlers: Path, raised: str
) -> None:
    with connect(live.url + "/echo", open_timeout=T) as ws:
        n = live.report_count
        (handlers / "quits.py").write_text(f"X = 1\nraise {raised}\n")
        report = live.wait_report(n, T)
        assert not report.ok and f"{handlers / 'quits.py'}:2" in str(report), str(report)
        assert raised.split("(")[0] in str(report)
        assert roundtrip(ws, "a") == "v1 a #1 h1"
        assert ask(live, "/echo", "new").startswith("v1 new")


BAD_HANDLER = """\
from livews import Handler, resource


@resource("/bad")
class Bad(Handler):
    def on_text(self, message):
        raise KeyboardInterrupt


@resource("/bad-async")
class BadAsync(Handler):
    async def on_text(self, message):
        raise SystemExit(1)
"""


@pytest.mark.parametrize("path", ["/bad", "/bad-async"])
def test_a_base_exception_raised_by_a_handler_closes_its_client_with_1011_only(
    live: LiveServer, handlers: Path, path: str
) -> None:
    n = live.report_count
    (handlers / "bad.py").write_text(BAD_HANDLER)
    assert live.wait_report(n, T).ok
    with connect(live.url + "/echo", open_timeout=T) as ok, connect(live.url + path, open_timeout=T) as bad:
        bad.send("boom")
        with pytest.raises(ConnectionClosed) as info:
            bad.recv(timeout=T)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
        assert roundtrip(ok, "a") == "v1 a #1 h1"
        assert ask(live, "/echo", "new").startswith("v1 new")
