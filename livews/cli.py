"""The command line: ``python -m livews [serve|attach] [--host H] [--port P] [--handlers DIR] ...``.

No command opens the live prompt over a background server (``livews.live``); ``serve`` (or ``--no-repl``)
serves in the foreground with hot reload and accepts prompts from ``attach`` (another terminal, same user);
``serve --no-reload`` runs the plain server with nothing live.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__
from .handler import collect
from .resource import Resources
from .server import Server
from .server.loops import LOOP_NAMES, loop_factory
from .server.loops import run as run_on
from .server.transports import TRANSPORT_NAMES, check_transports
from .supervisor import CONSOLE_TOKEN_ENV

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livews", description="A WebSocket server you program live.")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "attach"],
        help="serve: in the foreground; attach: a prompt on a server this user runs (--port picks one)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8765; 0 picks a free one)")
    parser.add_argument(
        "--handlers", default="handlers", help="a folder of handler files, or one file (default handlers/)"
    )
    parser.add_argument(
        "--loop",
        choices=LOOP_NAMES,
        default="asyncio",
        help="event loop (default asyncio; auto: uvloop when it is installed)",
    )
    parser.add_argument(
        "--transports",
        choices=TRANSPORT_NAMES,
        help="what carries connections (default loop: the event loop's own; aiofastnet: faster on "
        "asyncio's loop, 4.7 KiB more per connection; auto: aiofastnet's on asyncio's loop when installed)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more from livews (-v info, -vv debug)"
    )
    _add_production_options(parser)
    parser.add_argument("--backlog", type=int, help="listen() backlog (default 100)")
    parser.add_argument(
        "--max-connections", type=int, metavar="N", help="open connections on the whole server; 503 past it"
    )
    parser.add_argument(
        "--debug-on-error",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hold a client whose handler raised, for pm()/retry()/skip() (default: on with the prompt)",
    )
    parser.add_argument(
        "--debug-hold-timeout",
        type=float,
        help="seconds a held client waits before it is closed with 1011 (default 600)",
    )
    # live layer: the prompt and the reloader.
    parser.add_argument("--no-repl", action="store_true", help="no prompt: serve in the foreground, as serve")
    parser.add_argument("--no-reload", action="store_true", help="do not watch the handler files")
    parser.add_argument("--no-attach", action="store_true", help="serve: accept no prompt from attach")
    parser.add_argument("--no-console", action="store_true", help="do not serve the browser console")
    parser.add_argument(
        "--console-path", default="/_livews/", metavar="PATH", help="where the console is (default /_livews/)"
    )
    # scale-out: worker processes (livews.supervisor) and groups across nodes (livews.server.bus).
    parser.add_argument("--workers", type=int, default=0, help="serve from N worker processes on one port")
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="--workers: restart a worker whose event loop has not answered a probe for this long (30)",
    )
    parser.add_argument("--bus", default=None, help="groups across nodes: redis://host:port/db")
    parser.add_argument("--node", default=None, help="this node's name on the bus (default host-pid)")
    parser.add_argument("--reuse-port", action="store_true", help="set SO_REUSEPORT (workers share a port)")
    parser.add_argument(
        "--load-timeout", type=float, default=5.0, help="seconds a handler file's import may take (default 5)"
    )
    _apply_environment(parser, os.environ)
    return parser


def _add_production_options(parser: argparse.ArgumentParser) -> None:
    """Options for running in production (TLS, timeouts, proxies, metrics, logs), named as uvicorn does."""
    parser.add_argument("--version", action="version", version=f"livews {__version__}")
    parser.add_argument("--certfile", help="TLS certificate chain (PEM): serve wss://")
    parser.add_argument("--keyfile", help="TLS private key (PEM), if not in --certfile")
    parser.add_argument("--keyfile-password", help="password of an encrypted --keyfile")
    parser.add_argument(
        "--max-message-size",
        type=int,
        metavar="BYTES",
        help="largest message for every resource that sets none of its own (default 16 MiB); 1009 past it",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="no permessage-deflate, except for resources given a DeflateConfig of their own",
    )
    parser.add_argument(
        "--deflate-backend",
        choices=("auto", "zlib", "zlib-ng", "isal"),
        help="DEFLATE implementation for permessage-deflate (default auto: zlib-ng if installed, else zlib)",
    )
    parser.add_argument("--ping-interval", type=float, metavar="SECONDS", help="keepalive pings (0: off)")
    parser.add_argument("--ping-timeout", type=float, metavar="SECONDS", help="time to answer a ping")
    parser.add_argument("--close-timeout", type=float, metavar="SECONDS", help="time to finish a close")
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        metavar="SECONDS",
        help="on stop, accept no one new and give clients this long to leave before closing them with 1001",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxy addresses/networks (or *) whose X-Forwarded-For/Forwarded are believed",
    )
    parser.add_argument("--metrics", action="store_true", help="serve Prometheus metrics at /metrics")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="level of livews' loggers"
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="text, or json: one object a line"
    )


def _apply_environment(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """``LIVEWS_<OPTION>`` (``LIVEWS_PORT``, ``LIVEWS_NO_RELOAD=1``) sets an option's default.

    The command line still wins. Strings are converted by the option's own type; flags take 1/true/yes/on,
    and ``-v`` a count.
    """
    defaults: dict[str, Any] = {}
    for action in parser._actions:  # argparse offers no public list of its options
        value = environ.get(f"LIVEWS_{action.dest.upper()}")
        if value is None or not action.option_strings or action.dest in ("help", "version"):
            continue
        if action.nargs == 0:  # a flag (store_true) or a counter (-v): LIVEWS_VERBOSE=2 counts too
            truthy = value.strip().lower() in ("1", "true", "yes", "on")
            counted = int(value) if value.strip().isdigit() else int(truthy)
            defaults[action.dest] = truthy if action.const is True else counted
        else:
            defaults[action.dest] = value
    parser.set_defaults(**defaults)


def load_resources(directory: Path) -> Resources:
    """Every resource of the handler files in ``directory`` (or of the one file it names).

    A broken file stops the start.
    """
    from .live.loader import is_handler_file, load_file

    table = Resources()
    files = [directory] if directory.is_file() else sorted(directory.glob("*.py"))
    for path in files:
        if path != directory and not (path.is_file() and is_handler_file(path)):
            continue
        for item in load_file(path, collect).resources:
            table.add(item)
    return table


async def _serve(args: argparse.Namespace) -> int:
    directory = Path(args.handlers)
    if not directory.exists():
        from .live.run import missing_handlers

        print(f"livews: {missing_handlers(directory)}", file=sys.stderr)
        return 2
    server = Server(load_resources(directory), host=args.host, port=args.port, **_server_options(args, False))
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
    if args.command == "attach":
        from .live.attach_client import attach

        return attach(args.port)
    if args.port is None:
        args.port = 8765
    _configure_logging(args.verbose, args.log_format, args.log_level)
    factory = loop_factory(args.loop)
    if factory is None:
        print("livews: --loop uvloop needs uvloop (pip install 'livews[uvloop]')", file=sys.stderr)
        return 2
    # live layer: no command -> prompt; serve = --no-repl; serve --no-reload -> the plain server.
    foreground = args.command == "serve" or args.no_repl
    try:
        options = _server_options(args, not foreground)  # refuse unusable values (a TLS file) first
    except _OptionError as exc:
        print(f"livews: {exc}", file=sys.stderr)
        return 2
    if args.workers:
        from .supervisor import supervise

        argv = sys.argv[1:] if argv is None else argv
        return supervise(argv, args.workers, args.host, args.port, args.node, args.bus, args.worker_timeout)
    if foreground and args.no_reload:
        return run_on(_serve(args), factory)
    from .live.run import run

    return run(
        args.handlers,
        host=args.host,
        port=args.port,
        repl=not foreground,
        reload=not args.no_reload,
        attach=not args.no_attach,
        load_timeout=args.load_timeout,
        console=False if args.no_console else args.console_path,
        console_token=os.environ.get(CONSOLE_TOKEN_ENV),  # a worker's: the same in every worker
        loop_factory=factory,
        **options,
    )


def _server_options(args: argparse.Namespace, prompt: bool = False) -> dict[str, Any]:
    """Server keyword arguments from the command line (only those given, so defaults stay the server's).

    Debug on error defaults to on only where a prompt attends.
    """
    options: dict[str, Any] = {}
    given = {
        "backlog": args.backlog,
        "max_connections": args.max_connections,
        "debug_on_error": args.debug_on_error if args.debug_on_error is not None else (prompt or None),
        "debug_hold_timeout": args.debug_hold_timeout,
        "bus": args.bus,
        "node": args.node,
        "reuse_port": args.reuse_port or None,
    }
    options.update((name, value) for name, value in given.items() if value is not None)
    if args.certfile:
        options["ssl"] = _tls_context(args.certfile, args.keyfile, args.keyfile_password)
    if args.ping_interval is not None:
        options["ping_interval"] = args.ping_interval or None
    if args.ping_timeout is not None:
        options["ping_timeout"] = args.ping_timeout
    if args.close_timeout is not None:
        options["close_timeout"] = args.close_timeout
    if args.max_message_size is not None:
        if args.max_message_size < 1:
            size = args.max_message_size
            raise _OptionError(f"--max-message-size must be a positive number of bytes, not {size}")
        options["max_message_size"] = args.max_message_size
    if args.no_compression:
        options["compression"] = False
    if args.deflate_backend is not None:
        options["deflate_backend"] = args.deflate_backend
    if args.transports is not None:
        try:
            check_transports(args.transports)
        except ImportError:
            needs = "--transports aiofastnet needs aiofastnet (pip install 'livews[fast]')"
            raise _OptionError(needs) from None
        options["transports"] = args.transports
    if args.metrics:
        options["metrics"] = True
    if args.forwarded_allow_ips:
        options["trusted_proxies"] = args.forwarded_allow_ips
    if args.graceful_timeout:
        options["shutdown_grace"] = args.graceful_timeout
    return options


class _OptionError(Exception):
    """A command-line value that cannot be used; the message names it (and any file) for the user."""


def _tls_context(certfile: str, keyfile: str | None, password: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except (OSError, ssl.SSLError) as exc:
        shown = [str(Path(name).resolve()) for name in (certfile, keyfile) if name is not None]
        files = " and ".join(shown)
        raise _OptionError(f"cannot load the TLS certificate from {files}: {exc}") from None
    return context


def _configure_logging(verbose: int, log_format: str, log_level: str | None = None) -> None:
    """Warnings from everyone; ``-v``/``-vv`` raise livews' loggers only (not asyncio's or watchfiles')."""
    handler = logging.StreamHandler()
    if log_format == "json":
        from .server.records import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.getLogger("livews").setLevel(log_level.upper() if log_level else level)
