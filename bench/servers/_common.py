"""What every bench server shares: its command line, its settings, the broadcast message and the go/cpu talk.

Each server script in this folder is one implementation serving the same two modes with the same settings, so
that a difference in the numbers is a difference between implementations. This module knows nothing about any
WebSocket library.

    python bench/servers/<impl>_server.py --port P --mode echo|broadcast [--compress] [--loop uvloop]
        [--deflate-backend NAME]

prints ``LOOP <module>.<class>`` (the event loop it really runs on) and ``READY <port>`` once it listens (or
``UNSUPPORTED <why>`` and exits 3 for a mode it cannot serve).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "BROADCAST_MESSAGE",
    "BROADCAST_MESSAGE_BYTES",
    "DEFLATE_BACKENDS",
    "DEFLATE_LEVEL",
    "DEFLATE_MEM_LEVEL",
    "DEFLATE_WINDOW_BITS",
    "HOST",
    "MAX_GO",
    "MAX_MESSAGE_SIZE",
    "Options",
    "announce_ready",
    "cpu_reply",
    "deflate_module",
    "parse_args",
    "parse_go",
    "run",
    "unsupported",
]

_T = TypeVar("_T")

HOST = "127.0.0.1"

MAX_MESSAGE_SIZE = 16 * 2**20
"""Largest message every server accepts (the livews default; the 1 MiB echo needs at least 2 MiB)."""

DEFLATE_WINDOW_BITS = 15
"""permessage-deflate window for both directions when --compress: the RFC 7692 default that browsers get."""
DEFLATE_LEVEL = 1
"""zlib level for what the server compresses: aiohttp hard-codes 1, so every server that can be set uses 1."""
DEFLATE_MEM_LEVEL = 8
"""zlib memLevel (its default); websockets' own default of 5 is overridden so all servers hold equal state."""

DEFLATE_BACKENDS = ("zlib", "zlib-ng", "isal")
"""``--deflate-backend`` names: the DEFLATE implementation a server that can choose one compresses with.
Each server then compresses at that module's ``Z_BEST_SPEED`` (1, 1 and 0: what aiohttp uses)."""

BROADCAST_MESSAGE = "0123456789abcdef" * 64
"""The 1 KiB text message a broadcast sends (ASCII, so 1,024 bytes on the wire too)."""
BROADCAST_MESSAGE_BYTES = BROADCAST_MESSAGE.encode()

MAX_GO = 1000
"""Most broadcasts one ``go:<n>`` may ask for, so a typo cannot keep a server busy for minutes."""


@dataclass(frozen=True)
class Options:
    """A server's command line."""

    port: int
    mode: str
    compress: bool
    extra: tuple[str, ...] = ()
    loop: str = "asyncio"
    deflate_backend: str = "zlib"


def parse_args(
    description: str, argv: list[str] | None = None, *, extra_flags: tuple[str, ...] = ()
) -> Options:
    """Parse ``--port P --mode echo|broadcast [--compress]`` plus any implementation-specific on/off flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("echo", "broadcast"), default="echo")
    parser.add_argument("--compress", action="store_true", help="negotiate permessage-deflate when offered")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="event loop")
    parser.add_argument("--deflate-backend", choices=DEFLATE_BACKENDS, default="zlib")
    for flag in extra_flags:
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args(argv)
    extra = tuple(flag for flag in extra_flags if getattr(args, flag.lstrip("-").replace("-", "_")))
    return Options(
        port=args.port,
        mode=args.mode,
        compress=args.compress,
        extra=extra,
        loop=args.loop,
        deflate_backend=args.deflate_backend,
    )


def run(main: Coroutine[Any, Any, _T], loop: str) -> _T:
    """Run ``main`` on a ``loop`` event loop (``asyncio`` or ``uvloop``) and return what it returns.

    The loop is made by a factory, the way ``python -m livews --loop uvloop`` makes it (no event loop policy,
    deprecated from Python 3.14), for every implementation alike, and for the generator (``run.py``,
    ``gen_cost.py``). A copy of ``livews.server.loops`` rather than a use of it: a peer's server process
    never imports livews.
    """
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def deflate_module(name: str) -> Any:
    """The zlib-compatible module of a ``DEFLATE_BACKENDS`` name (zlib-ng, isal: ``livews[deflate]``)."""
    import importlib

    return importlib.import_module(
        {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib"}[name]
    )


def announce_ready(port: int) -> None:
    """Tell the runner the server listens, and on which event loop; it waits for exactly these lines."""
    running = type(asyncio.get_running_loop())
    print(f"LOOP {running.__module__}.{running.__qualname__}", flush=True)
    print(f"READY {port}", flush=True)


def unsupported(why: str) -> None:
    """Tell the runner this implementation cannot serve what was asked, and exit."""
    print(f"UNSUPPORTED {why}", flush=True)
    sys.exit(3)


def parse_go(text: str) -> int | None:
    """``go:<n>`` asks for n broadcasts; anything else is not a request (None)."""
    if not text.startswith("go:"):
        return None
    try:
        count = int(text[3:])
    except ValueError:
        return None
    return count if 1 <= count <= MAX_GO else None


def cpu_reply(started: float) -> str:
    """The answer to ``go:<n>``: process CPU seconds since ``started`` (a ``time.process_time()``)."""
    return f"cpu:{time.process_time() - started:.9f}"
