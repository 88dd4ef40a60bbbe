"""An asyncio event loop on its own thread, callable from any other thread.

``call(fn, *args)`` runs a plain function on the loop and ``run(coro)`` a coroutine; both block the calling
thread until the loop answers and then return the result or raise the very exception the loop raised. A slow
caller (a REPL statement, a notebook cell) never holds the loop, and a loop kept busy by a handler surfaces
as a ``TimeoutError`` that says so instead of a frozen caller.

Called from the loop thread itself, ``call`` runs the function directly (no hop, no deadlock) and ``run``
refuses with a clear error, since a loop cannot block waiting for itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..server.loops import LoopFactory

__all__ = ["LoopThread", "LoopThreadError"]

_T = TypeVar("_T")


class LoopThreadError(RuntimeError):
    """The loop is not running, or was asked to wait for itself."""


class LoopThread:
    """Owns one event loop running forever on a daemon thread until :meth:`close`."""

    def __init__(
        self,
        name: str = "livews-server",
        *,
        timeout: float | None = 30.0,
        loop_factory: LoopFactory = asyncio.new_event_loop,
    ) -> None:
        self.name = name
        self._loop_factory = loop_factory  # what makes the loop: asyncio's own, or uvloop's (server.loops)
        #: Default wait for ``call``/``run``; ``None`` waits forever.
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise LoopThreadError("the server loop is not started")
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running() and not self._loop.is_closed()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the thread and return once its loop runs."""
        if self._thread is not None:
            raise LoopThreadError("already started")
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._started.wait()

    def _main(self) -> None:
        loop = self._loop_factory()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(self._started.set)
        try:
            loop.run_forever()
        finally:
            try:
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def call(self, fn: Callable[..., _T], *args: Any, timeout: float | None = -1.0) -> _T:
        """Run ``fn(*args)`` on the loop and return its result (or raise its exception) here."""
        if self.in_loop_thread():
            return fn(*args)
        loop = self._live_loop()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def runner() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(runner)
        return self._wait(future, timeout, getattr(fn, "__name__", "call"))

    def run(self, coro: Coroutine[Any, Any, _T], *, timeout: float | None = -1.0) -> _T:
        """Run ``coro`` on the loop and return its result (or raise its exception) here."""
        if self.in_loop_thread():
            coro.close()
            raise LoopThreadError("cannot wait for the server loop from inside it; await the coroutine")
        try:
            loop = self._live_loop()
        except LoopThreadError:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        return self._wait(future, timeout, getattr(coro, "__name__", "coroutine"))

    def _live_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            raise LoopThreadError("the server is not running")
        return loop

    def _wait(self, future: concurrent.futures.Future[_T], timeout: float | None, what: str) -> _T:
        wait = self.timeout if timeout == -1.0 else timeout
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the server loop did not finish {what} within {wait}s (is a handler blocking it?)"
            ) from None

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the loop (cancelling what still runs on it) and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass
        if threading.current_thread() is not thread:
            thread.join(timeout)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
