"""Start a livews Server on 127.0.0.1 port 0 inside the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from livews import Resource, Server
from tests.server.units import UNIT, T


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
