"""The handler: one instance per connection, whose methods the server calls as events arrive.

Pure Python and I/O-free: a handler talks to its peer only through ``self.client``. The ``resource`` decorator
only marks a class; whoever loads a handler file calls ``collect`` on it, so no global registry is hidden here
and the same file can be loaded again later (hot reload).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from .engine.codes import CloseCode
from .patterns import compile_path

if TYPE_CHECKING:
    from .resource import Resource
    from .server.client import Client

__all__ = ["Handler", "collect", "resource"]

_MARK = "__livews_resource__"
H = TypeVar("H", bound=type)


class Handler:
    """Subclass and override what you need; each method may be plain or ``async``.

    Events reach one handler in order: an ``async`` method finishes before the next event is delivered.
    A method that raises is logged with its traceback and the connection closes with 1011; nothing else is
    disturbed. ``on_close`` is called exactly once, last.
    Optional ``on_reload(self, old_cls)`` runs after a hot reload moved this instance to a new class.
    """

    client: Client

    def on_open(self) -> Any:
        """The handshake is done; ``self.client`` is ready."""

    def on_text(self, message: str) -> Any:
        """A complete text message arrived."""

    def on_binary(self, payload: bytes) -> Any:
        """A complete binary message arrived."""

    def on_pong(self, payload: bytes) -> Any:
        """A pong arrived (an answer to ``ping`` or unsolicited)."""

    def on_close(self, code: int, reason: str) -> Any:
        """The connection ended with this code and reason (the peer's, 1006 if it vanished, or ours)."""

    # Shortcuts to the client.

    def send_text(self, text: str, *, frame_size: int | None = None, compress: bool = True) -> None:
        if frame_size is None and compress:
            self.client.send_text(text)  # the usual call: no defaults passed on by keyword
        else:
            self.client.send_text(text, frame_size=frame_size, compress=compress)

    def send_binary(self, data: bytes, *, frame_size: int | None = None, compress: bool = True) -> None:
        if frame_size is None and compress:
            self.client.send_binary(data)  # the usual call: no defaults passed on by keyword
        else:
            self.client.send_binary(data, frame_size=frame_size, compress=compress)

    def ping(self, payload: bytes = b"") -> None:
        self.client.ping(payload)

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        self.client.close(code, reason)

    @property
    def resource(self) -> Resource:
        return self.client.resource

    def send(self, message: str | bytes) -> None:
        """Send text (``str``) or binary (``bytes``)."""
        self.client.send(message)

    def others(self) -> list[Client]:
        """The other open clients connected to this handler's resource path (a snapshot list)."""
        return self.client.others()

    # Groups: members on every node sharing the server's bus (see ``livews.publish``).

    def join(self, group: str) -> None:
        """Join ``group``; a closed connection leaves all of its groups."""
        self.client.server.groups.join(self.client, group)

    def leave(self, group: str) -> None:
        self.client.server.groups.leave(self.client, group)

    def publish(self, group: str, message: str | bytes) -> int:
        """Send to every member of ``group`` on every node (this one too); returns the local count."""
        return self.client.server.groups.publish(group, message)


def resource(path: str, **options: Any) -> Callable[[H], H]:
    """Mark a ``Handler`` subclass to be served at ``path`` with ``Resource`` options."""
    compile_path(path)  # ValueError now, at the decorator, for a path that is not one

    def mark(cls: H) -> H:
        setattr(cls, _MARK, (path, options))
        return cls

    return mark


def collect(module: ModuleType | dict[str, Any]) -> list[Resource]:
    """The resources a handler file declares, in the order they appear in it.

    Two spellings are collected: classes marked with ``@resource`` that the module defines (not those it
    imports), and ``Resource`` objects bound to module globals (``chat = Resource("/chat", Chat)``).
    """
    from .resource import Resource

    namespace = module if isinstance(module, dict) else vars(module)
    name = namespace.get("__name__")
    found: list[Resource] = []
    for value in list(namespace.values()):
        if isinstance(value, type) and _MARK in value.__dict__ and value.__module__ == name:
            path, options = value.__dict__[_MARK]
            found.append(Resource(path, value, **options))
        elif isinstance(value, Resource) and not any(r is value for r in found):
            found.append(value)
    return found
