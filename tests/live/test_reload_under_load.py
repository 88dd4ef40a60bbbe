"""Hot reload under load: clients exchange messages nonstop while the handler file is rewritten many times.

Every reply carries the handler version that produced it, the message it answers and the instance's own
counter. So a drop (connection closed), a loss (a message never answered), a duplicate (answered twice), lost
instance state (counter reset) or a step back to old code (version going down) all show up exactly.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from livews.live import LiveServer
from livews.live.loader import module_name_for

from .conftest import T

CLIENTS = 6
VERSIONS = 30  # rewrites, one after the other
BURST = 10  # rewrites back to back at the end, without waiting
WINDOW = 16  # messages in flight per client
PROGRESS = 20  # replies each client must get between two rewrites

SOURCE = """\
from livews.handler import Handler, resource
from livews.live import keep

answered = keep("answered", [0])
VERSION = @VERSION@


@resource("/load")
class Load(Handler):
    def on_open(self):
        self.n = 0

    def on_text(self, message):
        self.n += 1
        answered[0] += 1
        self.send_text(f"{VERSION} {message} n={self.n}")
"""


def _write(path: Path, version: int) -> None:
    text = SOURCE.replace("@VERSION@", str(version))
    if version % 2:
        tmp = path.with_name(f".{path.name}.{version}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # how most editors save
    else:
        path.write_text(text)  # truncate and write in place


class Peer:
    """One client: keeps WINDOW messages in flight and checks every reply as it comes."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.sent = 0
        self.received = 0
        self.version = 0
        self.stopping = False
        self.window = asyncio.Semaphore(WINDOW)
        self.progress = asyncio.Event()

    async def send_loop(self) -> None:
        while not self.stopping:
            await self.window.acquire()
            if self.stopping:
                break
            await self.ws.send(f"{self.name}:{self.sent}")
            self.sent += 1

    async def receive_loop(self) -> None:
        while not (self.stopping and self.received == self.sent):
            reply = await asyncio.wait_for(self.ws.recv(), T)
            version, message, counter = reply.split(" ")
            assert message == f"{self.name}:{self.received}", f"lost or duplicated: {reply!r}"
            assert counter == f"n={self.received + 1}", f"instance state lost: {reply!r}"
            assert int(version) >= self.version, f"answered by older code: {reply!r}"
            self.version = int(version)
            self.received += 1
            self.window.release()
            self.progress.set()

    async def wait_progress(self, count: int) -> None:
        target = self.received + count
        while self.received < target:
            self.progress.clear()
            await asyncio.wait_for(self.progress.wait(), T)


async def _scenario(server: LiveServer, handler: Path) -> None:
    async with asyncio.timeout(20 * T):
        sockets = [await connect(server.url + "/load") for _ in range(CLIENTS)]
        peers = [Peer(ws, f"c{i}") for i, ws in enumerate(sockets)]
        tasks = [asyncio.create_task(loop()) for p in peers for loop in (p.send_loop, p.receive_loop)]
        try:
            for version in range(1, VERSIONS + 1):
                await asyncio.gather(*(p.wait_progress(PROGRESS) for p in peers))
                before = server.report_count
                _write(handler, version)
                report = await asyncio.to_thread(server.wait_report, before, T)
                assert report.ok and report.kind == "reload", str(report)
                assert report.moved == CLIENTS and not report.stuck, str(report)
                assert report.carried == ["answered"], str(report)
            for version in range(VERSIONS + 1, VERSIONS + BURST + 1):
                _write(handler, version)
            final = VERSIONS + BURST
            while min(p.version for p in peers) < final:
                await asyncio.gather(*(p.wait_progress(1) for p in peers))
        finally:
            for p in peers:
                p.stopping = True
                p.window.release()  # wake a sender waiting for room
            results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        for p in peers:
            assert p.received == p.sent > VERSIONS * PROGRESS
        assert all(ws.close_code is None for ws in sockets), "a connection was dropped"
        assert len(server.clients("/load")) == CLIENTS
        total = sum(p.sent for p in peers)
        for ws in sockets:
            await ws.close()
    answered = _answered(server)
    assert answered == total, f"{answered} answers for {total} messages"


def _answered(server: LiveServer) -> int:
    """The module-level counter the handler file kept across every reload."""
    assert server.handlers_dir is not None
    module = sys.modules[module_name_for(server.handlers_dir / "load.py")]
    return int(module.answered[0])


def test_many_reloads_under_load_drop_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    handler = handlers / "load.py"
    _write(handler, 0)
    with LiveServer(handlers, port=0, call_timeout=T, watch_livews=False) as server:
        asyncio.run(_scenario(server, handler))
        reloads = [r for r in server.reports if r.kind == "reload"]
        assert VERSIONS < len(reloads) <= VERSIONS + BURST
        assert all(r.ok for r in server.reports)
