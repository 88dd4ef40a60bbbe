"""The errors a server keeps for a person to look at: handler errors and faults of livews itself.

Every handler method that raises, and every exception escaping livews's own processing of a connection,
becomes an ``ErrorRecord`` in the server's ``ErrorLog``: when, which client and path, which class and
method, the exception, and the traceback trimmed to the user's own frames (as text, always). The newest
records also keep the traceback object, so a debugger can walk the frames with their locals as they were.

That traceback keeps alive every frame in it, their locals (the handler instance, the message, whatever the
user's code had in hand) and so the client. The log bounds this: it keeps the last ``KEEP_ERRORS`` records,
and the frames of only the last ``KEEP_FRAMES`` of them plus those of held connections (a held connection's
record keeps its frames until the hold ends); older records keep their text and drop their frames.

This module knows nothing of the live layer; ``debug()`` runs the standard library's pdb (IPython's when
IPython is running), in the calling thread, on frames that have finished running.
"""

from __future__ import annotations

import io
import itertools
import re
import sys
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client

__all__ = ["KEEP_ERRORS", "KEEP_FRAMES", "ErrorLog", "ErrorRecord", "user_traceback"]

#: Records a server keeps (the oldest go first).
KEEP_ERRORS = 100
#: Newest records that keep their traceback (frames and locals) besides those of held connections.
KEEP_FRAMES = 10

_LIVEWS_DIR = str(Path(__file__).resolve().parent.parent)
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _is_user(frame: FrameType) -> bool:
    return not frame.f_code.co_filename.startswith(_LIVEWS_DIR)


class ErrorRecord:
    """One handler error or server fault: what, where, the user's frames; ``debug()`` opens pdb on it.

    Reads like a notebook ``Problem`` too (``when``, ``level``, ``message``, ``error``, ``traceback`` text,
    ``str()``), so one record serves the prompt's ``errors()`` and a notebook's ``srv.errors``.
    """

    __slots__ = (
        "__weakref__",
        "_client",
        "_tb",
        "client_id",
        "exception",
        "handler_class",
        "held",
        "kind",
        "message",
        "method",
        "number",
        "outcome",
        "path",
        "peer",
        "traceback",
        "when",
    )

    level = "ERROR"

    def __init__(
        self,
        number: int,
        kind: str,
        client: Client,
        handler_class: str,
        method: str,
        exception: BaseException,
        tb: TracebackType | None,
        message: str,
    ) -> None:
        self.number = number
        #: ``"handler"`` (user code raised) or ``"server"`` (a fault in livews).
        self.kind = kind
        self.when = time.time()
        self._client = weakref.ref(client)
        #: The client's facts as they were (it may be gone when someone looks; before the handshake its
        #: number is 0 and its path empty).
        self.client_id = client.id
        self.path = client.path
        self.peer = f"{client.host}:{client.port}"
        self.handler_class = handler_class
        self.method = method
        self.exception = exception
        self.message = message
        #: The traceback as text, trimmed to the user's frames (all of it when none is the user's).
        self.traceback = user_traceback(exception, tb)
        self._tb: TracebackType | None = tb
        #: Whether the connection is held for the debugger now.
        self.held = False
        #: What became of the connection: "closed 1011", "held", "retried", "skipped", "closed while held"...
        self.outcome = ""

    # ----------------------------------------------------------------------------------- reading

    @property
    def client(self) -> Client | None:
        """The client, while something still holds it (a closed client is not kept alive by its record)."""
        return self._client()

    @property
    def error(self) -> str:
        """The exception line, as Python prints it (``ZeroDivisionError: division by zero``)."""
        return "".join(traceback.format_exception_only(type(self.exception), self.exception)).strip()

    @property
    def where(self) -> str:
        """``Class.method`` for a handler error, the livews callback for a server fault."""
        return f"{self.handler_class}.{self.method}" if self.handler_class else self.method

    @property
    def has_frames(self) -> bool:
        """Whether the frames are still kept (see the module docstring for which records keep them)."""
        return self._tb is not None

    def user_traceback(self) -> TracebackType | None:
        """The kept traceback from the first user frame on (livews's own frames above it left out)."""
        tb = self._tb
        first = tb
        while first is not None and not _is_user(first.tb_frame):
            first = first.tb_next
        return first if first is not None else tb

    @property
    def frames(self) -> list[FrameType]:
        """The user's frames, outermost first, as they were when the error was raised (empty once dropped)."""
        frames = []
        tb = self._tb
        while tb is not None:
            if _is_user(tb.tb_frame):
                frames.append(tb.tb_frame)
            tb = tb.tb_next
        return frames

    @property
    def locals(self) -> dict[str, Any]:
        """The locals of the innermost user frame (where it raised), or ``{}`` once frames are dropped."""
        frames = self.frames
        return dict(frames[-1].f_locals) if frames else {}

    # ----------------------------------------------------------------------------------- debugging

    def debug(
        self,
        commands: list[str] | None = None,
        *,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
    ) -> str | None:
        """Open a post-mortem debugger on this error's frames, in the calling thread.

        Interactive by default (IPython's debugger when IPython runs, else pdb), on ``sys.stdin`` and
        ``sys.stdout`` or on the ``stdin``/``stdout`` given (pdb then, e.g. a prompt attached over a socket).

        With ``commands``, pdb (the kernel's own under ipykernel, which replaces ``pdb.Pdb``) reads them
        instead of a terminal and its output is returned as plain text (colours removed): for a notebook cell
        without stdin, or a script.

        The frames have finished running, so reading them races with nothing; calling into live server
        objects from the debugger is not thread-safe (use the prompt's helpers for that).
        """
        tb = self.user_traceback()
        if tb is None:
            raise LookupError(
                f"error #{self.number} no longer keeps its frames "
                f"(only the last {KEEP_FRAMES} errors and those of held connections do)"
            )
        if commands is None and (stdin is not None or stdout is not None):
            import pdb

            _post_mortem(pdb.Pdb(stdin=stdin, stdout=stdout), tb)
            return None
        if commands is None:
            _post_mortem(_interactive_debugger_class()(), tb)
            return None
        import pdb

        script = io.StringIO("".join(f"{line}\n" for line in [*commands, "q"]))
        output = io.StringIO()
        debugger = pdb.Pdb(stdin=script, stdout=output)
        debugger.use_rawinput = False
        _post_mortem(debugger, tb)
        return _ANSI_COLOUR.sub("", output.getvalue())

    def _drop_frames(self) -> None:
        """Let go of the frames (and so their locals); the text stays."""
        self._tb = None
        exc: BaseException | None = self.exception
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            exc = exc.__cause__ or exc.__context__

    # ----------------------------------------------------------------------------------- text

    def summary(self) -> str:
        """One line: number, where, client, path, the exception, what became of the connection."""
        client = f"client {self.client_id} {self.path}" if self.client_id else self.peer
        outcome = f"; {self.outcome}" if self.outcome else ""
        return f"#{self.number} {self.where} ({client}): {self.error}{outcome}"

    def __str__(self) -> str:
        outcome = f" ({self.outcome})" if self.outcome else ""
        return f"livews: {self.message}{outcome}\n{self.traceback.rstrip()}"

    def __repr__(self) -> str:
        return f"<ErrorRecord {self.summary()}>"


class ErrorLog:
    """The server's bounded record of errors, newest last (see the module docstring for the bounds)."""

    def __init__(self, keep: int = KEEP_ERRORS, keep_frames: int = KEEP_FRAMES) -> None:
        self._records: deque[ErrorRecord] = deque(maxlen=max(keep, 1))
        self._keep_frames = keep_frames
        self._numbers = itertools.count(1)
        #: Called on the server loop with each new record (the live layer announces held connections).
        self.on_add: Callable[[ErrorRecord], object] | None = None

    def add(
        self,
        kind: str,
        client: Client,
        method: str,
        message: str,
        *,
        frames: bool = True,
        outcome: str = "",
    ) -> ErrorRecord:
        """Record the exception being handled now (call from an ``except`` block).

        ``frames=False`` keeps the text only; ``outcome`` says what becomes of the connection (``"held"``
        marks the record held, which keeps its frames until the hold ends).
        """
        _, exc, tb = sys.exc_info()
        assert exc is not None, "ErrorLog.add is called while an exception is handled"
        handler = client.handler if kind == "handler" else None
        handler_class = type(handler).__qualname__ if handler is not None else ""
        record = ErrorRecord(next(self._numbers), kind, client, handler_class, method, exc, tb, message)
        record.outcome = outcome
        record.held = outcome == "held"
        if not frames:
            record._drop_frames()
        self._records.append(record)
        self._bound()
        if self.on_add is not None:
            self.on_add(record)
        return record

    def _bound(self) -> None:
        kept = 0
        for record in reversed(self._records):
            if record._tb is None or record.held:
                continue
            kept += 1
            if kept > self._keep_frames:
                record._drop_frames()

    def released(self, record: ErrorRecord) -> None:
        """A hold ended: its record keeps its frames only if it is still among the newest."""
        if record not in self._records:
            record._drop_frames()  # pushed out of the log while held
        self._bound()

    def get(self, number: int) -> ErrorRecord:
        for record in self._records:
            if record.number == number:
                return record
        raise LookupError(f"no error #{number} (kept: {[r.number for r in self._records]})")

    def last(self) -> ErrorRecord:
        if not self._records:
            raise LookupError("no errors yet")
        return self._records[-1]

    def __iter__(self) -> Iterator[ErrorRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)


def user_traceback(exc: BaseException, tb: TracebackType | None) -> str:
    """The traceback without livews's own frames (the user's code is what matters), or all of it if none."""
    te = traceback.TracebackException(type(exc), exc, tb)
    user = [frame for frame in te.stack if not frame.filename.startswith(_LIVEWS_DIR)]
    if user:
        te.stack = traceback.StackSummary.from_list(user)
    return "".join(te.format())


def _post_mortem(debugger: Any, tb: TracebackType) -> None:
    """Run ``debugger`` on ``tb``, then give back the thread's trace function.

    pdb clears it when it continues or quits, which would silently end a coverage run's, a profiler's or an
    IDE's tracing of the thread that called ``debug()``.
    """
    trace = sys.gettrace()
    try:
        debugger.reset()
        debugger.interaction(None, tb)
    finally:
        sys.settrace(trace)


def _interactive_debugger_class() -> Any:
    """IPython's debugger when an IPython shell runs (never imported here otherwise), else pdb's."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    if get is not None and get() is not None:
        from IPython.core.debugger import Pdb as IPythonPdb

        return IPythonPdb
    import pdb

    return pdb.Pdb
