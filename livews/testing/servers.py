"""Real servers for tests: started on 127.0.0.1 port 0 in the test's event loop, closed when it ends.

``serving`` takes what a user has: handler classes (marked with ``@resource``, or one class and a
``path``), ``Resource`` objects, or a handlers folder, loaded the way ``python -m livews`` loads it.
``LiveEdit`` serves a folder and applies each saved file through the live layer's reloader, returning its
report, so a test of a user's own hot reload needs no file watcher and no sleep.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ..handler import collect
from ..live.registry import Registry
from ..live.reloader import Reloader, ReloadReport
from ..resource import Resource
from ..server import Server

__all__ = ["LiveEdit", "resources_of", "serving", "start_live", "start_server"]

Target = type | Resource | str | os.PathLike[str]


def resources_of(targets: Iterable[Target], path: str | None = None) -> list[Resource]:
    """The resources to serve for handler classes and ``Resource`` objects (folders are not handled here).

    A class marked with ``@resource`` is served where it says; ``path`` serves a single unmarked (or marked)
    class at that path instead.
    """
    targets = list(targets)
    if path is not None:
        if len(targets) != 1 or not isinstance(targets[0], type):
            raise TypeError("path= serves exactly one handler class")
        return [Resource(path, targets[0])]
    found: list[Resource] = []
    for target in targets:
        if isinstance(target, Resource):
            found.append(target)
        elif isinstance(target, type):
            marked = collect({"__name__": target.__module__, target.__qualname__: target})
            if not marked:
                raise TypeError(f"{target.__qualname__} has no @resource path: pass path=")
            found.extend(marked)
        else:
            raise TypeError(f"cannot serve {target!r}: give handler classes, Resources or a folder")
    return found


class LiveEdit:
    """A handlers folder served live: ``await save(name, source)`` writes a file, returns the reload report.

    The file is replaced in one rename (as editors save), then applied by the live layer's ``Reloader`` on
    the test's loop: the same load, check and swap a saved file gets from ``python -m livews``, without
    waiting for a file watcher. Live connections stay open across a reload; ``server.clients()`` and their
    ``.handler`` show the instances after the move.
    """

    def __init__(self, folder: Path, server: Server, reloader: Reloader) -> None:
        self.folder = folder
        self.server = server
        self._reloader = reloader
        self.reports: list[ReloadReport] = []

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    async def save(self, name: str, source: str) -> ReloadReport:
        """Write ``source`` as ``folder/name`` and reload it; a file that fails to load changes nothing."""
        target = self.folder / name
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, target)
        return await self._apply(target)

    async def delete(self, name: str) -> ReloadReport:
        """Remove ``folder/name``: its paths stop taking new connections, live ones keep running."""
        target = self.folder / name
        target.unlink()
        return await self._apply(target)

    async def _apply(self, target: Path) -> ReloadReport:
        reports = await self._reloader.apply([target], force=True)
        if not reports:
            raise RuntimeError(f"the reloader reported nothing for {target}")
        self.reports.extend(reports)
        for report in reports:
            self.server.figures.reloaded(report.kind, report.ok)
        return reports[-1]


async def start_live(folder: Path, **server_options: Any) -> LiveEdit:
    """Serve ``folder`` (started, port 0 by default) with every handler file loaded; raise if one fails."""
    registry = Registry()
    server_options.setdefault("port", 0)
    server_options.setdefault("host", "127.0.0.1")
    server = Server(registry, **server_options)

    def instances(path: str | None) -> list[object]:
        return [c.handler for c in server.clients(path) if c.handler is not None]

    reloader = Reloader(registry, folder, collect, instances, schedule=_schedule)
    edit = LiveEdit(folder.resolve(), server, reloader)
    reports = await reloader.load_all()
    edit.reports.extend(reports)
    failed = [r for r in reports if not r.ok]
    if failed:
        raise RuntimeError("\n".join(r.details() for r in failed))
    await server.start()
    return edit


def _schedule(coro: Any) -> object:
    return asyncio.get_running_loop().create_task(coro)


async def start_server(*targets: Target, path: str | None = None, **server_options: Any) -> Server:
    """A started ``Server`` for ``targets`` (see ``serving``); the caller closes it."""
    server_options.setdefault("port", 0)
    server_options.setdefault("host", "127.0.0.1")
    if len(targets) == 1 and isinstance(targets[0], (str, os.PathLike)):
        return (await start_live(Path(targets[0]), **server_options)).server
    server = Server(resources_of(targets, path), **server_options)
    await server.start()
    return server


@asynccontextmanager
async def serving(*targets: Target, path: str | None = None, **server_options: Any) -> AsyncIterator[Server]:
    """A started ``Server`` for ``targets`` on 127.0.0.1 port 0 (unless given), closed when the block ends.

    ``targets`` are handler classes, ``Resource`` objects, or one handlers folder; ``server_options`` are
    ``Server``'s keyword arguments.
    """
    server = await start_server(*targets, path=path, **server_options)
    try:
        yield server
    finally:
        await server.close(timeout=2)
