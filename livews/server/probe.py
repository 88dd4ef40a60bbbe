"""A worker's answer to its supervisor's liveness probe, given by the event loop that serves its clients.

The supervisor hands each worker one end of a socket pair (its descriptor in ``LIVEWS_PROBE_FD``) and writes a
byte to it every second; the worker's loop echoes every byte back from a reader callback. An answer therefore
proves the loop is turning, not merely that the process exists: a handler that blocks the loop (a
``time.sleep`` in a plain method) stops the answers, and the supervisor can tell and restart the worker. The
plain-HTTP health path cannot do this job, because with ``SO_REUSEPORT`` the kernel, not the supervisor,
picks which worker a connection reaches.
"""

from __future__ import annotations

import asyncio
import os
import socket

__all__ = ["PROBE_FD", "answer_probes"]

#: The environment variable naming the worker's end of the probe socket pair.
PROBE_FD = "LIVEWS_PROBE_FD"


def answer_probes(loop: asyncio.AbstractEventLoop) -> socket.socket | None:
    """Echo the supervisor's probes from ``loop`` if this process was given a probe socket; else ``None``.

    The variable is taken out of the environment, so only the first server of the process answers and no
    child process inherits the name of a descriptor it does not have.
    """
    value = os.environ.pop(PROBE_FD, "")
    if not value.isdigit():
        return None
    try:
        sock = socket.socket(fileno=int(value))
    except OSError:
        return None
    sock.setblocking(False)

    def echo() -> None:
        try:
            data = sock.recv(256)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the supervisor went away
            loop.remove_reader(sock)
            sock.close()
            return
        try:
            sock.send(data)
        except OSError:
            pass

    loop.add_reader(sock, echo)
    return sock
