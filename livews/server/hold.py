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

    from .client import Client
    from .dispatch import Dispatcher
    from .errors import ErrorRecord

__all__ = ["Hold", "is_held", "retry", "skip"]

_log = logging.getLogger("livews.server")


@dataclass(slots=True)
class Hold:
    """The event a held connection failed on, its error record, and the timer that ends the hold."""

    name: str
    args: tuple[Any, ...]
    record: ErrorRecord
    timer: asyncio.TimerHandle | None = None


def start_hold(dispatcher: Dispatcher, name: str, args: tuple[Any, ...], record: ErrorRecord) -> None:
    """Hold a connection on its failed event: later events queue, the hold timer starts."""
    server = dispatcher.server
    hold = Hold(name, args, record)
    hold.timer = server.loop.call_later(server.debug_hold_timeout, _timed_out, dispatcher, hold)
    dispatcher.hold = hold
    dispatcher.start_queue()


def is_held(client: Client) -> bool:
    """Whether ``client`` is held for the debugger after a handler error."""
    return client._session.held_error() is not None


def retry(client: Client) -> None:
    """Deliver the failed event again (to the handler's class as it is now), then the events that waited."""
    dispatcher = _held(client)
    hold = _end(dispatcher, "retried")
    dispatcher.requeue(hold.name, hold.args)
    _drain(dispatcher)


def skip(client: Client) -> None:
    """Drop the failed event and deliver the events that waited behind it."""
    dispatcher = _held(client)
    _end(dispatcher, "skipped")
    _drain(dispatcher)


def connection_ending(dispatcher: Dispatcher) -> None:
    """The peer closed (or was lost) while held: drop what waited, deliver ``on_close`` (queued last)."""
    if dispatcher.hold is None:
        return
    _end(dispatcher, f"closed while held ({dispatcher.client.close_code})")
    dispatcher.only_close_from_now()
    _drain(dispatcher)


def _held(client: Client) -> Dispatcher:
    dispatcher = client._session.dispatcher
    if dispatcher is None or dispatcher.hold is None:
        raise ValueError(f"{client!r} is not held")
    return dispatcher


def _end(dispatcher: Dispatcher, outcome: str) -> Hold:
    hold = dispatcher.hold
    assert hold is not None
    dispatcher.hold = None
    if hold.timer is not None:
        hold.timer.cancel()
    hold.record.held = False
    hold.record.outcome = outcome
    dispatcher.server.errors.released(hold.record)
    dispatcher.client._session.restart_keepalive()  # a pong the hold kept unread is no sign of a dead peer
    return hold


def _drain(dispatcher: Dispatcher) -> None:
    """Deliver the waiting events in a task (in order, as behind an async method); resume reading."""
    if dispatcher.backlog() <= dispatcher.server.max_pending_events // 2:
        dispatcher.client._session.backlog_drained()
    if dispatcher.task is not None:
        return  # a task still runs (the hold started inside it and it is about to end): it delivers them
    dispatcher.run_queued()


def _timed_out(dispatcher: Dispatcher, hold: Hold) -> None:
    if dispatcher.hold is not hold:
        return
    hold.timer = None
    client = dispatcher.client
    _log.warning(
        "%s: held %.0fs after error #%d with nobody attending; closing it with 1011",
        client,
        dispatcher.server.debug_hold_timeout,
        hold.record.number,
    )
    _end(dispatcher, "hold timed out; closed 1011")
    dispatcher.only_close_from_now()  # as without the hold: only on_close from now on
    client.close(CloseCode.INTERNAL_ERROR, "internal error")
    _drain(dispatcher)
