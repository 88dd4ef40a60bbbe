"""Watch ``handlers/`` (and livews itself) with watchfiles and turn bursts of saves into reload requests.

watchfiles already groups a burst: it returns once no new change arrived for ``step_ms``. On top of that this
module ignores what is not Python source (editor swap and backup files, hidden files, ``__pycache__``),
folds a burst down to one request per file (the file's state on disk at apply time wins, whatever the event
said, so a rename's two events and a backup-then-write's three arrive as one batch), hands every Python file
under the handlers directory to ``apply`` (handler files, helper modules they import, files in subfolders,
which the reloader reports), and reports a change to any other Python file it watches (livews's own code) as
"restart required" instead of half-applying it.

The watch runs as a task on the server loop, so the reload it triggers runs between events, never inside one.
It knows nothing about modules or classes: it calls ``apply(paths)`` and ``restart_required(paths)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import watchfiles

from .loader import is_handler_file

__all__ = ["HandlerWatcher"]

_log = logging.getLogger("livews.live")

_IGNORED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".venv"})


def _is_source(path: Path) -> bool:
    """A Python file under the handlers directory: a handler file, or a ``_helper.py`` one may import."""
    return is_handler_file(path) or (
        path.name.startswith("_") and is_handler_file(path.with_name(path.name[1:]))
    )


class HandlerWatcher:
    """The watch task: ``await watcher.run()`` until ``stop()``; ``ready`` is set once the OS watches."""

    def __init__(
        self,
        handlers_dir: Path,
        apply: Callable[[list[Path]], Awaitable[object]],
        restart_required: Callable[[list[Path]], object],
        *,
        also_watch: Iterable[Path] = (),
        step_ms: int = 30,
        debounce_ms: int = 1000,
    ) -> None:
        self.handlers_dir = handlers_dir.resolve()
        self._apply = apply
        self._restart_required = restart_required
        self._also = [p.resolve() for p in also_watch if p.exists()]
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.batches = 0

    def stop(self) -> None:
        self._stop.set()

    def _wanted(self, change: watchfiles.Change, path: str) -> bool:
        p = Path(path)
        if any(part in _IGNORED_DIRS for part in p.parts):
            return False
        return p.suffix == ".py" and not p.name.startswith((".", "#"))

    async def run(self) -> None:
        """Watch until stopped; a failing ``apply`` is logged and the watch goes on."""
        watch = watchfiles.awatch(
            self.handlers_dir,
            *self._also,
            watch_filter=self._wanted,
            step=self._step_ms,
            debounce=self._debounce_ms,
            stop_event=self._stop,
            recursive=True,
        )
        first = asyncio.ensure_future(watch.__anext__())
        # The OS watch is created synchronously in the generator's first step; one loop turn runs that step.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.ready.set()
        try:
            pending: asyncio.Future[set[tuple[watchfiles.Change, str]]] | None = first
            while pending is not None:
                try:
                    changes = await pending
                except StopAsyncIteration:
                    break
                self.batches += 1
                await self._handle(changes)
                pending = asyncio.ensure_future(watch.__anext__())
        finally:
            await watch.aclose()

    async def _handle(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        handler_paths: list[Path] = []
        other: list[Path] = []
        for _change, raw in sorted(changes, key=lambda c: c[1]):
            path = Path(raw)
            if path.is_relative_to(self.handlers_dir) and _is_source(path):
                if path not in handler_paths:
                    handler_paths.append(path)
            elif path not in other and not path.is_relative_to(self.handlers_dir):
                other.append(path)
        if other:
            self._restart_required(other)
        if handler_paths:
            try:
                await self._apply(handler_paths)
            except Exception:
                _log.exception("applying changes to %s failed", ", ".join(map(str, handler_paths)))
