"""Delivering engine events to a connection's handler: in order, isolated, ``on_close`` exactly once and last.

One ``Dispatcher`` per connection, made by its session (``ServerProtocol``) once the handshake succeeded; it
knows handlers and events, not sockets or handshakes, and asks the session for what touches the wire (read
pausing, a close after an error). The rules:

- The method is looked up on the handler instance at every event, so a class swapped by the live layer
  takes effect from the next event on.
- A plain method is called inline, on the hot path. A method that returns a coroutine runs in a task; later
  events wait in a per-connection queue until it is done, so events reach the handler in order. Reading
  pauses while that queue is longer than ``max_pending_events`` (after a few more KiB, so a close frame
  right behind the backlog is still answered) and resumes when it has half drained.
- A method that raises (anything, ``KeyboardInterrupt`` and ``SystemExit`` included: user code never ends
  the server loop) is logged with its traceback on ``livews.server``, recorded in ``server.errors``
  (``errors.py``), and its connection is closed with 1011 "internal error" (no internals on the wire);
  nothing further but ``on_close`` reaches that handler, and nothing else on the server is disturbed. With
  ``Server(debug_on_error=True)`` the connection is held instead, for a person to retry or skip the event
  (``hold.py``). ``ConnectionClosed`` raised in a handler (``drain()`` after the peer left) ends that
  method quietly.
- ``on_close`` is called exactly once, after everything else, even when the server cancels a handler
  task at shutdown.
- A plain method that holds the loop longer than the server's ``slow_callback`` is reported by name
  (``livews.server.slow``); timing it costs one ``perf_counter`` pair per call.
- ``in_call()`` says whether an ``async`` method is running, and ``after_call(callback)`` runs a callback
  once it has ended, before the next event is delivered: how the live layer moves a handler to its
  reloaded class without a running call finishing on a mix of old code and new class.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..engine.events import BinaryMessage, CloseReceived, PongReceived, TextMessage
from .client import ConnectionClosed
from .hold import Hold, connection_ending, start_hold
from .records import connection_fields

if TYPE_CHECKING:
    from ..engine.events import Event
    from ..handler import Handler
    from .client import Client
    from .protocol import ServerProtocol

__all__ = ["Dispatcher"]

_log = logging.getLogger("livews.server")

#: Events waiting behind an ``async`` handler method before reading pauses (``Server(max_pending_events=)``).
DEFAULT_MAX_PENDING = 64

_Pending = deque[tuple[str, tuple[Any, ...]]]

#: ``_invoke``'s answer for a method that raised while the connection is now held for the debugger.
_HELD: Any = object()


class Dispatcher:
    """Event delivery for one connection: the handler of ``client``, fed by the session's reads."""

    __slots__ = (
        "_after_call",
        "_closed_reported",
        "_failed",
        "_queue",
        "_session",
        "client",
        "hold",
        "server",
        "task",
    )

    def __init__(self, session: ServerProtocol, client: Client) -> None:
        self._session = session
        self.client = client
        self.server = client.server
        self._queue: _Pending | None = None  # not None while an async method runs: later events wait here
        #: The task running an ``async`` method and what waited behind it, if one runs.
        self.task: asyncio.Task[None] | None = None
        self._closed_reported = False
        self._failed = False  # a handler method raised: only on_close is delivered from now on
        #: Held for the debugger (``hold.py``): later events wait in the queue until retry/skip/close.
        self.hold: Hold | None = None
        self._after_call: list[Callable[[], object]] | None = None  # run once the running async call ended

    def in_call(self) -> bool:
        """Whether an ``async`` handler method is running (its events wait meanwhile); not while held."""
        return self._queue is not None and self.hold is None

    def after_call(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the running ``async`` method ended, before the next event (now if none)."""
        if self._queue is None:
            callback()
        elif self._after_call is None:
            self._after_call = [callback]
        else:
            self._after_call.append(callback)

    def _call_ended(self) -> None:
        callbacks, self._after_call = self._after_call or [], None
        for callback in callbacks:
            try:
                callback()
            except Exception:
                _log.exception("%s: a callback after the handler's call raised", self.client)

    def dispatch(self, events: list[Event]) -> None:
        """Deliver ``events`` to the handler, in order: plain methods inline, the rest behind the queue."""
        client = self.client
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                if TYPE_CHECKING:  # what the test above says, for mypy (which does not follow ``kind``)
                    assert isinstance(event, (TextMessage, BinaryMessage))
                client.messages_in += 1
                handler = client.handler
                if self._queue is not None or self._failed or handler is None:
                    self.call("on_text" if kind is TextMessage else "on_binary", (event.data,))
                    continue
                # The hot path: a plain method, called inline.
                started = perf_counter()
                try:
                    if kind is TextMessage:
                        if TYPE_CHECKING:
                            assert isinstance(event, TextMessage)
                        result = handler.on_text(event.data)
                    else:
                        if TYPE_CHECKING:
                            assert isinstance(event, BinaryMessage)
                        result = handler.on_binary(event.data)
                except ConnectionClosed:
                    continue
                except BaseException:  # KeyboardInterrupt, SystemExit too
                    self._handler_failed("on_text" if kind is TextMessage else "on_binary", (event.data,))
                    continue
                elapsed = perf_counter() - started
                if elapsed > self.server.slow_callback:
                    self._held_the_loop("on_text" if kind is TextMessage else "on_binary", elapsed)
                if result is not None and asyncio.iscoroutine(result):
                    name = "on_text" if kind is TextMessage else "on_binary"
                    self._start_async(name, result, (event.data,))
            elif kind is CloseReceived:
                if TYPE_CHECKING:
                    assert isinstance(event, CloseReceived)
                self._connection_ended(event)
            elif kind is PongReceived:
                if TYPE_CHECKING:
                    assert isinstance(event, PongReceived)
                self._session.pong_received(event.payload)  # keepalive's bookkeeping
                self.call("on_pong", (event.payload,))
            # PingReceived: the engine has queued the pong

    def call(self, name: str, args: tuple[Any, ...]) -> None:
        """Deliver one event to the handler, in order, isolating any error it raises."""
        if self._closed_reported and name != "on_close":
            return
        queue = self._queue
        if queue is not None:
            queue.append((name, args))
            if len(queue) > self.server.max_pending_events:
                # Reading stops after a few more bytes: a close frame right behind the backlog still
                # reaches the engine, which answers it at once (the events wait in order).
                self._session.pause_for_backlog()
            return
        handler = self.client.handler
        if handler is None or (self._failed and name != "on_close"):
            return
        result = self._invoke(handler, name, args)
        if result is not None and result is not _HELD:
            self._start_async(name, result, args)

    def _invoke(self, handler: Handler, name: str, args: tuple[Any, ...]) -> Any:
        """Call ``handler.<name>(*args)`` timed and isolated: its coroutine to await, ``None``, or ``_HELD``.

        ``None``: the call is over (it returned, ended on ``ConnectionClosed``, or raised and the connection
        is closing with 1011). ``_HELD``: it raised and the connection is held for the debugger. The plain
        message branch of ``dispatch`` keeps its own inline copy of this, so the hot path makes no extra
        call; every other delivery comes through here.
        """
        started = perf_counter()
        try:
            result = getattr(handler, name)(*args)
        except ConnectionClosed:
            _log.debug("%s: %s ended on a closed connection", self.client, name)
            return None
        except BaseException:  # KeyboardInterrupt, SystemExit too
            return _HELD if self._handler_failed(name, args) else None
        elapsed = perf_counter() - started
        if elapsed > self.server.slow_callback:
            self._held_the_loop(name, elapsed)
        if result is not None and asyncio.iscoroutine(result):
            return result
        return None

    def _start_async(self, name: str, coro: Any, args: tuple[Any, ...] = ()) -> None:
        self._queue = deque()
        self.run_queued(name, coro, args)

    def run_queued(self, name: str = "", first: Any = None, args: tuple[Any, ...] = ()) -> None:
        """Deliver ``first`` (a coroutine, if any) and then the queued events in a task of the server's."""
        task = self.server.loop.create_task(self._run_async(name, first, args))
        self.task = task
        self.server._tasks.add(task)
        task.add_done_callback(self.server._tasks.discard)

    def start_queue(self) -> None:
        """Make later events wait in the queue (a hold starts) if nothing queues them yet."""
        if self._queue is None:
            self._queue = deque()

    def requeue(self, name: str, args: tuple[Any, ...]) -> None:
        """Put an event back at the head of the queue (a held event to retry)."""
        assert self._queue is not None
        self._queue.appendleft((name, args))

    def backlog(self) -> int:
        """Events waiting in the queue."""
        return 0 if self._queue is None else len(self._queue)

    def only_close_from_now(self) -> None:
        """Deliver nothing but ``on_close`` from now on (as after a handler error)."""
        self._failed = True

    async def _run_async(self, name: str, first: Any, args: tuple[Any, ...] = ()) -> None:
        """Await a coroutine handler method, then deliver queued events, until it is empty or held."""
        queue = self._queue
        assert queue is not None
        pending: Any = first
        try:
            while True:
                if pending is not None:
                    try:
                        await pending
                    except ConnectionClosed:
                        _log.debug("%s: %s ended on a closed connection", self.client, name)
                    except asyncio.CancelledError:
                        raise
                    except BaseException:  # KeyboardInterrupt, SystemExit too
                        if self._handler_failed(name, args):
                            if self._after_call is not None:
                                self._call_ended()  # held: a reloaded class is what retry should reach
                            return
                    pending = None
                    if self._after_call is not None:
                        self._call_ended()
                if not queue:
                    break
                name, args = queue.popleft()
                if len(queue) <= self.server.max_pending_events // 2:
                    self._session.backlog_drained()
                handler = self.client.handler
                if handler is None or (self._failed and name != "on_close"):
                    continue
                pending = self._invoke(handler, name, args)
                if pending is _HELD:
                    return
        except asyncio.CancelledError:
            if self._after_call is not None:
                self._call_ended()
            self._cancelled(queue, pending)
            raise
        finally:
            if self.hold is None:
                self._queue = None
            self.task = None

    def _cancelled(self, queue: _Pending, pending: Any) -> None:
        """The server cancelled this task (shutdown): still give ``on_close`` its one call if it is due."""
        if pending is not None:
            pending.close()
        handler = self.client.handler
        for name, args in queue:
            if name == "on_close" and handler is not None:
                try:
                    result = handler.on_close(*args)
                except BaseException:  # KeyboardInterrupt, SystemExit too
                    _log.exception(
                        "%s.on_close raised", type(handler).__qualname__, extra=connection_fields(self.client)
                    )
                    return
                if result is not None and asyncio.iscoroutine(result):
                    result.close()  # no loop time left for an async on_close at shutdown
                    _log.debug("%s: async on_close skipped at shutdown", self.client)
                return

    def _held_the_loop(self, name: str, seconds: float) -> None:
        client = self.client
        self.server.slow_calls.note(client.handler, name, seconds, client.id, client.path)

    def _handler_failed(self, name: str, args: tuple[Any, ...] = ()) -> bool:
        """Record and log the error being handled; close with 1011, or hold (then return True)."""
        server = self.server
        client = self.client
        server.handler_errors += 1
        what = f"{type(client.handler).__qualname__}.{name} raised"
        if server.debug_on_error and name != "on_close" and client.open:
            record = server.errors.add("handler", client, name, what, outcome="held")
            start_hold(self, name, args, record)
            _log.error(
                "%s; holding %s for the debugger (error #%d: retry, skip or close it; closed with 1011 "
                "after %.0fs)",
                what,
                client,
                record.number,
                server.debug_hold_timeout,
                exc_info=True,
                extra={"livews_error": record, **connection_fields(client)},
            )
            return True
        record = server.errors.add(
            "handler", client, name, what, outcome="closed 1011" if name != "on_close" else ""
        )
        _log.exception(
            "%s; closing %s with 1011",
            what,
            client,
            extra={"livews_error": record, **connection_fields(client)},
        )
        if name == "on_close":
            return False
        self._failed = True
        self._session.fail_after_error()  # no internals on the wire
        return False

    def _connection_ended(self, event: CloseReceived) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        client = self.client
        client.close_code, client.close_reason = event.code, event.reason
        self.call("on_close", (event.code, event.reason))
        if self.hold is not None:
            connection_ending(self)
