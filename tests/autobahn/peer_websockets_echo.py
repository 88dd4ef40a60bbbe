"""A reference echo server built on the `websockets` library, used to validate the Autobahn harness.

It is the peer we compare livews against: if the harness reports something about this server, the
harness (not livews) is what is being checked. It knows nothing about livews.

    python tests/autobahn/peer_websockets_echo.py --port 9001

permessage-deflate is offered (cases 12.* and 13.*), the message limit is above the 16 MiB that cases
9.1.6 / 9.2.6 send, and the fragment limit (websockets reads ``WEBSOCKETS_MAX_FRAGMENTS`` when it is
imported; default 4096) is above the 65,536 frames of cases 9.3.1 / 9.4.1. Keepalive pings are off so that
no unsolicited ping lands inside a case.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["MAX_FRAGMENTS", "MAX_MESSAGE_SIZE", "echo", "main"]

MAX_MESSAGE_SIZE = 32 * 2**20
"""Largest message accepted; Autobahn 9.1.6 and 9.2.6 send 16 MiB."""

MAX_FRAGMENTS = 2**20
"""Most frames in one message; Autobahn 9.3.1 and 9.4.1 send 4 MiB in 64-byte frames (65,536 frames)."""


async def echo(ws: ServerConnection) -> None:
    """Send every message back unchanged, with the type it arrived with."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def _serve(host: str, port: int) -> None:
    from websockets.asyncio.server import serve

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        echo,
        host,
        port,
        compression="deflate",
        max_size=MAX_MESSAGE_SIZE,
        max_queue=None,
        ping_interval=None,
        close_timeout=2,
    ) as server:
        bound = [s.getsockname()[1] for s in server.sockets]
        print(f"websockets echo server listening on {host}:{bound[0]}", flush=True)
        await stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0 picks a free port")
    args = parser.parse_args(argv)
    # Read by websockets at import time, so set before the first import of it.
    os.environ.setdefault("WEBSOCKETS_MAX_FRAGMENTS", str(MAX_FRAGMENTS))
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
