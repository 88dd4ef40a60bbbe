"""Bench server on `aiohttp` (web.WebSocketResponse): echo, or broadcast by looping ``send_str``.

    python bench/servers/aiohttp_server.py --port P --mode echo|broadcast [--compress]
        [--deflate-backend zlib|zlib-ng|isal]

Settings shared with the other bench servers (see ``_common``): no permessage-deflate unless --compress
(then window 15; aiohttp always compresses at its backend's ``Z_BEST_SPEED``: 1, or 0 with isal;
--deflate-backend sets that backend with ``aiohttp.set_zlib_backend``), 16 MiB messages, no heartbeat, no
access log, default asyncio loop. aiohttp has no broadcast helper; awaiting ``send_str`` per client is its
documented way and does not suspend while the socket buffers keep up.
"""

from __future__ import annotations

import asyncio
import time

from _common import (
    BROADCAST_MESSAGE,
    DEFLATE_WINDOW_BITS,
    HOST,
    MAX_MESSAGE_SIZE,
    Options,
    announce_ready,
    cpu_reply,
    deflate_module,
    parse_args,
    parse_go,
    run,
)
from aiohttp import WSMsgType, web

__all__ = ["main"]

_clients: set[web.WebSocketResponse] = set()


def _response(options: Options) -> web.WebSocketResponse:
    return web.WebSocketResponse(
        compress=DEFLATE_WINDOW_BITS if options.compress else False,
        max_msg_size=MAX_MESSAGE_SIZE,
        heartbeat=None,
    )


def _handlers(options: Options) -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = _response(options)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def broadcaster(request: web.Request) -> web.WebSocketResponse:
        ws = _response(options)
        await ws.prepare(request)
        _clients.add(ws)
        try:
            async for msg in ws:
                count = parse_go(msg.data) if msg.type is WSMsgType.TEXT else None
                if count is None:
                    continue
                started = time.process_time()
                clients = tuple(_clients)
                for _ in range(count):
                    for client in clients:
                        try:
                            await client.send_str(BROADCAST_MESSAGE)
                        except ConnectionError:
                            _clients.discard(client)
                await ws.send_str(cpu_reply(started))
        finally:
            _clients.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/{path:.*}", echo if options.mode == "echo" else broadcaster)
    return app


async def _serve(options: Options) -> None:
    runner = web.AppRunner(_handlers(options), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, options.port)
    await site.start()
    announce_ready(options.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    options = parse_args(__doc__.splitlines()[0])
    if options.deflate_backend != "zlib":
        import aiohttp

        aiohttp.set_zlib_backend(deflate_module(options.deflate_backend))
    run(_serve(options), options.loop)


if __name__ == "__main__":
    main()
