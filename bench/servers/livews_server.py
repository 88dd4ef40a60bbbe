"""Bench server on livews: a ``livews.Server`` built in this process, plus a READY line.

    python bench/servers/livews_server.py --port P --mode echo|broadcast [--compress] [--no-tune-allocator]
        [--deflate-backend zlib|zlib-ng|isal] [--aiofastnet]

Echo mode serves the repository's ``handlers/echo.py`` (``/echo``); broadcast mode serves
``livews_handlers/broadcast.py`` (``/broadcast``, ``livews.broadcast(clients, message)``). Settings are the
bench's common ones (``_common``): permessage-deflate only with --compress, then window 15 both ways, zlib
level 1 and memLevel 8 as for the peers (with --deflate-backend, that backend at its ``Z_BEST_SPEED``, as
aiohttp); messages up to 16 MiB; no keepalive pings; no hot reload. Everything else is livews' default,
``tune_allocator`` included (glibc malloc thresholds, see the README); --no-tune-allocator turns that off;
and the transports: the loop's own (``transports="loop"``), printed as ``TRANSPORTS <name>`` before ``READY``;
--aiofastnet takes aiofastnet's (``transports="aiofastnet"``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import HOST, Options, announce_ready, deflate_module, parse_args, run

__all__ = ["main"]

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent.parent


async def _serve(options: Options) -> None:
    import dataclasses

    from livews import Server, collect
    from livews.engine.deflate import DeflateConfig
    from livews.live.loader import load_file

    echo = options.mode == "echo"
    source = _REPO / "handlers" / "echo.py" if echo else _HERE / "livews_handlers" / "broadcast.py"
    compression: DeflateConfig | bool = False
    if options.compress:
        compression = DeflateConfig(
            backend=options.deflate_backend,
            level=deflate_module(options.deflate_backend).Z_BEST_SPEED,
            mem_level=8,
            server_max_window_bits=15,
            client_max_window_bits=15,
        )
    resources = [
        dataclasses.replace(r, compression=compression, max_message_size=16 * 1024 * 1024)
        for r in load_file(source, collect).resources
    ]
    server = Server(
        resources,
        host=HOST,
        port=options.port,
        ping_interval=None,
        tune_allocator="--no-tune-allocator" not in options.extra,
        transports="aiofastnet" if "--aiofastnet" in options.extra else "loop",
    )
    await server.start()
    print(f"TRANSPORTS {server.transports}", flush=True)
    announce_ready(options.port)
    await server.serve_forever()


def main() -> None:
    options = parse_args(__doc__.splitlines()[0], extra_flags=("--no-tune-allocator", "--aiofastnet"))
    if str(_REPO) not in sys.path:
        sys.path.insert(1, str(_REPO))
    run(_serve(options), options.loop)


if __name__ == "__main__":
    main()
