"""The supervisor probes each worker's event loop, reports one that stops answering and restarts it.

A real ``serve --workers 2``: a handler blocks its worker's loop with ``time.sleep``; the supervisor says
so, kills that worker past ``--worker-timeout`` and starts a new one, while the other worker serves on.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from .conftest import T
from .test_workers import livews, two_workers

BLOCK = """
import os
import time
from livews import Handler, resource

@resource("/room")
class Room(Handler):
    def on_open(self):
        self.send_text(f"hello {os.getpid()}")

    def on_text(self, message):
        if message == "block":
            time.sleep(120)  # holds the whole event loop of this worker
        self.send_text(message)
"""


async def one_per_worker(url: str, limit: int = 60) -> dict[int, ClientConnection]:
    found: dict[int, ClientConnection] = {}
    for _ in range(limit):
        ws = await connect(url)
        pid = int(str(await asyncio.wait_for(ws.recv(), T)).split()[1])
        if pid in found:
            await ws.close()
        else:
            found[pid] = ws
        if len(found) == 2:
            return found
    raise AssertionError(f"{limit} connections all landed on {sorted(found)}")


async def test_a_worker_whose_loop_is_blocked_is_reported_and_restarted_while_the_other_serves(
    tmp_path: Path,
) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "room.py").write_text(BLOCK)
    argv = two_workers(handlers, "--no-attach", "--no-console", "--worker-timeout", "5")
    async with livews(argv, tmp_path, ready_urls=2) as (process, url):
        process.proc.send_signal(signal.SIGUSR1)
        await process.wait_for(lambda lines: sum("loop answered" in x for x in lines) >= 2)

        clients = await one_per_worker(url)
        blocked, other = sorted(clients)
        await clients[blocked].send("block")

        await process.wait_for(
            lambda lines: any(f"pid {blocked}: event loop unresponsive (" in x for x in lines)
        )
        lines = await process.wait_for(
            lambda lines: any(f"pid {blocked}: event loop unresponsive for" in x for x in lines)
        )
        assert any(f"pid {blocked}: event loop unresponsive for" in x and "killing it" in x for x in lines)
        await process.wait_for(lambda lines: any(f"pid {blocked} died (exit -9)" in x for x in lines))
        lines = await process.wait_for(lambda lines: len(re.findall(r"ws://\S+/room", "\n".join(lines))) >= 3)

        await clients[other].send("still here")
        assert await asyncio.wait_for(clients[other].recv(), T) == "still here"
        process.proc.send_signal(signal.SIGUSR1)
        await process.wait_for(
            lambda lines: any(
                re.match(r"worker \d pid \d+ up \d+s, restarts 1, last exit -9, loop", x) for x in lines
            )
        )
        for ws in clients.values():
            await ws.close()
