"""The command line: ``python -m livews [serve] [--host H] [--port P] [--handlers DIR] [--no-repl] ...``.

No command opens the live prompt over a background server (``livews.live``); ``serve`` (or ``--no-repl``)
serves in the foreground with hot reload; ``serve --no-reload`` runs the plain server with nothing live.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from .handler import collect
from .resource import Resources
from .server import Server

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m livews", description="A WebSocket server you program live."
    )
    parser.add_argument("command", nargs="?", choices=["serve"], help="serve in the foreground")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--handlers", default="handlers", help="handler files directory (default handlers/)")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more from livews (-v info, -vv debug)"
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="text, or json: one object a line"
    )
    parser.add_argument("--metrics", action="store_true", help="serve Prometheus metrics at /metrics")
    parser.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxy addresses/networks (or *) whose X-Forwarded-For/Forwarded are believed",
    )
    # live layer (issue 4): the prompt and the reloader.
    parser.add_argument("--no-repl", action="store_true", help="no prompt: serve in the foreground, as serve")
    parser.add_argument("--no-reload", action="store_true", help="do not watch the handler files")
    parser.add_argument("--no-console", action="store_true", help="do not serve the browser console")
    parser.add_argument(
        "--console-path", default="/_livews/", metavar="PATH", help="where the console is (default /_livews/)"
    )
    return parser


def load_resources(directory: Path) -> Resources:
    """Every resource declared by the handler files in ``directory``; a broken file stops the start."""
    from .live.loader import load_file

    table = Resources()
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith(("_", ".")):
            continue
        for item in load_file(path, collect).resources:
            table.add(item)
    return table


async def _serve(args: argparse.Namespace) -> int:
    directory = Path(args.handlers)
    if not directory.is_dir():
        print(f"livews: no handler directory {directory}", file=sys.stderr)
        return 2
    server = Server(load_resources(directory), host=args.host, port=args.port, **_server_options(args))
    await server.start()
    for url in server.urls:
        print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose, args.log_format)
    # live layer (issue 4): no command -> prompt; serve = --no-repl; serve --no-reload -> the plain server.
    foreground = args.command == "serve" or args.no_repl
    if foreground and args.no_reload:
        return asyncio.run(_serve(args))
    from .live.run import run

    options = _server_options(args)
    return run(
        args.handlers,
        host=args.host,
        port=args.port,
        repl=not foreground,
        reload=not args.no_reload,
        console=False if args.no_console else args.console_path,
        **options,
    )


def _server_options(args: argparse.Namespace) -> dict[str, Any]:
    """Server keyword arguments from the command line (only those given, so defaults stay the server's)."""
    options: dict[str, Any] = {}
    if args.metrics:
        options["metrics"] = True
    if args.forwarded_allow_ips:
        options["trusted_proxies"] = args.forwarded_allow_ips
    return options


def _configure_logging(verbose: int, log_format: str) -> None:
    """Warnings from everyone; ``-v``/``-vv`` raise livews' loggers only (not asyncio's or watchfiles')."""
    handler = logging.StreamHandler()
    if log_format == "json":
        from .server.records import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("livews").setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)])
