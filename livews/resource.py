"""Resources: what is served at a path, by which handler class, for which origins, under which limits.

Pure Python. The server asks the resource table two things, ``resolve(path)`` and an iteration of its
resources (for its URLs); the live layer hands it an editable table that does the same. A resource path
may be a pattern (``/rooms/{room}``, see ``patterns.py``); tables try exact paths first, in a dict, and
refuse two resources that could both match one path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .engine.limits import MessageLimits
from .patterns import PathPattern, compile_path

if TYPE_CHECKING:
    from .engine.deflate import DeflateConfig
    from .engine.interface import UpgradeRequest
    from .handler import Handler

__all__ = [
    "OriginPolicy",
    "Reject",
    "Resource",
    "ResourceTable",
    "Resources",
    "any_origin",
    "clash_message",
    "origin_exact",
    "origin_prefix",
]

_DEFAULT_LIMITS = MessageLimits()


class Reject(Exception):
    """Raise from a resource's ``on_connect`` to refuse a client with an HTTP status (default 403)."""

    def __init__(self, reason: str = "connection refused", status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class OriginPolicy:
    """A named check of the ``Origin`` header; a failed check answers 403."""

    __slots__ = ("_check", "description")

    def __init__(self, description: str, check: Callable[[str | None], bool]) -> None:
        self.description = description
        self._check = check

    def __call__(self, origin: str | None) -> bool:
        return self._check(origin)

    def __repr__(self) -> str:
        return self.description


def any_origin() -> OriginPolicy:
    """Accept every origin, and clients that send none."""
    return OriginPolicy("any origin", lambda origin: True)


def origin_prefix(*prefixes: str) -> OriginPolicy:
    """Accept origins starting with one of ``prefixes`` (e.g. ``"https://example.com"``)."""
    return OriginPolicy(
        "origin starts with " + " or ".join(prefixes),
        lambda origin: origin is not None and origin.startswith(prefixes),
    )


def origin_exact(*origins: str) -> OriginPolicy:
    """Accept only these exact origins."""
    allowed = frozenset(origins)
    return OriginPolicy("origin is " + " or ".join(origins), lambda origin: origin in allowed)


@dataclass(eq=False)
class Resource:
    """A path served by ``handler`` (a ``Handler`` subclass, instantiated once per connection).

    path: an exact path (``/chat``) or a pattern whose ``{name}`` segments match one path segment each
        (``/rooms/{room}``); the handler reads the values in ``self.client.path_params``.
    origin: an origin policy (``any_origin()``, ``origin_prefix(...)``, ``origin_exact(...)``).
    subprotocols: the server's subprotocols in order of preference (the first the client offers is chosen),
        or ``callable(offered: list[str]) -> str | None`` that picks one of the offered names itself.
    max_clients: connections at once on this path; one more is answered 503.
    max_frame_size / max_message_size / max_frame_count: this path's message limits (see ``MessageLimits``,
        kept in ``limits``); a client over them is closed with 1009. ``max_payload_length`` is
        cl-websocket's name for ``max_message_size``. Handshake limits are the server's
        (``Server(limits=...)``).
    on_connect: ``callable(request)`` run before accepting; raise ``Reject`` (or return False: 403) to refuse.
    compression: a ``DeflateConfig``, ``True`` for the defaults, or ``False``/``None`` to turn
        permessage-deflate off for this path.
    write_limit / max_write_buffer: this path's write-buffer high-water mark and hard limit (see ``Server``);
        ``None`` uses the server's.
    http: ``callable(request) -> Response | None`` answering a plain HTTP request (no ``Upgrade``) for this
        path, asked before the server's hook (``livews.server.http``).
    response_headers: ``callable(request) -> headers`` (pairs or a mapping) added to this path's 101
        response, after the server's (e.g. ``Set-Cookie``).
    observer: ``callable(client, message)`` shown every message a client sends on this path (``str`` or
        ``bytes``), on the server loop, before the handler gets it; it must return quickly. For tools that
        watch traffic (a notebook's ``next_message``): the handler stays an instance of its own class, and
        paths without an observer pay nothing for it (``livews.server.observe``).
    """

    path: str
    handler: type[Handler]
    origin: Callable[[str | None], bool] = field(default_factory=any_origin)
    subprotocols: Sequence[str] | Callable[[list[str]], str | None] = ()
    max_clients: int | None = None
    max_frame_size: int | None = _DEFAULT_LIMITS.max_frame_size
    max_message_size: int | None = _DEFAULT_LIMITS.max_message_size
    max_frame_count: int | None = _DEFAULT_LIMITS.max_frame_count
    on_connect: Callable[[UpgradeRequest], Any] | None = None
    compression: DeflateConfig | bool | None = True
    write_limit: int | None = None
    max_write_buffer: int | None = None
    http: Callable[[Any], Any] | None = None
    response_headers: Callable[[UpgradeRequest], Any] | None = None
    max_payload_length: InitVar[int | None] = None
    observer: Callable[[Any, str | bytes], object] | None = field(default=None, repr=False)
    limits: MessageLimits = field(init=False, repr=False)
    pattern: PathPattern = field(init=False, repr=False)

    def __post_init__(self, max_payload_length: int | None) -> None:
        self.pattern = compile_path(self.path)  # ValueError for a path that is not one
        if max_payload_length is not None:
            self.max_message_size = max_payload_length
        self.limits = MessageLimits(
            max_frame_size=self.max_frame_size,
            max_message_size=self.max_message_size,
            max_frame_count=self.max_frame_count,
        )

    def path_params(self, path: str) -> dict[str, str]:
        """The pattern's parameters in ``path`` (a path this resource serves), percent-decoded."""
        return self.pattern.match(path) or {}


class ResourceTable(Protocol):
    """What the server needs of a resource table: the resource for a requested path, and every resource
    served (plain ``Resource`` objects, whatever the table keeps beside them)."""

    def resolve(self, path: str) -> Resource | None: ...

    def __iter__(self) -> Iterator[Resource]: ...


class Resources:
    """A path -> resource table: exact paths in a dict, looked up first; patterns tried in turn after."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._by_path: dict[str, Resource] = {}
        self._patterns: list[Resource] = []
        self._all: list[Resource] = []
        for item in resources:
            self.add(item)

    def add(self, resource: Resource) -> None:
        """Serve ``resource``; ``ValueError`` naming both if another one could match the same path."""
        for other in self._all:
            if other.pattern.overlaps(resource.pattern):
                raise ValueError(clash_message(resource, other))
        self._all.append(resource)
        if resource.pattern.is_exact:
            self._by_path[resource.path] = resource
        else:
            self._patterns.append(resource)

    def resolve(self, path: str) -> Resource | None:
        found = self._by_path.get(path)
        if found is not None or not self._patterns:
            return found
        for resource in self._patterns:
            if resource.pattern.match(path) is not None:
                return resource
        return None

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._all))

    def __len__(self) -> int:
        return len(self._all)


def clash_message(resource: Any, other: Any) -> str:
    """Why two resources may not be served together, naming both paths and handler classes."""
    if resource.path == other.path:
        return f"two resources for path {resource.path!r}: {_named(other)} and {_named(resource)}"
    return f"{_named(resource)} and {_named(other)} can both match the same path"


def _named(resource: Any) -> str:
    return f"{resource.path!r} ({getattr(resource.handler, '__qualname__', resource.handler)})"
