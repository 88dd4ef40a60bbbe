"""Naming the handler calls that hold the event loop: every client waits while a plain method runs.

A plain (``def``) handler method runs inline on the loop, which is what makes the fast path fast, and also
why ``time.sleep(3)`` or a blocking HTTP call in one stalls every client of the server for that long. The
dispatcher times each plain call with one ``perf_counter`` pair; a call longer than the server's
``slow_callback`` (seconds, default 0.1) is handed here, logged on ``livews.server`` as one warning line
(class, method, duration, client id and path) and kept in a short list the prompt shows. The cure is in the
warning: ``async def`` and ``await``, or ``await asyncio.to_thread(blocking_call)``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["DEFAULT_SLOW_CALLBACK", "SlowCall", "SlowCalls"]

_log = logging.getLogger("livews.server")

#: Seconds a plain handler method may hold the loop before it is reported (``Server(slow_callback=)``).
DEFAULT_SLOW_CALLBACK = 0.1
#: How many slow calls are kept for the prompt (the oldest go first; ``total`` counts them all).
_KEPT = 100


@dataclass(frozen=True)
class SlowCall:
    """One plain handler call that held the loop longer than the threshold."""

    handler: str
    method: str
    seconds: float
    client: int
    path: str
    at: float  # time.time() when it was reported

    def __str__(self) -> str:
        return (
            f"{self.handler}.{self.method} held the loop {self.seconds * 1000:.0f} ms "
            f"(client {self.client} {self.path}); every client waited: make it async def and await, "
            "or run the blocking part with await asyncio.to_thread(...)"
        )


class SlowCalls:
    """The server's record of slow handler calls: the threshold, the recent calls, the count."""

    def __init__(self, threshold: float | None = DEFAULT_SLOW_CALLBACK) -> None:
        if threshold is not None and threshold <= 0:
            raise ValueError(f"slow_callback must be positive seconds or None, not {threshold!r}")
        #: What the dispatcher compares each plain call's duration with (infinite: never reported).
        self.threshold = math.inf if threshold is None else float(threshold)
        self.recent: deque[SlowCall] = deque(maxlen=_KEPT)
        self.total = 0

    def note(self, handler: object, method: str, seconds: float, client: int, path: str) -> None:
        call = SlowCall(type(handler).__qualname__, method, seconds, client, path, time.time())
        self.recent.append(call)
        self.total += 1
        _log.warning("%s", call)
