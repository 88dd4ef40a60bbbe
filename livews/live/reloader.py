"""Apply the hot-reload contract to handler files: load, re-point resources, move instances, report.

For each saved file: the new module is executed off the loop (a slow import never stalls clients); back on the
loop, in one synchronous step between events, the file's paths resolve to the new classes, every live instance
of an old class moves to its new class (then ``on_reload(old_cls)``), kept module values are re-read so a
value rebound meanwhile is not lost, and one :class:`ReloadReport` says what happened. A file that fails to
load changes nothing. A deleted file, or a resource gone from a file, stops new connections on its paths
and keeps the live ones.

The same move serves ``register(path, cls)`` on a path already served (a live replace). This module knows the
registry, the loader and the swap; it reaches the server only through the callables it is given.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..patterns import compile_path
from ..resource import clash_message
from .loader import LoadedFile, LoadError, load_file
from .registry import REPL, Registry, handler_class_of, with_handler_class
from .swap import ClassMap, Stuck, class_fingerprint, swap_instances
from .watcher import is_handler_file

__all__ = ["ReloadReport", "Reloader", "show_path"]

_log = logging.getLogger("livews.live")

Instances = Callable[[str | None], Iterable[object]]
Collect = Callable[[ModuleType], Sequence[Any]]


@dataclass
class ReloadReport:
    """What one load, reload, removal or live replace did; ``str()`` is the one line the REPL prints."""

    kind: str  # "load", "reload", "remove", "register", "unregister", "restart"; failed: "load"/"reload"
    source: str
    error: LoadError | None = None
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_live: int = 0
    moved: int = 0
    stuck: list[Stuck] = field(default_factory=list)
    hook_errors: int = 0
    carried: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    seconds: float = 0.0
    swap_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stuck_count(self) -> int:
        """Instances that could not move to their new class (they keep running the old one)."""
        return sum(s.count for s in self.stuck)

    def __str__(self) -> str:
        if self.error is not None and self.kind == "load":
            return f"load failed: {self.error}; not served until fixed"
        if self.error is not None:
            return f"reload failed: {self.error}; still running the previous version"
        if self.kind == "restart":
            return f"restart required: {self.source} changed (only handler files reload live)"
        parts = [f"{_VERBS.get(self.kind, self.kind)} {self.source}"]
        if self.changed:
            parts.append(f"changed {', '.join(self.changed)}")
        elif self.kind == "reload":
            parts.append("no class changed")
        if self.added:
            parts.append(f"serving {', '.join(self.added)}")
        if self.removed:
            kept = f" ({_count(self.kept_live, 'live connection')} kept)" if self.kept_live else ""
            parts.append(f"stopped accepting {', '.join(self.removed)}{kept}")
        if self.kind in ("reload", "register") or self.moved:
            parts.append(f"{_count(self.moved, 'instance')} moved")
        for stuck in self.stuck:
            who = f"{_count(stuck.count, 'instance')} of {stuck.old.__qualname__}"
            parts.append(f"{who} NOT moved: {stuck.reason}")
        if self.hook_errors:
            parts.append(f"{_count(self.hook_errors, 'on_reload error')} (see log)")
        if self.carried:
            parts.append(f"kept {', '.join(self.carried)}")
        if self.reset:
            parts.append(f"reset {', '.join(self.reset)} (new type)")
        parts.append(f"{self.seconds * 1000:.1f} ms (swap {self.swap_seconds * 1000:.2f} ms)")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return str(self)

    def details(self) -> str:
        """The line, plus the error's source line or traceback when there is one."""
        if self.error is not None and self.error.detail:
            return f"{self}\n{self.error.detail}"
        return str(self)


_VERBS = {
    "load": "loaded",
    "reload": "reloaded",
    "remove": "removed",
    "register": "registered",
    "unregister": "unregistered",
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Reloader:
    """Owns ``file -> loaded module`` for one handlers directory and applies changes to the registry.

    Every public coroutine runs on the server loop and is serialized by one lock, so a save and a REPL
    ``reload()`` never interleave.
    """

    def __init__(
        self,
        registry: Registry,
        handlers_dir: Path | None,
        collect: Collect,
        instances: Instances,
        *,
        schedule: Callable[[Coroutine[Any, Any, Any]], object] | None = None,
    ) -> None:
        self.registry = registry
        self.handlers_dir = handlers_dir.resolve() if handlers_dir is not None else None
        self._collect = collect
        self._instances = instances
        self._schedule = schedule
        self.files: dict[Path, LoadedFile] = {}
        self._lock = asyncio.Lock()

    def _show(self, path: Path) -> str:
        return show_path(path, self.handlers_dir)

    # ----------------------------------------------------------------------------------------------- files

    def handler_files(self) -> list[Path]:
        if self.handlers_dir is None or not self.handlers_dir.is_dir():
            return []
        return sorted(p for p in self.handlers_dir.iterdir() if p.is_file() and is_handler_file(p))

    async def load_all(self) -> list[ReloadReport]:
        """Load every handler file (startup); a broken file is reported and the others still load."""
        return await self.apply(self.handler_files(), force=True)

    async def reload_all(self) -> list[ReloadReport]:
        """Reload every known and every new handler file now, changed or not; forget deleted ones."""
        paths = sorted(set(self.handler_files()) | set(self.files))
        return await self.apply(paths, force=True)

    async def apply(self, paths: Iterable[Path], *, force: bool = False) -> list[ReloadReport]:
        """Bring each file's resources in line with what is on disk now."""
        reports = []
        async with self._lock:
            for path in paths:
                report = await self._apply_one(path.resolve(), force)
                if report is not None:
                    reports.append(report)
        return reports

    async def _apply_one(self, path: Path, force: bool) -> ReloadReport | None:
        start = time.perf_counter()
        if not path.exists():
            return self._forget(path, start) if path in self.files else None
        old = self.files.get(path)
        try:
            if os.path.getsize(path) == 0:
                # A file truncated before being rewritten: wait for the write that follows.
                _log.debug("%s is empty; waiting for its content", path)
                return None
        except OSError:
            return None
        loop = asyncio.get_running_loop()
        try:
            loaded = await loop.run_in_executor(
                None, load_file, path, self._collect, old.module if old is not None else None
            )
        except LoadError as exc:
            seconds = time.perf_counter() - start
            return ReloadReport(_kind(old), self._show(path), error=exc, seconds=seconds)
        if old is not None and loaded.digest == old.digest and not force:
            _restore_module(loaded, old)
            return None
        conflict = self._conflict(path, loaded)
        if conflict is not None:
            _restore_module(loaded, old)
            seconds = time.perf_counter() - start
            return ReloadReport(_kind(old), self._show(path), error=conflict, seconds=seconds)
        return self._install(path, loaded, old, start)

    def _conflict(self, path: Path, loaded: LoadedFile) -> LoadError | None:
        seen: list[Any] = []
        for resource in loaded.resources:
            rpath = str(resource.path)
            for other in seen:
                if compile_path(str(other.path)).overlaps(compile_path(rpath)):
                    why = clash_message(resource, other)
                    return LoadError(path, None, f"two resources in this file: {why}")
            seen.append(resource)
            entry = self.registry.get(rpath)
            if entry is not None and isinstance(entry.source, Path) and entry.source != path:
                return LoadError(path, None, f"{rpath} is already served by {self._show(entry.source)}")
            clash = self.registry.clash(resource, path)
            if clash is not None:
                where = self._show(clash.source) if isinstance(clash.source, Path) else clash.source
                return LoadError(path, None, f"{clash_message(resource, clash.resource)} (served by {where})")
        return None

    def _install(self, path: Path, loaded: LoadedFile, old: LoadedFile | None, start: float) -> ReloadReport:
        """The synchronous part, on the loop: re-point resources, move instances, re-sync kept values."""
        report = ReloadReport(_kind(old), self._show(path))
        report.carried, report.reset = loaded.carried, loaded.reset
        old_paths = set(self.registry.paths_from(path))
        explicit: dict[type, type] = {}
        for resource in loaded.resources:
            previous = self.registry.set(resource, path)
            if previous is None or previous.path not in old_paths:
                report.added.append(str(resource.path))
            if previous is not None and previous.handler_class is not handler_class_of(resource):
                explicit[previous.handler_class] = handler_class_of(resource)
        new_paths = {str(r.path) for r in loaded.resources}
        for gone in sorted(old_paths - new_paths):
            self.registry.remove(gone)
            report.removed.append(gone)
            report.kept_live += sum(1 for _ in self._instances(gone))
        self.files[path] = loaded
        if old is not None:
            classes = ClassMap.between_modules(old.module, loaded.module, explicit)
            self._repoint_others(path, classes)
            swap = swap_instances(self._instances(None), classes, schedule=self._schedule)
            report.moved, report.stuck, report.hook_errors = swap.moved, swap.stuck, swap.hook_errors
            report.swap_seconds = swap.seconds
            _resync_kept(old.module, loaded)
            for before, after in sorted(classes.pairs().items(), key=lambda kv: kv[1].__qualname__):
                if before.__module__ != old.module.__name__ and before not in explicit:
                    continue
                same = class_fingerprint(before) == class_fingerprint(after)
                (report.unchanged if same else report.changed).append(after.__qualname__)
            report.changed = sorted(set(report.changed))
            report.unchanged = sorted(set(report.unchanged) - set(report.changed))
        report.seconds = time.perf_counter() - start
        return report

    def _repoint_others(self, path: Path, classes: ClassMap) -> None:
        """Paths registered elsewhere (e.g. from the REPL) with a class of this file follow it too."""
        for entry in self.registry:
            if entry.source == path:
                continue
            new = classes(entry.handler_class)
            if new is not None:
                self.registry.set(with_handler_class(entry.resource, new), entry.source)

    def _forget(self, path: Path, start: float) -> ReloadReport:
        report = ReloadReport("remove", self._show(path))
        for gone in self.registry.paths_from(path):
            self.registry.remove(gone)
            report.removed.append(gone)
            report.kept_live += sum(1 for _ in self._instances(gone))
        self.files.pop(path, None)
        report.seconds = time.perf_counter() - start
        return report

    # ------------------------------------------------------------------------------------- live replace

    async def register(self, resource: Any) -> ReloadReport:
        """Serve ``resource``; on a path already served, move its live instances to the new class."""
        async with self._lock:
            start = time.perf_counter()
            rpath = str(resource.path)
            report = ReloadReport("register", f"{rpath} -> {handler_class_of(resource).__qualname__}")
            previous = self.registry.set(resource, REPL)
            if previous is None:
                report.added.append(rpath)
            else:
                old_cls, new_cls = previous.handler_class, handler_class_of(resource)
                if old_cls is not new_cls:
                    swap = swap_instances(
                        self._instances(rpath), ClassMap({old_cls: new_cls}), schedule=self._schedule
                    )
                    report.moved, report.stuck, report.hook_errors = swap.moved, swap.stuck, swap.hook_errors
                    report.swap_seconds = swap.seconds
                    report.changed.append(f"{old_cls.__qualname__} -> {new_cls.__qualname__}")
            report.seconds = time.perf_counter() - start
            return report

    async def unregister(self, path: str) -> ReloadReport:
        """Stop accepting new connections on ``path``; live ones stay. ``KeyError`` if not served."""
        async with self._lock:
            start = time.perf_counter()
            if path not in self.registry:
                raise KeyError(f"{path!r} is not served")
            self.registry.remove(path)
            report = ReloadReport("unregister", path, removed=[path])
            report.kept_live = sum(1 for _ in self._instances(path))
            report.seconds = time.perf_counter() - start
            return report


def _kind(old: LoadedFile | None) -> str:
    return "load" if old is None else "reload"


def _restore_module(loaded: LoadedFile, old: LoadedFile | None) -> None:
    import sys

    name = loaded.module.__name__
    if old is not None:
        sys.modules[name] = old.module
    elif sys.modules.get(name) is loaded.module:
        del sys.modules[name]


def _resync_kept(old: ModuleType, loaded: LoadedFile) -> None:
    """A kept value rebound on the loop while the new module loaded off the loop: take the newest.

    Only a global still bound to the very value ``keep`` handed over is updated; one the new module rebound on
    purpose is left alone.
    """
    old_ns, new_ns = vars(old), vars(loaded.module)
    for name, given in loaded.given.items():
        if name in old_ns and new_ns.get(name) is given and old_ns[name] is not given:
            new_ns[name] = old_ns[name]


def show_path(path: Path, handlers_dir: Path | None) -> str:
    """A handler file as people read it: ``handlers/echo.py`` (relative to the folder holding handlers/)."""
    base = handlers_dir.parent if handlers_dir is not None else Path.cwd()
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
