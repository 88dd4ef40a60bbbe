"""Run a handler file's import on a thread of its own, under a time limit, and say where it hung.

A file is user code executed at import: it may loop forever (``while True: pass``) or block (a network call,
``time.sleep(600)``). Run on the server loop it would freeze every client; run on the loop's shared executor
it would hold a worker, keep the reloader's lock forever and, as the executor joins its threads at exit, keep
the process from exiting. So loads run on a :class:`LoadThread`, a daemon thread of their own (started once,
not per load: starting a thread makes the loop wait for it), and the loop waits for each at most ``limit``
seconds; a thread that hung is abandoned and the next load gets a fresh one.

On expiry :func:`run_limited` raises :class:`Hung`, which names the file and line the thread was executing,
and asks Python to raise :class:`~livews.live.loader.Interrupted` in that thread (``SetAsyncExc``):
a pure-Python loop stops at its next instruction; a call blocked in C cannot be interrupted, and its thread is
left behind as a daemon (it ends with the process, holds no lock of ours, and what it loads later is thrown
away by ``abandoned``).

This module knows threads and frames, not files or servers; it runs on the server loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import dis
import queue
import sys
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from .loader import Interrupted

__all__ = ["Hung", "Job", "LoadThread", "run_limited"]

_T = TypeVar("_T")

#: How long an interrupted thread gets to unwind before it is reported as left behind.
_UNWIND_SECONDS = 0.5
#: An idle loading thread ends after this many seconds (the next load starts another).
_IDLE_SECONDS = 30.0


class Hung(Exception):
    """A load that did not finish within its limit: where it was, and whether its thread could be stopped."""

    def __init__(self, limit: float, where: str | None, file: Path | None, interrupted: bool) -> None:
        self.limit = limit
        self.where = where
        self.file = file
        self.interrupted = interrupted
        stopped = (
            "interrupted"
            if interrupted
            else "blocked in a call Python cannot interrupt; its thread is left behind"
        )
        super().__init__(f"hung: the import did not finish within {limit:g} s ({stopped})")


class Job:
    """One load on its thread; ``abandoned`` turns true once the loop stopped waiting for it."""

    def __init__(self) -> None:
        self.abandoned = False
        self.thread: threading.Thread | None = None


class LoadThread:
    """A daemon thread running loads one after the other; :meth:`abandon` leaves it to a hung load."""

    def __init__(self, name: str = "livews-load") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, task: Callable[[], object]) -> threading.Thread:
        """Queue ``task`` (it must not raise) and return the thread that will run it."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, args=(self._queue,), name=self.name)
                self._thread.daemon = True
                self._thread.start()
            self._queue.put(task)
            return self._thread

    def abandon(self) -> None:
        """The running task hung: leave the thread to it; later tasks go to a new thread."""
        with self._lock:
            self._thread = None
            self._queue = queue.SimpleQueue()

    def _serve(self, tasks: queue.SimpleQueue[Callable[[], object]]) -> None:
        try:
            self._serve_until_idle(tasks)
        except Interrupted:
            pass  # the interrupt came just after the load it was meant for ended; this thread was abandoned

    def _serve_until_idle(self, tasks: queue.SimpleQueue[Callable[[], object]]) -> None:
        me = threading.current_thread()
        while True:
            try:
                task = tasks.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if tasks.empty():
                        if self._thread is me:
                            self._thread = None
                        return
                continue
            task()
            if self._thread is not me:
                return  # abandoned while this task ran


async def run_limited(
    work: Callable[[Job], _T],
    *,
    limit: float | None,
    files: Collection[Path],
    runner: LoadThread | None = None,
) -> _T:
    """Run ``work(job)`` on ``runner`` (default: a new one); return its result or raise its exception here.

    ``files`` are the files the work executes: on expiry the innermost frame in one of them is named.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()
    job = Job()

    def deliver(ok: bool, value: object) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)  # type: ignore[arg-type]
        else:
            assert isinstance(value, BaseException)
            future.set_exception(value)

    def target() -> None:
        try:
            result: object = work(job)
            ok = True
        except BaseException as exc:  # a load's own errors come back as LoadError; anything else is ours
            result, ok = exc, False
        try:
            loop.call_soon_threadsafe(deliver, ok, result)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    runner = runner or LoadThread()
    thread = job.thread = runner.submit(target)
    try:
        return await asyncio.wait_for(asyncio.shield(future), limit)
    except asyncio.TimeoutError:
        pass
    assert limit is not None
    where, file = _where(thread, {str(f) for f in files})
    job.abandoned = True
    runner.abandon()
    interrupted = False
    ident = thread.ident
    if ident is not None and not await _blocked_in_c(ident) and _raise_in(ident):
        try:
            await asyncio.wait_for(asyncio.shield(future), _UNWIND_SECONDS)
        except Interrupted:
            interrupted = True
        except asyncio.TimeoutError:
            pass
        except BaseException:
            interrupted = True  # it ended another way meanwhile; either way it is no longer running
    future.add_done_callback(_consume)
    raise Hung(limit, where, file, interrupted)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" at garbage collection


def _where(thread: threading.Thread, files: set[str]) -> tuple[str | None, Path | None]:
    """``file:line`` of the innermost frame of ``thread`` that runs one of ``files`` (else the innermost)."""
    frame = sys._current_frames().get(thread.ident or -1)
    innermost = None
    while frame is not None:
        code = frame.f_code
        if innermost is None:
            innermost = (f"{code.co_filename}:{frame.f_lineno}", None)
        if code.co_filename in files:
            return f"{code.co_filename}:{frame.f_lineno}", Path(code.co_filename)
        frame = frame.f_back
    return innermost if innermost is not None else (None, None)


#: Opcodes a frame stands on while the function it calls runs (a C function blocked in it, say).
_CALLS = frozenset(
    {"CALL", "PRECALL", "CALL_FUNCTION", "CALL_FUNCTION_EX", "CALL_FUNCTION_KW", "CALL_METHOD", "CALL_KW"}
)
#: How many times, and how far apart (seconds), a thread is looked at before it is judged blocked in C.
_SAMPLES, _SAMPLE_GAP = 5, 0.01


async def _blocked_in_c(ident: int) -> bool:
    """Whether thread ``ident`` stays on one call instruction of one frame: blocked in a C function.

    Such a thread cannot receive an interrupt until the call returns, maybe much later and anywhere; and on
    CPython before 3.13 a pending one keeps an interpreter-wide flag set meanwhile (seen to wedge the server
    loop under a tracer such as coverage). So it is not sent one. A loop in Python moves between
    instructions, or calls into frames of its own, and is sent one.
    """
    seen: tuple[object, int] | None = None
    for sample in range(_SAMPLES):
        frame = sys._current_frames().get(ident)
        if frame is None:
            return False
        now = (frame, frame.f_lasti)
        if seen is not None and now != seen:
            return False
        code = frame.f_code.co_code
        if not 0 <= frame.f_lasti < len(code) or dis.opname[code[frame.f_lasti]] not in _CALLS:
            return False
        seen = now
        del frame
        if sample < _SAMPLES - 1:
            await asyncio.sleep(_SAMPLE_GAP)
    return True


def _raise_in(ident: int) -> bool:
    """Ask Python to raise ``Interrupted`` in thread ``ident`` at its next bytecode (CPython only)."""
    set_async_exc = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)
    if set_async_exc is None:
        return False
    changed = set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(Interrupted))
    if changed > 1:  # more than one thread state touched: undo, as the C API documents
        set_async_exc(ctypes.c_ulong(ident), None)
        return False
    return bool(changed == 1)
