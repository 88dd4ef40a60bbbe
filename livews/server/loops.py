"""Which event loop a process serves on, asyncio's own or uvloop's, chosen by name and made by a factory.

Python picks a loop by factory (``asyncio.Runner(loop_factory=)``, ``asyncio.run(..., loop_factory=)``);
event loop policies, the older way, are deprecated from Python 3.14. A factory also reaches the live
server's loop, which is made on a thread of its own (``live.loopthread``). The command line's ``--loop``
makes its choice through ``loop_factory``; the bench makes the same one with a copy of its own
(``bench/servers/_common.run``), because a peer's server process must not import livews.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOP_NAMES", "LoopFactory", "loop_factory", "run"]

#: The names ``loop_factory`` knows: asyncio's loop, uvloop's, or uvloop's when it is installed.
LOOP_NAMES = ("asyncio", "uvloop", "auto")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

_T = TypeVar("_T")


def loop_factory(name: str) -> LoopFactory | None:
    """What makes a ``name`` loop; ``None`` for uvloop when it is not installed (``auto``: asyncio's then)."""
    if name not in LOOP_NAMES:
        raise ValueError(f"no event loop named {name!r}: one of {', '.join(LOOP_NAMES)}")
    if name == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop if name == "auto" else None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, _T], factory: LoopFactory = asyncio.new_event_loop) -> _T:
    """``asyncio.run(main)`` on a loop ``factory`` makes."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    loop = factory()  # Python 3.10 has no Runner: what it does, by hand
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
