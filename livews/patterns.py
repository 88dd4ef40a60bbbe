"""Path patterns: ``/rooms/{room}`` serves ``/rooms/42`` with ``{"room": "42"}``.

Pure Python and small on purpose. A pattern is a sequence of segments, each either literal text or one
``{name}`` that matches a whole non-empty segment (never a ``/``). That one rule makes the question "can
these two patterns match the same path?" exact and cheap: same number of segments, and at every position
equal literals or at least one parameter. Tables refuse such a pair when it is registered, so a request never
depends on the order resources were added in.

Matching runs on the path as sent (still percent-encoded, so ``%2F`` stays inside its segment); parameter
values are then percent-decoded. An exact path (no ``{``) is a pattern with no parameters, and tables look it
up in a dict before trying any pattern.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

__all__ = ["PathPattern", "compile_path"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PathPattern:
    """A compiled path pattern; ``match(path)`` gives its parameters, or ``None`` if it does not match."""

    __slots__ = ("_regex", "_segments", "names", "text")

    def __init__(self, text: str) -> None:
        if not text.startswith("/"):
            raise ValueError(f"resource path must start with '/': {text!r}")
        self.text = text
        segments: list[str | None] = []  # literal text, or None for a parameter
        names: list[str] = []
        parts: list[str] = []
        for segment in text.split("/")[1:]:
            param = _PARAM.fullmatch(segment)
            if param is not None:
                name = param[1]
                if name in names:
                    raise ValueError(f"path pattern {text!r} names {{{name}}} twice")
                names.append(name)
                segments.append(None)
                parts.append(f"(?P<{name}>[^/]+)")
            elif "{" in segment or "}" in segment:
                raise ValueError(
                    f"path pattern {text!r}: a parameter is a whole segment, {{name}} with name an identifier"
                )
            else:
                segments.append(segment)
                parts.append(re.escape(segment))
        self._segments = tuple(segments)
        self.names = tuple(names)
        self._regex = re.compile("/" + "/".join(parts)) if names else None

    @property
    def is_exact(self) -> bool:
        """True for a plain path, which matches only itself."""
        return self._regex is None

    def match(self, path: str) -> dict[str, str] | None:
        """The decoded parameters if ``path`` matches (``{}`` for an exact path), else ``None``."""
        regex = self._regex
        if regex is None:
            return {} if path == self.text else None
        found = regex.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}

    def overlaps(self, other: PathPattern) -> bool:
        """Whether some path matches both patterns."""
        if len(self._segments) != len(other._segments):
            return False
        return all(_segments_overlap(a, b) for a, b in zip(self._segments, other._segments, strict=True))

    def __repr__(self) -> str:
        return f"PathPattern({self.text!r})"


def _segments_overlap(a: str | None, b: str | None) -> bool:
    if a is None:
        return b != ""  # a parameter never matches an empty segment
    if b is None:
        return a != ""
    return a == b


@lru_cache(maxsize=1024)
def compile_path(text: str) -> PathPattern:
    """The pattern for ``text`` (cached: the live layer recompiles the same paths on every reload)."""
    return PathPattern(text)
