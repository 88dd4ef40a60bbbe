"""Delivering engine events to a connection's handler: in order, isolated, ``on_close`` exactly once and last.

A mixin of ``ServerProtocol``; it knows handlers and events, not sockets or handshakes. The rules:

- The method is looked up on the handler instance at every event, so a class swapped by the live layer
  takes effect from the next event on.
- A plain method is called inline, on the hot path. A method that returns a coroutine runs in a task; later
  events wait in a per-connection queue until it is done, so events reach the handler in order. Reading
  pauses while that queue is longer than ``max_pending_events`` and resumes when it has half drained.
- A method that raises (anything, ``KeyboardInterrupt`` and ``SystemExit`` included: user code never ends
  the server loop) is logged with its traceback on ``livews.server`` and its connection is closed with
  1011 "internal error" (no internals on the wire); nothing further but ``on_close`` reaches that handler,
  and nothing else on the server is disturbed. ``ConnectionClosed`` raised in a handler (``drain()`` after
  the peer left) ends that method quietly.
- ``on_close`` is called exactly once, after everything else, even when the server cancels a handler
  task at shutdown.
- ``in_call()`` says whether an ``async`` method is running, and ``after_call(callback)`` runs a callback
  once it has ended, before the next event is delivered: how the live layer moves a handler to its
  reloaded class without a running call finishing on a mix of old code and new class.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine.connection import Connection, State
from ..engine.events import BinaryMessage, CloseReceived, PingReceived, PongReceived, TextMessage
from .client import ConnectionClosed

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Dispatcher"]

_log = logging.getLogger("livews.server")

#: Events waiting behind an ``async`` handler method before reading pauses (``Server(max_pending_events=)``).
DEFAULT_MAX_PENDING = 64

_Pending = deque[tuple[str, tuple[Any, ...]]]


class Dispatcher:
    """Event delivery for one connection (mixed into ``ServerProtocol``, which sets these attributes)."""

    server: Server
    handler: Any
    messages_in: int
    close_code: int | None
    close_reason: str
    _conn: Any
    _transport: asyncio.Transport | None
    _queue: _Pending | None  # not None while an async method runs: later events wait here
    _task: asyncio.Task[None] | None
    _reading_paused: bool
    _closed_reported: bool
    _failed: bool  # a handler method raised: only on_close is delivered from now on
    _after_call: list[Callable[[], object]] | None  # run once the running async method has ended

    def in_call(self) -> bool:
        """Whether an ``async`` handler method of this connection is running (its events wait meanwhile)."""
        return self._queue is not None

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
                _log.exception("%s: a callback after the handler's call raised", self)

    def _dispatch_pending(self, conn: Connection) -> None:
        """Deliver every event the engine has, including a failure it held back until earlier messages."""
        events = conn.events_received()
        while events:
            self._dispatch(events)
            events = conn.events_received()

    def _dispatch(self, events: list[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                self.messages_in += 1
                handler = self.handler
                if self._queue is not None or self._failed or handler is None:
                    self._call("on_text" if kind is TextMessage else "on_binary", (event.data,))
                    continue
                # The hot path: a plain method, called inline.
                try:
                    if kind is TextMessage:
                        result = handler.on_text(event.data)
                    else:
                        result = handler.on_binary(event.data)
                except ConnectionClosed:
                    continue
                except BaseException:  # KeyboardInterrupt, SystemExit too
                    self._handler_failed("on_text" if kind is TextMessage else "on_binary")
                    continue
                if result is not None and asyncio.iscoroutine(result):
                    self._start_async("on_text" if kind is TextMessage else "on_binary", result)
            elif kind is CloseReceived:
                self._connection_ended(event)
            elif kind is PongReceived:
                self._pong(event.payload)
            elif kind is PingReceived:
                pass  # the engine has queued the pong

    def _pong(self, payload: bytes) -> None:
        self._call("on_pong", (payload,))

    def _call(self, name: str, args: tuple[Any, ...]) -> None:
        """Deliver one event to the handler, in order, isolating any error it raises."""
        if self._closed_reported and name != "on_close":
            return
        queue = self._queue
        if queue is not None:
            queue.append((name, args))
            if (
                len(queue) > self.server.max_pending_events
                and not self._reading_paused
                and self._transport is not None
            ):
                self._reading_paused = True
                self._transport.pause_reading()
            return
        handler = self.handler
        if handler is None or (self._failed and name != "on_close"):
            return
        try:
            result = getattr(handler, name)(*args)
        except ConnectionClosed:
            _log.debug("%s: %s ended on a closed connection", self, name)
            return
        except BaseException:  # KeyboardInterrupt, SystemExit too
            self._handler_failed(name)
            return
        if result is not None and asyncio.iscoroutine(result):
            self._start_async(name, result)

    def _start_async(self, name: str, coro: Any) -> None:
        self._queue = deque()
        task = self.server.loop.create_task(self._run_async(name, coro))
        self._task = task
        self.server._tasks.add(task)
        task.add_done_callback(self.server._tasks.discard)

    async def _run_async(self, name: str, first: Any) -> None:
        """Await a coroutine handler method, then deliver queued events, until the queue is empty."""
        queue = self._queue
        assert queue is not None
        pending: Any = first
        try:
            while True:
                if pending is not None:
                    try:
                        await pending
                    except ConnectionClosed:
                        _log.debug("%s: %s ended on a closed connection", self, name)
                    except asyncio.CancelledError:
                        raise
                    except BaseException:  # KeyboardInterrupt, SystemExit too
                        self._handler_failed(name)
                    pending = None
                    if self._after_call is not None:
                        self._call_ended()
                if not queue:
                    break
                name, args = queue.popleft()
                if self._reading_paused and len(queue) <= self.server.max_pending_events // 2:
                    self._reading_paused = False
                    if self._transport is not None and not self._transport.is_closing():
                        self._transport.resume_reading()
                handler = self.handler
                if handler is None or (self._failed and name != "on_close"):
                    continue
                try:
                    result = getattr(handler, name)(*args)
                except ConnectionClosed:
                    _log.debug("%s: %s ended on a closed connection", self, name)
                    continue
                except BaseException:  # KeyboardInterrupt, SystemExit too
                    self._handler_failed(name)
                    continue
                if result is not None and asyncio.iscoroutine(result):
                    pending = result
        except asyncio.CancelledError:
            if self._after_call is not None:
                self._call_ended()
            self._cancelled(queue, pending)
            raise
        finally:
            self._queue = None
            self._task = None

    def _cancelled(self, queue: _Pending, pending: Any) -> None:
        """The server cancelled this task (shutdown): still give ``on_close`` its one call if it is due."""
        if pending is not None:
            pending.close()
        for name, args in queue:
            if name == "on_close" and self.handler is not None:
                try:
                    result = self.handler.on_close(*args)
                except BaseException:  # KeyboardInterrupt, SystemExit too
                    _log.exception("%s.on_close raised", type(self.handler).__qualname__)
                    return
                if result is not None and asyncio.iscoroutine(result):
                    result.close()  # no loop time left for an async on_close at shutdown
                    _log.debug("%s: async on_close skipped at shutdown", self)
                return

    def _handler_failed(self, name: str) -> None:
        handler = self.handler
        _log.exception("%s.%s raised; closing %s with 1011", type(handler).__qualname__, name, self)
        self.server.handler_errors += 1
        if name == "on_close":
            return
        self._failed = True
        conn = self._conn
        if conn is not None and conn.state is not State.CLOSED:
            conn.fail(1011, "internal error")  # no internals on the wire
            self._flush()
            self._dispatch_pending(conn)

    def _connection_ended(self, event: CloseReceived) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        self.close_code, self.close_reason = event.code, event.reason
        self._call("on_close", (event.code, event.reason))

    def _flush(self) -> None:
        raise NotImplementedError
