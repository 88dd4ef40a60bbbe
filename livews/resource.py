"""Resources: what is served at a path, by which handler class, for which origins, under which limits.

Pure Python. The server asks the resource table one thing, ``resolve(path)``; the live layer swaps in an
editable table with the same method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .engine.limits import Limits

if TYPE_CHECKING:
    from .engine.deflate import DeflateConfig
    from .engine.handshake import Request
    from .handler import Handler

__all__ = [
    "OriginPolicy",
    "Reject",
    "Resource",
    "ResourceTable",
    "Resources",
    "any_origin",
    "origin_exact",
    "origin_prefix",
]

_DEFAULT_LIMITS = Limits()


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

    origin: an origin policy (``any_origin()``, ``origin_prefix(...)``, ``origin_exact(...)``).
    subprotocols: the server's subprotocols in order of preference (the first the client offers is chosen),
        or ``callable(offered: list[str]) -> str | None`` that picks one of the offered names itself.
    max_clients: connections at once on this path; one more is answered 503.
    max_frame_size / max_message_size / max_frame_count: limits (see ``Limits``); a client over them is
        closed with 1009. ``max_payload_length`` is cl-websocket's name for ``max_message_size``.
    on_connect: ``callable(request)`` run before accepting; raise ``Reject`` (or return False: 403) to refuse.
    compression: a ``DeflateConfig``, ``True`` for the defaults, or ``False``/``None`` to turn
        permessage-deflate off for this path.
    write_limit / max_write_buffer: this path's write-buffer high-water mark and hard limit (see ``Server``);
        ``None`` uses the server's.
    """

    path: str
    handler: type[Handler]
    origin: Callable[[str | None], bool] = field(default_factory=any_origin)
    subprotocols: Sequence[str] | Callable[[list[str]], str | None] = ()
    max_clients: int | None = None
    max_frame_size: int | None = _DEFAULT_LIMITS.max_frame_size
    max_message_size: int | None = _DEFAULT_LIMITS.max_message_size
    max_frame_count: int | None = _DEFAULT_LIMITS.max_frame_count
    on_connect: Callable[[Request], Any] | None = None
    compression: DeflateConfig | bool | None = True
    write_limit: int | None = None
    max_write_buffer: int | None = None
    max_payload_length: InitVar[int | None] = None
    limits: Limits = field(init=False, repr=False)

    def __post_init__(self, max_payload_length: int | None) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"resource path must start with '/': {self.path!r}")
        if max_payload_length is not None:
            self.max_message_size = max_payload_length
        self.limits = Limits(
            max_frame_size=self.max_frame_size,
            max_message_size=self.max_message_size,
            max_frame_count=self.max_frame_count,
        )


class ResourceTable(Protocol):
    """What the server needs of a resource table."""

    def resolve(self, path: str) -> Resource | None: ...


class Resources:
    """A plain path -> resource table."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._by_path: dict[str, Resource] = {}
        for item in resources:
            self.add(item)

    def add(self, resource: Resource) -> None:
        if resource.path in self._by_path:
            raise ValueError(f"two resources for path {resource.path!r}")
        self._by_path[resource.path] = resource

    def resolve(self, path: str) -> Resource | None:
        return self._by_path.get(path)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)
