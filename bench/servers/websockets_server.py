"""Bench server on `websockets` (asyncio API): echo, or broadcast with ``websockets.broadcast``.

    python bench/servers/websockets_server.py --port P --mode echo|broadcast [--compress]

Settings shared with the other bench servers (see ``_common``): no permessage-deflate unless --compress (then
window 15, level 1, memLevel 8), 16 MiB messages, no keepalive pings, default asyncio loop.
"""

from __future__ import annotations

import time

from _common import (
    BROADCAST_MESSAGE,
    DEFLATE_LEVEL,
    DEFLATE_MEM_LEVEL,
    HOST,
    MAX_MESSAGE_SIZE,
    Options,
    announce_ready,
    cpu_reply,
    parse_args,
    parse_go,
    run,
    unsupported,
)
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

__all__ = ["main"]

_clients: set[ServerConnection] = set()


async def _echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def _broadcaster(ws: ServerConnection) -> None:
    _clients.add(ws)
    try:
        async for message in ws:
            count = parse_go(message) if isinstance(message, str) else None
            if count is None:
                continue
            started = time.process_time()
            for _ in range(count):
                broadcast(_clients, BROADCAST_MESSAGE)
            await ws.send(cpu_reply(started))
    except ConnectionClosed:
        pass
    finally:
        _clients.discard(ws)


async def _serve(options: Options) -> None:
    extensions = None
    if options.deflate_backend != "zlib":
        unsupported("websockets compresses with the standard library's zlib only")
    if options.compress:
        extensions = [
            ServerPerMessageDeflateFactory(
                compress_settings={"level": DEFLATE_LEVEL, "memLevel": DEFLATE_MEM_LEVEL},
            )
        ]
    async with serve(
        _echo if options.mode == "echo" else _broadcaster,
        HOST,
        options.port,
        compression="deflate" if options.compress else None,
        extensions=extensions,
        max_size=MAX_MESSAGE_SIZE,
        ping_interval=None,
    ) as server:
        announce_ready(server.sockets[0].getsockname()[1])
        await server.serve_forever()


def main() -> None:
    options = parse_args(__doc__.splitlines()[0])
    run(_serve(options), options.loop)


if __name__ == "__main__":
    main()
