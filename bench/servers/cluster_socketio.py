"""Cluster bench node on python-socketio (aiohttp host): the same room broadcast as ``cluster_livews.py``.

    python bench/servers/cluster_socketio.py --port P [--bus redis://127.0.0.1:6379/0]

Each client joins room ``room`` on connect; the event ``go`` emits the 1 KiB message to the room. With
``--bus`` the server uses python-socketio's ``AsyncRedisManager``, the cross-process setup its documentation
gives. Pings are spaced out so none falls inside a run. Prints ``READY <port>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio

from _common import BROADCAST_MESSAGE, HOST, announce_ready


async def _serve(port: int, bus: str | None) -> None:
    import socketio
    from aiohttp import web

    manager = socketio.AsyncRedisManager(bus) if bus else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp", client_manager=manager, ping_interval=600, ping_timeout=600, logger=False
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, object]) -> None:
        await sio.enter_room(sid, "room")

    @sio.event
    async def go(sid: str) -> None:
        await sio.emit("m", BROADCAST_MESSAGE, room="room")

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    announce_ready(port)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bus", default=None)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.bus))


if __name__ == "__main__":
    main()
