"""Cluster bench node on livews: clients of ``/room`` join group ``room``; ``go`` publishes 1 KiB to it.

    python bench/servers/cluster_livews.py --port P [--bus redis://127.0.0.1:6379/0] [--node NAME]

Without ``--bus`` the group is this process's (the single-process broadcast); with it, every node on the same
Redis delivers the publish to its own members. Prints ``READY <port>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from _common import BROADCAST_MESSAGE, HOST, announce_ready

_REPO = Path(__file__).resolve().parent.parent.parent


async def _serve(port: int, bus: str | None, node: str | None) -> None:
    from livews import Handler, Resource, Server

    class Room(Handler):
        def on_open(self) -> None:
            self.join("room")

        def on_text(self, message: str) -> None:
            if message == "go":
                self.publish("room", BROADCAST_MESSAGE)

    server = Server([Resource("/room", Room)], host=HOST, port=port, ping_interval=None, bus=bus, node=node)
    await server.start()
    announce_ready(port)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bus", default=None)
    parser.add_argument("--node", default=None)
    args = parser.parse_args()
    if str(_REPO) not in sys.path:
        sys.path.insert(1, str(_REPO))
    asyncio.run(_serve(args.port, args.bus, args.node))


if __name__ == "__main__":
    main()
