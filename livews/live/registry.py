"""The resource table the live layer edits while the server serves from it.

The server only ever asks ``resolve(path)`` and iterates the resources served (for its URLs); the registry
answers from a plain dict that is replaced entry by
entry on the server loop, so a lookup never sees a half-edited table. Each entry remembers where it came from
(a handler file, or ``"repl"`` for ``register()``), which is how a reload knows which paths a file owns and
how ``resources()`` can say where a class lives.

Removing a path only stops new connections: live ones keep their handler instance and run until they close.
Paths may be patterns (``/rooms/{room}``): exact paths are found in the dict first, then patterns are tried;
a resource that could match a path another source already serves is refused (``clash``).
This module knows resources but not servers, files or threads; everything here runs on the server loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..patterns import compile_path
from ..resource import clash_message

__all__ = ["REPL", "Entry", "Registry", "handler_class_of", "with_handler_class"]

#: ``Entry.source`` of a resource registered from the REPL or a notebook.
REPL = "repl"


@dataclass(frozen=True)
class Entry:
    """One served path: the resource object the server resolves to, and where it was declared."""

    resource: Any
    source: Path | str

    @property
    def path(self) -> str:
        return str(self.resource.path)

    @property
    def handler_class(self) -> type:
        return handler_class_of(self.resource)


def handler_class_of(resource: Any) -> type:
    """The handler class a resource instantiates per connection."""
    cls: type = resource.handler
    return cls


def with_handler_class(resource: Any, cls: type) -> Any:
    """A copy of ``resource`` that instantiates ``cls`` (same path and options)."""
    return dataclasses.replace(resource, handler=cls)


class Registry:
    """Editable ``path -> resource`` table; ``resolve`` is what the server calls on each handshake."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._patterns: tuple[Entry, ...] = ()  # the entries whose path is a pattern, tried after the dict

    def resolve(self, path: str) -> Any | None:
        entry = self._entries.get(path)
        if entry is None:
            for candidate in self._patterns:
                if compile_path(candidate.path).match(path) is not None:
                    return candidate.resource
            return None
        return entry.resource

    def clash(self, resource: Any, source: Path | str) -> Entry | None:
        """An entry of another path that could match a path ``resource`` matches (``None`` if there is none).

        A file's own entries do not count: a reload replaces them as a whole.
        """
        pattern = compile_path(str(resource.path))
        for entry in self._entries.values():
            if entry.path == pattern.text or (isinstance(source, Path) and entry.source == source):
                continue
            if compile_path(entry.path).overlaps(pattern):
                return entry
        return None

    def get(self, path: str) -> Entry | None:
        return self._entries.get(path)

    def set(self, resource: Any, source: Path | str) -> Entry | None:
        """Serve ``resource`` at its path from now on; return the entry it replaces, if any.

        ``ValueError`` (naming both) if it could match a path that another entry serves (see ``clash``).
        """
        entry = Entry(resource, source)
        other = self.clash(resource, source)
        if other is not None:
            raise ValueError(clash_message(resource, other.resource))
        previous = self._entries.get(entry.path)
        entries = dict(self._entries)
        entries[entry.path] = entry
        self._replace(entries)
        return previous

    def remove(self, path: str) -> Entry:
        """Stop serving ``path`` to new connections; raise ``KeyError`` if it is not served."""
        entries = dict(self._entries)
        entry = entries.pop(path)
        self._replace(entries)
        return entry

    def _replace(self, entries: dict[str, Entry]) -> None:
        self._entries = entries
        self._patterns = tuple(e for e in entries.values() if not compile_path(e.path).is_exact)

    def paths_from(self, source: Path | str) -> list[str]:
        return [path for path, entry in self._entries.items() if entry.source == source]

    def entries(self) -> list[Entry]:
        """Every served path's entry: its resource and where it was declared (a snapshot list)."""
        return list(self._entries.values())

    def __iter__(self) -> Iterator[Any]:
        """The resources served, as plain resources: what the server may ask of any table."""
        return iter([entry.resource for entry in self._entries.values()])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries
