"""The messages a notebook records for ``next_message``: the record, its table, and a thread-safe inbox.

Clients' messages are put on the server thread; a cell takes them on the kernel thread, blocking
(``concurrent.futures.Future.result``) or awaiting (``asyncio.wrap_future``). The inbox is bounded: the oldest
message goes first when it is full.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .introspect import Column, Table, format_clock

if TYPE_CHECKING:
    from .handle import LiveServer

__all__ = ["Inbox", "Message", "MessageTable"]


@dataclass(frozen=True)
class Message:
    """One message a client sent to a resource registered through the handle."""

    path: str
    data: str | bytes
    client: Any = field(repr=False)
    received_at: float = field(repr=False)
    _handle: LiveServer | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "text" if isinstance(self.data, str) else "binary"

    def reply(self, message: str | bytes) -> None:
        """Send ``message`` back to the client that sent this one."""
        if self._handle is None:
            raise RuntimeError("this message has no server to reply through")
        self._handle.send(self.client, message)

    def __repr__(self) -> str:
        return f"<Message {self.path} from {_peer(self.client)}: {_short(self.data)}>"


class MessageTable(Table[Message]):
    """Messages waiting for ``next_message``, oldest first."""

    noun = "message"
    columns = (
        Column("path", lambda m: m.path),
        Column("from", lambda m: _peer(m.client)),
        Column("kind", lambda m: m.kind),
        Column("data", lambda m: _short(m.data)),
        Column("received", lambda m: format_clock(m.received_at)),
    )


class Inbox:
    """Messages received and not yet taken, and callers waiting for one; safe from any thread."""

    def __init__(self, backlog: int) -> None:
        self._lock = threading.Lock()
        self._items: deque[Message] = deque(maxlen=max(backlog, 1))
        self._waiters: list[tuple[str | None, concurrent.futures.Future[Message]]] = []
        self._closed = False

    def put(self, message: Message, *, front: bool = False) -> None:
        with self._lock:
            for entry in list(self._waiters):
                wanted, future = entry
                if wanted is not None and wanted != message.path:
                    continue
                self._waiters.remove(entry)
                if future.set_running_or_notify_cancel():
                    future.set_result(message)
                    return
            if front:
                self._items.appendleft(message)
            else:
                self._items.append(message)

    def take(self, path: str | None) -> concurrent.futures.Future[Message]:
        """A future for the oldest message on ``path`` (any path for ``None``), resolved now if one waits."""
        future: concurrent.futures.Future[Message] = concurrent.futures.Future()
        with self._lock:
            for i, message in enumerate(self._items):
                if path is None or message.path == path:
                    del self._items[i]
                    future.set_result(message)
                    return future
            if self._closed:
                future.set_exception(RuntimeError("the server is stopped and no message is waiting"))
                return future
            self._waiters.append((path, future))
        return future

    def peek(self, path: str | None) -> list[Message]:
        with self._lock:
            return [m for m in self._items if path is None or m.path == path]

    def clear(self, path: str | None) -> int:
        with self._lock:
            keep = [m for m in self._items if path is not None and m.path != path]
            dropped = len(self._items) - len(keep)
            self._items.clear()
            self._items.extend(keep)
            return dropped

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("the server stopped before a message came"))

    def abandon(self, future: concurrent.futures.Future[Message]) -> None:
        """The caller gave up on ``future``: withdraw it, or put back the message it already holds."""
        if future.cancel():
            return
        if future.done() and future.exception() is None:
            self.put(future.result(), front=True)


def _peer(client: Any) -> str:
    return f"{getattr(client, 'host', '?')}:{getattr(client, 'port', '?')}"


def _short(data: str | bytes, limit: int = 60) -> str:
    text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."
