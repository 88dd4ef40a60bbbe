"""``python -m livews attach``: a ptpython prompt in this terminal, its statements run in a server process.

Finds the server's socket (``--port``, or the only server this user runs), checks it answers, and opens the
prompt: ptpython edits, highlights and validates locally; each statement is sent to the server, which runs it
in this prompt's namespace there and streams back what it printed; completion asks the server, so it sees
the names defined there. Ctrl-C interrupts the statement running on the server; Ctrl-D or ``exit()`` detach
and leave the server running. When a statement there reads input (pdb under ``pm()``), the line is read
here, from this terminal. The server's announcements (reloads, held clients) are printed as they come, above
the input line. Without a terminal the standard library's console does the same. On the port of a
``serve --workers N`` cluster the prompt is one over every worker (``livews.live.attach_cluster``).

Imports nothing of the server: everything it knows about one comes over the socket.
"""

from __future__ import annotations

import code
import codeop
import queue
import socket
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .attach import AttachError, Wire, live_servers, runtime_dir, socket_path

__all__ = ["attach", "find_server"]


def find_server(port: int | None = None, folder: Path | None = None) -> Path:
    """The socket of the server on ``port``, or of the only server this user runs; else why not."""
    folder = folder or runtime_dir()
    servers = live_servers(folder)
    if port is not None:
        if port not in servers:
            others = ", ".join(f"--port {p}" for p in servers) or "none"
            raise AttachError(
                f"no livews server of this user accepts prompts on port {port} (running: {others})"
            )
        return servers[port]
    if not servers:
        raise AttachError(
            f"no livews server of this user is running (looked in {folder}); start one with "
            "`python -m livews serve`"
        )
    if len(servers) > 1:
        ports = ", ".join(f"--port {p}" for p in servers)
        raise AttachError(f"{len(servers)} livews servers are running; choose one: {ports}")
    return next(iter(servers.values()))


class _Connection:
    """The prompt's end of the socket: run a statement, stream its output here, ask for completions."""

    def __init__(self, path: Path) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except OSError as exc:
            sock.close()
            raise AttachError(f"cannot attach to {path}: {exc.strerror or exc}") from None
        self.wire = Wire(sock)
        hello = self.wire.receive()
        if hello is None or "banner" not in hello:
            reason = (hello or {}).get("refused", "the server closed the connection")
            self.wire.close()
            raise AttachError(f"attach refused: {reason}")
        self.banner = str(hello["banner"])
        self.gone = False
        self.abandoned = False
        self._inbox: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        threading.Thread(target=self._read, name="livews-attach-inbox", daemon=True).start()

    def _read(self) -> None:
        """Print announcements as they come; queue every other message for the statement waiting."""
        while True:
            message = self.wire.receive()
            if message is not None and "note" in message:
                print(message["note"], flush=True)
                continue
            self._inbox.put(message)
            if message is None:
                return

    def _next(self) -> dict[str, Any] | None:
        while True:
            try:  # with a timeout, so Ctrl-C is taken while waiting
                return self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue

    def _answer(self) -> None:
        """The statement on the server reads a line (pdb): read it from this terminal and send it."""
        try:
            line: str | None = input()
        except (EOFError, KeyboardInterrupt):
            line = None  # end of input: pdb leaves
            print()
        try:
            self.wire.send(op="line", text=line)
        except OSError:
            pass

    def run(self, source: str) -> bool:
        """Run ``source`` on the server, printing what it prints; ``False`` once the prompt should end."""
        try:
            self.wire.send(op="run", code=source)
        except OSError:
            self.gone = True
            return False
        interrupted = False
        while True:
            try:
                message = self._next()
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C while waiting: leave the statement to itself, detach
                    self.abandoned = True
                    return False
                interrupted = True
                try:
                    self.wire.send(op="interrupt")
                except OSError:
                    pass
                continue
            if message is None:
                self.gone = True
                return False
            if "out" in message:
                sys.stdout.write(message["out"])
                sys.stdout.flush()
            elif "err" in message:
                sys.stderr.write(message["err"])
                sys.stderr.flush()
            elif message.get("input"):
                self._answer()
            elif message.get("exit"):
                return False
            elif message.get("done"):
                return True

    def complete(self, text: str) -> list[str]:
        try:
            self.wire.send(op="complete", text=text)
        except OSError:
            return []
        while True:
            message = self._next()
            if message is None:
                return []
            if "completions" in message:
                return [str(word) for word in message["completions"]]

    def close(self) -> None:
        self.wire.close()


def attach(port: int | None = None, *, ptpython: bool | None = None) -> int:
    """Attach a prompt to a running server until the user detaches; return the exit code."""
    try:
        connection = _cluster(port) or _Connection(find_server(port) if port is None else _checked(port))
    except AttachError as exc:
        print(f"livews: {exc}", file=sys.stderr)
        return 1
    print(connection.banner, flush=True)
    use_pt = sys.stdin.isatty() and sys.stdout.isatty() if ptpython is None else ptpython
    try:
        if use_pt:
            _ptpython(connection)
        else:
            _Console(connection).interact(banner="", exitmsg="")
    except SystemExit:
        pass
    finally:
        connection.close()
    if connection.gone:
        print("the server went away.", flush=True)
        return 1
    if connection.abandoned:
        print("detached; the statement may still be running in the server.", flush=True)
        return 0
    print("detached; the server keeps running.", flush=True)
    return 0


def _cluster(port: int | None) -> _Connection | None:
    """A prompt over every worker when ``port`` (or the only server running) is a ``--workers`` cluster."""
    from .attach_cluster import ClusterPrompt, cluster_sockets

    clusters = cluster_sockets()
    if port is None and clusters:
        ports = sorted([*clusters, *live_servers()])
        if len(ports) > 1:
            choices = ", ".join(f"--port {p}" for p in ports)
            raise AttachError(f"{len(ports)} livews servers are running; choose one: {choices}")
        port = ports[0]
    return ClusterPrompt(port) if port in clusters else None


def _checked(port: int) -> Path:
    path = socket_path(port)
    if not path.exists():
        return find_server(port)
    return path


def _ptpython(connection: _Connection) -> None:
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.document import Document
    from prompt_toolkit.patch_stdout import patch_stdout
    from ptpython.repl import PythonRepl, ReplExit

    class RemoteCompleter(Completer):
        def get_completions(self, document: Document, complete_event: Any) -> Iterable[Completion]:
            before = document.text_before_cursor
            token = _last_token(before)
            if not token:
                return
            for word in connection.complete(before):
                yield Completion(word, start_position=-len(token))

    class RemoteRepl(PythonRepl):
        def read(self) -> str:
            with patch_stdout():  # an announcement printed while the user types goes above the input line
                return super().read()

        def run_and_show_expression(self, expression: str) -> None:
            if not expression.strip():
                return
            if not connection.run(expression):
                raise ReplExit
            self.current_statement_index += 1

    local: dict[str, Any] = {}  # ptpython keeps its own names here; statements never run in it
    repl = RemoteRepl(get_globals=lambda: local, _completer=RemoteCompleter())
    repl.show_signature = False
    repl.show_docstring = False
    repl.enable_history_search = False
    repl.terminal_title = "livews attach"
    repl.run()


def _last_token(text: str) -> str:
    end = len(text)
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
        start -= 1
    return text[start:end]


class _Console(code.InteractiveConsole):
    """The console without a terminal: lines are gathered locally, each complete statement runs remotely."""

    def __init__(self, connection: _Connection) -> None:
        super().__init__()
        self.connection = connection
        self.compile = codeop.CommandCompiler()

    def runsource(self, source: str, filename: str = "<input>", symbol: str = "single") -> bool:
        try:
            if self.compile(source, filename, symbol) is None:
                return True  # more lines to come
        except (SyntaxError, OverflowError, ValueError):
            pass  # the server reports it, as it would any error
        if not self.connection.run(source):
            raise SystemExit
        return False
