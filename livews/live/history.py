"""What ``history()`` and ``diff()`` return at the prompt: reports with their time, text shown as is.

``History`` is a snapshot list of the most recent :class:`~livews.live.report.ReloadReport` objects (the
handle keeps a fixed number of them, so memory does not grow with the number of reloads); it prints one
line per report, oldest first, with the time it was made. ``Text`` is a ``str`` whose ``repr`` is the text
itself, so a diff shows as a diff. Nothing here talks to the server loop.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from .report import ReloadReport

__all__ = ["History", "Text"]


class Text(str):
    """A string that a prompt shows as it is (no quotes, real line breaks)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


class History(list[ReloadReport]):
    """The recent reports, oldest first; ``repr`` is one ``HH:MM:SS  what happened`` line per report."""

    def __init__(self, reports: Iterable[ReloadReport] = ()) -> None:
        super().__init__(reports)

    def __repr__(self) -> str:
        if not self:
            return "(no reloads yet)"
        return "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(r.at))}  {r}" for r in self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"
