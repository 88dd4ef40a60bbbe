"""Lists of live objects that print as tables: text at a prompt, HTML in Jupyter.

``clients()`` and ``resources()`` return the live objects themselves (call ``.send`` on a row, index it,
loop over it); only their ``repr`` is a table. Cells are read when the table is printed, so printing the
same list again shows fresh counters. ``Stats`` is a read-only mapping that prints as a two-column table.

Nothing here talks to the server loop: the handle builds these on the loop and hands them over.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = [
    "ClientTable",
    "Column",
    "Lines",
    "ResourceRows",
    "SlowTable",
    "Stats",
    "Table",
    "format_bytes",
    "format_clock",
    "format_duration",
    "format_latency",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Column(Generic[_T]):
    """A table column: its title, how to read a cell from a row, and whether it is numeric (right-aligned)."""

    title: str
    cell: Callable[[_T], object]
    numeric: bool = False


class Table(list[_T]):
    """A list of live objects whose ``repr`` is a text table and ``_repr_html_`` an HTML one."""

    columns: tuple[Column[Any], ...] = ()
    noun: str = "row"

    def __init__(self, items: Iterable[_T] = ()) -> None:
        super().__init__(items)

    def rows(self) -> list[list[str]]:
        """The cells as text, read now."""
        return [[_cell(column, item) for column in self.columns] for item in self]

    def _caption(self) -> str:
        n = len(self)
        return f"{n} {self.noun}{'' if n == 1 else 's'}"

    def __repr__(self) -> str:
        if not self:
            return f"(no {self.noun}s)"
        titles = [column.title for column in self.columns]
        rows = self.rows()
        widths = [max(len(titles[i]), *(len(row[i]) for row in rows)) for i in range(len(titles))]

        def line(cells: list[str]) -> str:
            parts = [
                cell.rjust(width) if column.numeric else cell.ljust(width)
                for cell, width, column in zip(cells, widths, self.columns, strict=True)
            ]
            return "  ".join(parts).rstrip()

        out = [line(titles), "  ".join("-" * width for width in widths)]
        out.extend(line(row) for row in rows)
        out.append(self._caption())
        return "\n".join(out)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        if not self:
            return f"<p><em>no {html.escape(self.noun)}s</em></p>"
        head = "".join(f"<th>{html.escape(column.title)}</th>" for column in self.columns)
        body = []
        for row in self.rows():
            cells = "".join(
                f'<td style="text-align:{"right" if column.numeric else "left"}">{html.escape(cell)}</td>'
                for cell, column in zip(row, self.columns, strict=True)
            )
            body.append(f"<tr>{cells}</tr>")
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"<caption style='caption-side:bottom'>{html.escape(self._caption())}</caption></table>"
        )


def _cell(column: Column[Any], item: object) -> str:
    try:
        value = column.cell(item)
    except Exception as exc:  # a table must print even if one attribute is broken
        return f"<{type(exc).__name__}>"
    return "" if value is None else str(value)


class ResourceRows(Table[Any]):
    """The resources being served, as printable rows: path, handler class, file it came from, live client
    count (``livews.resource.ResourceTable`` is the other thing: what the server resolves paths with)."""

    noun = "resource"

    def __init__(
        self,
        items: Iterable[Any] = (),
        counts: Mapping[str, int] | None = None,
        origins: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(items)
        self._counts = dict(counts or {})
        self._origins = dict(origins or {})

    def clients_on(self, path: str) -> int:
        """Live clients on ``path`` when the table was made."""
        return self._counts.get(path, 0)

    def origin_of(self, path: str) -> str:
        """The file (or ``repl``) that declared ``path``."""
        return self._origins.get(path, "")

    @property
    def columns(self) -> tuple[Column[Any], ...]:  # type: ignore[override]
        return (
            Column("path", lambda r: r.path),
            Column("class", lambda r: r.handler.__qualname__),
            Column("clients", lambda r: self.clients_on(r.path), numeric=True),
            Column("from", lambda r: self.origin_of(r.path)),
        )


class ClientTable(Table[Any]):
    """Connected clients with their facts and counters (read when printed).

    ``id`` is the client's number for the server's life, the one ``send(7, ...)`` and ``kick(7)`` take.
    """

    noun = "client"

    @property
    def columns(self) -> tuple[Column[Any], ...]:  # type: ignore[override]
        return (
            Column("id", lambda c: c.id, numeric=True),
            Column("host", lambda c: c.host),
            Column("port", lambda c: c.port, numeric=True),
            Column("path", lambda c: c.path),
            Column("query", lambda c: c.query_string),
            Column("subprotocol", lambda c: c.subprotocol or ""),
            Column("for", lambda c: format_duration(c.connected_for), numeric=True),
            Column("msg in", lambda c: c.messages_in, numeric=True),
            Column("msg out", lambda c: c.messages_out, numeric=True),
            Column("bytes in", lambda c: format_bytes(c.bytes_in), numeric=True),
            Column("bytes out", lambda c: format_bytes(c.bytes_out), numeric=True),
            Column("latency", lambda c: format_latency(c.latency), numeric=True),
            Column("handler", lambda c: _class_name(type(c.handler)) if c.handler is not None else ""),
        )


class SlowTable(Table[Any]):
    """Handler calls that held the server loop past its ``slow_callback``, oldest first."""

    noun = "slow call"

    @property
    def columns(self) -> tuple[Column[Any], ...]:  # type: ignore[override]
        return (
            Column("ago", lambda s: format_duration(time.time() - s.at), numeric=True),
            Column("handler", lambda s: f"{s.handler}.{s.method}"),
            Column("held", lambda s: f"{s.seconds * 1000:.0f} ms", numeric=True),
            Column("client", lambda s: s.client, numeric=True),
            Column("path", lambda s: s.path),
        )

    def _caption(self) -> str:
        return super()._caption() + " (make them async def and await, or use asyncio.to_thread)"


class Lines(list[_T]):
    """A list of reports whose ``repr`` is their lines (each item's ``details()``, else ``str(item)``)."""

    noun: str = "report"

    def __repr__(self) -> str:
        if not self:
            return f"(no {self.noun}s)"
        return "\n".join(_lines(item) for item in self)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _lines(item: object) -> str:
    details = getattr(item, "details", None)
    return str(details()) if callable(details) else str(item)


class Stats(Mapping[str, Any]):
    """Server counters as a read-only mapping (``stats()["clients"]``) that prints as a two-column table."""

    def __init__(self, values: Mapping[str, Any], formats: Mapping[str, Callable[[Any], str]] | None = None):
        self._values = dict(values)
        self._formats = dict(formats or {})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def _text(self, key: str) -> str:
        value = self._values[key]
        fmt = self._formats.get(key)
        return fmt(value) if fmt is not None else ("" if value is None else str(value))

    def __repr__(self) -> str:
        width = max((len(k) for k in self._values), default=0)
        return "\n".join(f"{key.ljust(width)}  {self._text(key)}" for key in self._values)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(key)}</th>"
            f"<td>{html.escape(self._text(key))}</td></tr>"
            for key in self._values
        )
        return f"<table>{rows}</table>"


def _class_name(cls: type | None) -> str:
    return "" if cls is None else cls.__qualname__


def format_duration(seconds: float | None) -> str:
    """``4.2s``, ``3m07s``, ``2h05m``; empty for unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_bytes(n: int | None) -> str:
    """``512 B``, ``1.5 KiB``, ``3.0 MiB``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def format_latency(seconds: float | None) -> str:
    """Round-trip time of the last ping in milliseconds; ``-`` before the first pong."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms"


def format_clock(when: float) -> str:
    """Wall-clock time of day to the millisecond: ``14:03:27.512``."""
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
