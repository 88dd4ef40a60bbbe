"""Debugging handler errors from the prompt: ``errors()``, ``pm()``, ``retry()``, ``skip()``, ``kick()``.

The server keeps every handler error (and every fault of livews itself) in a bounded log, the newest with
their frames (``livews.server.errors``); with ``debug_on_error`` it holds the connection of a handler that
raised instead of closing it (``livews.server.hold``). This module turns that into words for a person:

- ``ErrorTable``: the records as a table (number, time, client, path, where, error, what became of it);
- ``prompt_helpers(server)``: plain functions bound to a :class:`LiveServer`, for any prompt's namespace
  (the ptpython prompt, an attached one): ``errors()``, ``pm(n=None)``, ``held()``, ``retry(client)``,
  ``skip(client)``, ``kick(client, code=None, reason="")``;
- ``announcement(record)``: the line a prompt prints when a connection is held (or a fault is offered to pm).

``pm`` runs pdb in the calling (prompt) thread on frames that finished running on the server thread; the
server loop and every other client go on meanwhile. Only the held connection waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ..server.errors import ErrorRecord
from .introspect import Column, Table

if TYPE_CHECKING:
    from .handle import LiveServer

__all__ = ["DEBUG_HELP", "ErrorTable", "announcement", "prompt_helpers"]

DEBUG_HELP = """\
  errors()                        recent handler errors: #, time, client, path, Class.method, error, outcome
  pm(n=None)                      pdb on error #n (default: the last), in the handler's frames as they were
  held()                          clients held after a handler error (with debug on error)
  retry(client) / skip(client)    deliver the failed event again (to the current code) / drop it; go on
  kick(client, code=None, reason="")   close a client (a held one with 1011 by default, others 1000)"""


class ErrorTable(Table[ErrorRecord]):
    """Handler errors and server faults, oldest first; ``str(row)`` has the user's traceback."""

    noun = "error"
    columns = (
        Column("#", lambda r: r.number, numeric=True),
        Column("when", lambda r: _clock(r.when)),
        Column("client", lambda r: r.client_id or r.peer, numeric=True),
        Column("path", lambda r: r.path),
        Column("where", lambda r: r.where),
        Column("error", lambda r: _short(r.error)),
        Column("frames", lambda r: "kept" if r.has_frames else ""),
        Column("outcome", lambda r: r.outcome),
    )


def announcement(record: ErrorRecord, *, notebook: bool = False) -> str | None:
    """The line to print when ``record`` is added: for a held connection or a fault kept for pm; else None.

    At a prompt it names the prompt's helpers; in a notebook (``notebook=True``) the handle's methods.
    """
    n, c = record.number, record.client_id
    if record.held and notebook:
        return (
            f"error #{n}: {record.where} raised {record.error}; client {c} on {record.path} is held. "
            f"Debug with <server>.errors[-1].debug(), fix the class, then <server>.retry({c}), "
            f".skip({c}) or .kick({c})"
        )
    if record.held:
        return (
            f"error #{n}: {record.where} raised {record.error}; client {c} on {record.path} is held. "
            f"pm({n}) to debug, fix the code, then retry({c}), skip({c}) or kick({c})"
        )
    if record.kind == "server" and record.has_frames:
        return (
            f"error #{record.number}: livews fault in {record.method} ({record.error}); pm({record.number})"
        )
    return None


def prompt_helpers(
    server: LiveServer, *, stdin: IO[str] | None = None, stdout: IO[str] | None = None
) -> dict[str, Callable[..., Any]]:
    """The debugging helpers bound to ``server``, by the names a prompt offers them under.

    ``pm`` debugs on ``stdin``/``stdout`` when given (a prompt whose terminal is not this process's, such
    as one attached over a socket), else on the process's own. It must be called from the prompt's own
    thread, never from the server loop's: pdb waits for the person.
    """

    def errors() -> ErrorTable:
        """Recent handler errors and server faults (the last 100), oldest first."""
        return server.error_records()

    def pm(n: int | None = None) -> None:
        """Post-mortem pdb on error ``n`` (its number in ``errors()``; the last one by default)."""
        server.error(n).debug(stdin=stdin, stdout=stdout)

    def held() -> Any:
        """The clients held after a handler error."""
        return server.held()

    def retry(client: Any) -> None:
        """Deliver the held client's failed event again, to the code as it is now, then what waited."""
        server.retry(client)

    def skip(client: Any) -> None:
        """Drop the held client's failed event and deliver what waited behind it."""
        server.skip(client)

    def kick(client: Any, code: int | None = None, reason: str = "") -> None:
        """Close a client (a ``Client`` or its id): a held one with 1011 by default, any other with 1000."""
        server.kick(client, code, reason)

    return {"errors": errors, "pm": pm, "held": held, "retry": retry, "skip": skip, "kick": kick}


def _clock(when: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(when))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
