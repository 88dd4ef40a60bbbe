"""A process-wide router of ``livews`` log records to the notebook server whose thread logged them.

A handler error happens on the server's thread, while the person is looking at a notebook cell: the record
must reach that server's handle (to keep it and show it in the right cell), not the kernel's stderr at some
random moment. One ``logging.Handler`` is installed on the ``livews`` logger while at least one server is
routed, and removed with the last. Records from other threads are left to the logging setup; when there is
none, they are printed as Python's last-resort handler would have.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["route"]

#: Where a routed thread's records go (the server handle's method that keeps and shows them).
Sink = Callable[[logging.LogRecord], None]


class _Router(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.sinks: dict[int, Sink] = {}

    def emit(self, record: logging.LogRecord) -> None:
        sink = self.sinks.get(record.thread or 0)
        if sink is not None:
            sink(record)
        elif not _other_handlers(record, self) and logging.lastResort is not None:
            if record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)


_ROUTER = _Router()
_ROUTER_LOCK = threading.Lock()


def route(thread_ident: int, sink: Sink | None) -> None:
    """Send the warnings and errors logged on ``thread_ident`` to ``sink`` (``None``: stop doing so)."""
    logger = logging.getLogger("livews")
    with _ROUTER_LOCK:
        if sink is None:
            _ROUTER.sinks.pop(thread_ident, None)
        else:
            _ROUTER.sinks[thread_ident] = sink
        if _ROUTER.sinks and _ROUTER not in logger.handlers:
            logger.addHandler(_ROUTER)
        elif not _ROUTER.sinks and _ROUTER in logger.handlers:
            logger.removeHandler(_ROUTER)


def _other_handlers(record: logging.LogRecord, me: logging.Handler) -> bool:
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(h is not me for h in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False
