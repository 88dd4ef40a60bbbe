"""The server side of ``python -m livews attach``: prompts from other terminals, run in this process.

``AttachServer(live)`` listens on ``<runtime dir>/<port>.sock`` (see ``livews.live.attach``). Each prompt
that connects, once its peer credentials pass, gets a session: its own namespace (the same helpers as the
local prompt, bound to this server), a thread that reads its requests, and a thread that runs its statements
one at a time. Statements run exactly as at the local prompt, off the server loop: helpers hop onto the loop
and wait, so a long statement holds up only its own prompt, never the clients or the other prompts.

What a statement prints (``print``, ``help()``, the repr of an expression, a traceback) goes back to its
prompt: ``sys.stdout`` and ``sys.stderr`` are replaced while the attach server runs by streams that write to
the session of the thread writing, and to the original stream for every other thread. Leaving a prompt
(Ctrl-D, ``exit()``) ends its session only; ``close()`` ends every session and removes the socket.

The debugging helpers work there as at the local prompt: ``pm()`` runs pdb on the session's own thread with
the prompt's terminal as its stdin/stdout (each line pdb wants is asked of the prompt over the socket), so
the server loop and the other prompts go on. The server's announcements (reload reports, a client held
after a handler error) are sent to every attached prompt, which prints them above its input line.
"""

from __future__ import annotations

import ast
import ctypes
import logging
import os
import queue
import re
import rlcompleter
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol, TextIO, cast

from .attach import AttachError, Wire, answers, peer_allowed, peer_of, socket_path
from .debug import prompt_helpers
from .handle import LiveServer
from .tracebacks import format_error

__all__ = ["AttachServer", "complete", "run_statement"]

_log = logging.getLogger("livews.live")
_TOKEN = re.compile(r"[A-Za-z_][\w.]*$")
_MAX_COMPLETIONS = 200


class Writer(Protocol):
    """Where a statement's output goes: a text stream, or a prompt's end of the socket."""

    def write(self, text: str, /) -> int: ...


class AttachServer:
    """Accepts prompts on a Unix socket for one running :class:`LiveServer` (see the module docstring)."""

    def __init__(
        self,
        live: LiveServer,
        path: Path | None = None,
        *,
        extend: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.live = live
        self.path = path or socket_path(live.port)
        self.extend = extend  # adds to each session's namespace (a worker's cluster helpers)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._sessions: set[_Session] = set()
        self._lock = threading.Lock()
        self._streams: tuple[TextIO, TextIO] | None = None

    def start(self) -> AttachServer:
        """Listen (mode 0600), replacing a stale socket; refuse if another server owns the name."""
        if self.path.exists() or self.path.is_symlink():
            if answers(self.path):
                raise AttachError(f"another server already accepts prompts on {self.path}")
            self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)
            listener.listen(8)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = _Routed(sys.stdout, "out")
        sys.stderr = _Routed(sys.stderr, "err")
        self._thread = threading.Thread(target=self._accept, name="livews-attach", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, end every session (their prompts are told), remove the socket."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()
        self.path.unlink(missing_ok=True)
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.end()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None

    @property
    def sessions(self) -> int:
        """Prompts attached now."""
        with self._lock:
            return len(self._sessions)

    def __enter__(self) -> AttachServer:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            listener = self._listener
            if listener is None:
                return
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            try:
                peer = peer_of(sock)
            except OSError:
                sock.close()
                continue
            wire = Wire(sock)
            if not peer_allowed(peer):
                _log.warning("attach refused: uid %d (pid %d) is not uid %d", peer.uid, peer.pid, os.getuid())
                try:
                    wire.send(refused=f"uid {peer.uid} may not attach to a server of uid {os.getuid()}")
                except OSError:
                    pass
                wire.close()
                continue
            session = _Session(self, wire)
            with self._lock:
                self._sessions.add(session)
            session.start()

    def _ended(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)


class _Session:
    """One attached prompt: its namespace, a reader thread and a thread running its statements in order."""

    def __init__(self, owner: AttachServer, wire: Wire) -> None:
        from .repl import namespace

        self.owner = owner
        self.wire = wire
        self.namespace = namespace(owner.live, attached=True)
        self.streams = {"out": _Remote(self, "out"), "err": _Remote(self, "err")}
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # answers to an input request
        # pdb reads and writes only lines, which is all these two streams do (hence the casts).
        terminal = (cast(IO[str], _RemoteInput(self)), cast(IO[str], self.streams["out"]))
        self.namespace.update(prompt_helpers(owner.live, stdin=terminal[0], stdout=terminal[1]))
        self._notes: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        if owner.extend is not None:
            owner.extend(self.namespace)
        self._statements: list[str | None] = []
        self._ready = threading.Condition()
        self._runner: threading.Thread | None = None
        self._running = False
        self._gone = False
        self._unlisten: Any = None

    def start(self) -> None:
        from .repl import banner

        try:
            self.wire.send(banner=banner(self.owner.live, attached=True))
        except OSError:
            self.end()
            return
        threading.Thread(target=self._read, name="livews-attach-read", daemon=True).start()
        threading.Thread(target=self._tell, name="livews-attach-note", daemon=True).start()
        self._unlisten = self.owner.live.listen(self._notes.put)
        self._runner = threading.Thread(target=self._run, name="livews-attach-run", daemon=True)
        self._runner.start()

    def end(self) -> None:
        self._gone = True
        if self._unlisten is not None:
            self._unlisten()
        self.wire.close()
        self._notes.put(None)
        self._lines.put(None)
        with self._ready:
            self._statements.append(None)
            self._ready.notify()
        self.owner._ended(self)

    def _read(self) -> None:
        while True:
            message = self.wire.receive()
            if message is None:
                break
            op = message.get("op")
            if op == "run":
                with self._ready:
                    self._statements.append(str(message.get("code", "")))
                    self._ready.notify()
            elif op == "complete":
                self._send(completions=complete(str(message.get("text", "")), self.namespace))
            elif op == "interrupt":
                self._interrupt()
            elif op == "line":
                line = message.get("text")
                self._lines.put(None if line is None else str(line))
        self.end()

    def _tell(self) -> None:
        """Send the server's announcements to the prompt, off the loop that made them."""
        while True:
            line = self._notes.get()
            if line is None or not self._send(note=line):
                return

    def read_line(self) -> str:
        """Ask the prompt for one line of input (pdb's); ``""`` (end of input) once it is gone."""
        if self._gone or not self._send(input=True):
            return ""
        while True:
            try:  # with a timeout, so an interrupt from the prompt lands in this thread
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            return "" if line is None else line + "\n"

    def _run(self) -> None:
        streams = self.streams
        _local.streams = streams
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._statements))
                code = self._statements.pop(0)
            if code is None:
                return
            self._running = True
            try:
                leave = run_statement(code, self.namespace, streams["out"], streams["err"])
            except KeyboardInterrupt:  # an interrupt that landed outside the statement itself
                streams["err"].write("KeyboardInterrupt\n")
                leave = False
            finally:
                self._running = False
            if not (self._send(exit=True) if leave else self._send(done=True)):
                return

    def _interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` in the statement running (Python delivers it at its next bytecode)."""
        runner = self._runner
        if runner is not None and runner.ident is not None and self._running:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(runner.ident), ctypes.py_object(KeyboardInterrupt)
            )

    def _send(self, **message: Any) -> bool:
        try:
            self.wire.send(**message)
        except OSError:
            return False
        return True


def run_statement(code: str, namespace: dict[str, Any], out: Writer, err: Writer) -> bool:
    """Run what was typed as the interactive prompt would; return ``True`` if it asked to leave.

    A trailing expression's repr is written to ``out`` (and kept in ``_``); an error to ``err``, in one
    line when a helper refused its arguments.
    """
    try:
        tree = ast.parse(code, "<attach>", "exec")
    except SyntaxError as exc:
        err.write(format_error(exc.with_traceback(None)))
        return False
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = tree.body[:-1] if last is not None else tree.body
    try:
        if body:
            exec(compile(ast.Module(body=body, type_ignores=[]), "<attach>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(body=last.value), "<attach>", "eval"), namespace)
            if value is not None:
                namespace["_"] = value
                out.write(repr(value) + "\n")
    except SystemExit:
        return True
    except BaseException as exc:
        err.write(format_error(exc, skip=1))
    return False


def complete(text: str, namespace: dict[str, Any]) -> list[str]:
    """Names and attributes completing the last identifier of ``text`` in ``namespace`` (rlcompleter's)."""
    match = _TOKEN.search(text)
    token = match.group(0) if match else ""
    if not token:
        return []
    completer = rlcompleter.Completer(namespace)
    found: list[str] = []
    for state in range(_MAX_COMPLETIONS):
        try:
            word = completer.complete(token, state)
        except Exception:
            break
        if word is None:
            break
        word = word.rstrip("(")
        if word not in found:
            found.append(word)
    return found


_local = threading.local()


class _Routed:
    """Stands in for ``sys.stdout``/``sys.stderr``: a session thread writes to its prompt, others pass."""

    def __init__(self, default: TextIO, kind: str) -> None:
        self._default = default
        self._kind = kind

    def _target(self) -> TextIO:
        streams = getattr(_local, "streams", None)
        return streams[self._kind] if streams is not None else self._default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._default, name)


class _RemoteInput:
    """The prompt's terminal as a text stream to read lines from (pdb's stdin at an attached prompt)."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, session: _Session) -> None:
        self._session = session

    def readline(self, size: int = -1, /) -> str:
        return self._session.read_line()

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return True


class _Remote:
    """A text stream whose writes go to an attached prompt."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, session: _Session, kind: str) -> None:
        self._session = session
        self._kind = kind

    def write(self, text: str) -> int:
        if text:
            self._session._send(**{self._kind: text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True
