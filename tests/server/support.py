"""Start a livews Server on 127.0.0.1 port 0 inside the test's event loop, or ``python -m livews serve``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from livews import Resource, Server
from tests.server.units import UNIT, T

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def serving(*resources: Resource, **options: Any) -> AsyncIterator[Server]:
    options.setdefault("port", 0)
    server = Server(resources, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.close(timeout=T)


def url(server: Server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def eventually(predicate: Callable[[], bool], timeout: float = T) -> None:
    """Wait until ``predicate()`` holds, checking every tenth of ``UNIT``; fail after ``timeout`` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(UNIT / 10)


@asynccontextmanager
async def serve_process(*options: str) -> AsyncIterator[tuple[subprocess.Popen[str], str]]:
    """``python -m livews serve --no-reload`` on the repository's handlers with ``options``: the process and
    its base URL.

    Leaving the block stops a process still running with SIGINT, which must end it cleanly (exit code 0); a
    test may stop it itself first. On an error it is killed.
    """
    argv = [sys.executable, "-m", "livews", "serve", "--no-reload", "--port", "0"]
    argv += ["--handlers", str(ROOT / "handlers"), *options]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    loop = asyncio.get_running_loop()
    try:
        assert proc.stdout is not None
        url = ""
        while not url.endswith("/echo"):
            line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), 2 * T)
            assert line, "server exited"
            url = line.strip()
        yield proc, url.removesuffix("/echo")
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            assert await loop.run_in_executor(None, proc.wait, 2 * T) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
