"""Holding a connection whose handler raised, so a person can debug, fix and go on (``debug_on_error``).

With ``Server(debug_on_error=True)`` a handler method that raises does not close its connection with 1011.
The connection is held instead:

- the failed event (method and arguments) is kept, and so are the frames of its error record;
- later events wait in the connection's queue, as they do behind a running ``async`` method; reading goes on
  (pings are answered, so both sides' keepalive holds) until ``max_pending_events`` wait, then pauses; the
  server's keepalive does not drop a held client for a late pong;
- nothing reaches the handler until someone decides: ``retry(client)`` delivers the failed event again, to
  whatever class the handler has by then (a reload or ``register`` moves held instances like any other),
  then the waiting events; ``skip(client)`` drops the failed event and delivers the waiting ones;
  ``client.close(...)`` (the prompt's ``kick``) closes it;
- a hold nobody resolves within ``debug_hold_timeout`` seconds is closed with 1011, as without the option;
- a held connection whose peer closes (or is lost) ends its hold: the failed and waiting events are dropped
  and ``on_close`` is delivered, once, as always.

Other connections never notice: the hold is per connection and runs on no thread of its own. Functions here
run on the server loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.codes import CloseCode

if TYPE_CHECKING:
    import asyncio

    from .errors import ErrorRecord
    from .protocol import ServerProtocol

__all__ = ["Hold", "retry", "skip"]

_log = logging.getLogger("livews.server")


@dataclass(slots=True)
class Hold:
    """The event a held connection failed on, its error record, and the timer that ends the hold."""

    name: str
    args: tuple[Any, ...]
    record: ErrorRecord
    timer: asyncio.TimerHandle | None = None


def start_hold(client: ServerProtocol, name: str, args: tuple[Any, ...], record: ErrorRecord) -> None:
    """Hold ``client`` on its failed event: later events queue, the hold timer starts."""
    from collections import deque

    server = client.server
    hold = Hold(name, args, record)
    hold.timer = server.loop.call_later(server.debug_hold_timeout, _timed_out, client, hold)
    client._hold = hold
    if client._queue is None:
        client._queue = deque()


def retry(client: ServerProtocol) -> None:
    """Deliver the failed event again (to the handler's class as it is now), then the events that waited."""
    hold = _end(client, "retried")
    assert client._queue is not None
    client._queue.appendleft((hold.name, hold.args))
    _drain(client)


def skip(client: ServerProtocol) -> None:
    """Drop the failed event and deliver the events that waited behind it."""
    _end(client, "skipped")
    _drain(client)


def connection_ending(client: ServerProtocol) -> None:
    """The peer closed (or was lost) while held: drop what waited, deliver ``on_close`` (queued last)."""
    if client._hold is None:
        return
    _end(client, f"closed while held ({client.close_code})")
    client._failed = True  # only on_close is delivered from now on
    _drain(client)


def _end(client: ServerProtocol, outcome: str) -> Hold:
    hold = client._hold
    if hold is None:
        raise ValueError(f"{client!r} is not held")
    client._hold = None
    if hold.timer is not None:
        hold.timer.cancel()
    hold.record.held = False
    hold.record.outcome = outcome
    client.server.errors.released(hold.record)
    return hold


def _drain(client: ServerProtocol) -> None:
    """Deliver the waiting events in a task (in order, as behind an async method); resume reading."""
    queue = client._queue
    assert queue is not None
    server = client.server
    if client._reading_paused and len(queue) <= server.max_pending_events // 2:
        client._reading_paused = False
        transport = client._transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
    if client._task is not None:
        return  # a task still runs (the hold started inside it and it is about to end): it delivers them
    task = server.loop.create_task(client._run_async("", None))
    client._task = task
    server._tasks.add(task)
    task.add_done_callback(server._tasks.discard)


def _timed_out(client: ServerProtocol, hold: Hold) -> None:
    if client._hold is not hold:
        return
    hold.timer = None
    _log.warning(
        "%s: held %.0fs after error #%d with nobody attending; closing it with 1011",
        client,
        client.server.debug_hold_timeout,
        hold.record.number,
    )
    _end(client, "hold timed out; closed 1011")
    client._failed = True  # as without the hold: only on_close from now on
    client.close(CloseCode.INTERNAL_ERROR, "internal error")
    _drain(client)
