"""Out of descriptors: one log line per second while ``accept()`` keeps failing, not a traceback per try.

When the process runs out of file descriptors (or the kernel of sockets or memory), asyncio's accept loop
reports every failed ``accept()`` to the loop's exception handler, which logs a full traceback each time:
thousands of them a second, megabytes of log, while the condition lasts. The server wraps the loop's
exception handler once: these reports are counted and summed up on ``livews.server`` at most once a second;
asyncio's retries that fire after the server closed are dropped; every other report goes to the handler that
was there before (or the loop's default), unchanged.

aiofastnet's accept loop (``transports.py``) reports the same way, then means to stop watching the listening
socket for a second, as asyncio does, but asks the socket itself to (``listening_sock.remove_reader(fd)``,
aiofastnet 1.2): a plain ``socket.socket`` has no such method, so the ``AttributeError`` that follows was
logged with a traceback and the socket stayed watched, the loop retrying ``accept()`` tens of thousands of
times a second. Its listening sockets are therefore ``ListeningSocket``, which has that method and passes it
to the loop; should aiofastnet call the loop itself, the method is simply not used. uvloop's own accept loop
reports nothing: libuv accepts and closes the connections it has no descriptor for.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import time
from typing import Any

__all__ = ["ListeningSocket", "quiet_accept_errors"]

_log = logging.getLogger("livews.server")

#: The ``errno`` values asyncio's accept loop treats as "out of a resource, try again later".
_OUT_OF_RESOURCE = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))

#: Seconds between two log lines about failing accepts.
REPORT_INTERVAL = 1.0

#: The callbacks of accept retries (asyncio's, aiofastnet's) that find the listening socket gone once the
#: server has closed.
_RETRIES = frozenset(("_start_serving", "_start_serving_one_listener"))

#: A bound method's name in an "Exception in callback ..." message: ``<bound method Server.name of ...>``.
_CALLBACK_IN_MESSAGE = re.compile(r"^Exception in callback <bound method [\w.]*?\.?(\w+) of ")


class _AcceptErrors:
    """The exception handler installed on one loop: rate-limits accept failures, passes on the rest."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.unreported = 0
        self.last_report = float("-inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno in _OUT_OF_RESOURCE
            and "accept" in str(context.get("message", ""))
        ):
            self.unreported += 1
            now = time.monotonic()
            if now - self.last_report >= REPORT_INTERVAL:
                _log.error(
                    "cannot accept connections: %s (%d failed accepts since the last report)",
                    exc.strerror or exc,
                    self.unreported,
                )
                self.unreported = 0
                self.last_report = now
            return
        if isinstance(exc, (OSError, ValueError)) and _callback_name(context) in _RETRIES:
            # asyncio and aiofastnet schedule one retry per failed accept; those still due after the server
            # closed find its socket gone. Nothing is lost: the server is closed.
            _log.debug("accept retry after the server closed: %s", exc)
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


def _callback_name(context: dict[str, Any]) -> str:
    """The name of the callback whose exception ``context`` reports ("" if it is not a callback's).

    asyncio's handles keep the callback in ``_callback``; uvloop's keep it in C, and only their report's
    message names it (``Exception in callback <bound method Server._start_serving_one_listener of ...>``).
    """
    callback = getattr(context.get("handle"), "_callback", None)
    if callback is not None:
        return str(getattr(callback, "__name__", ""))
    found = _CALLBACK_IN_MESSAGE.search(str(context.get("message", "")))
    return found.group(1) if found else ""


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Install the rate-limiting handler on ``loop`` (once; later calls leave it as it is)."""
    current = loop.get_exception_handler()
    if isinstance(current, _AcceptErrors):
        return
    loop.set_exception_handler(_AcceptErrors(current))


class ListeningSocket(socket.socket):
    """A listening socket that can stop its loop watching it, as aiofastnet's accept loop asks it to."""

    __slots__ = ()

    def remove_reader(self, fd: int) -> bool:
        """Stop the running loop watching ``fd`` for a while: the accept loop that asks (a callback of that
        loop) schedules watching it again."""
        return asyncio.get_running_loop().remove_reader(fd)
