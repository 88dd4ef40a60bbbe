"""Apply the hot-reload contract to handler files: load, re-point resources, move instances, report.

A batch of changed files (one watcher burst, ``reload()``, a ``rollback``) is one change:

1. A file is read once it has settled (unchanged for ``settle`` seconds: a file saved earlier costs no
   wait), and what was read is what gets compiled. A read that may still be a save in progress (a file
   empty or missing for now, one that does not compile, one that would stop serving a path) is only
   believed once the file stayed unchanged three times longer; then it is read again (see ``settle``).
2. What the batch does is planned from what was read (see ``plan``). The files to load are the changed
   ones, the helper modules they import that are not loaded yet, and every loaded file that imports a
   changed one (see ``deps``). Files linked by imports form a group, loaded in dependency order on a thread
   of its own under ``load_timeout`` (see ``loadjob``); a failure anywhere in a group keeps the whole group
   on its previous versions.
3. A file that appeared while another disappeared is a rename: it takes over the other's module state
   (``keep``) and its live instances, whatever the order of the names. A deleted file that comes back gets
   the state it had.
4. Back on the loop, in one synchronous step between events: paths resolve to the new classes, live
   instances move (those in a running ``async`` call move when it ends), kept values are re-read, and one
   :class:`ReloadReport` per file says what happened. A deleted file, or a resource gone from a settled
   file, stops new connections on its paths and keeps the live ones.

The same move serves ``register(path, cls)`` on a path already served (a live replace). This module knows the
registry, the loader and the swap; it reaches the server only through the callables it is given.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..patterns import compile_path
from ..resource import clash_message
from .changes import lacking, name_changes, option_changes
from .loader import LoadedFile, LoadError, is_handler_file, load_file, module_name_for
from .loadjob import Hung, Job, LoadThread, run_limited
from .plan import Plan, plan_batch, read_source
from .registry import REPL, Registry, handler_class_of, with_handler_class
from .report import ReloadReport
from .settle import settle
from .swap import ClassMap, Later, SwapReport, class_fingerprint, swap_instances

__all__ = ["DEFAULT_LOAD_TIMEOUT", "DEFAULT_SETTLE", "ReloadReport", "Reloader", "show_path"]

_log = logging.getLogger("livews.live")

Instances = Callable[[str | None], Iterable[object]]
Collect = Callable[[ModuleType], Sequence[Any]]

#: Seconds a handler file's import may take before it is reported as hung and interrupted.
DEFAULT_LOAD_TIMEOUT = 5.0
#: Seconds a file must stay unchanged before it is read (a save still being written is not loaded).
DEFAULT_SETTLE = 0.1
#: An empty, missing or broken file, or one that drops a path, must stay unchanged this many times longer.
_DOUBT = 3
#: Deleted files whose module is remembered, so a file restored or renamed back gets its ``keep`` state.
_DEPARTED = 16
#: How many times a batch is re-read when its files kept changing while it was being loaded.
_ATTEMPTS = 3


@dataclass
class _Version:
    """A version of a file that was live once: enough to diff against or put back, not its module."""

    source: bytes
    loaded_at: float


class Reloader:
    """Owns ``file -> loaded module`` for one handlers directory and applies changes to the registry.

    Every public coroutine runs on the server loop and is serialized by one lock, so a save and a REPL
    ``reload()`` never interleave. ``later`` tells the swap which instances are inside a running call.
    """

    def __init__(
        self,
        registry: Registry,
        handlers_dir: Path | None,
        collect: Collect,
        instances: Instances,
        *,
        schedule: Callable[[Coroutine[Any, Any, Any]], object] | None = None,
        later: Later | None = None,
        load_timeout: float | None = DEFAULT_LOAD_TIMEOUT,
        settle: float = DEFAULT_SETTLE,
        reserved: Callable[[str], str | None] | None = None,
        only: Path | None = None,
    ) -> None:
        self.registry = registry
        #: The one handler file served (``--handlers file.py``), or ``None``: every file of the directory.
        #: Its sibling files are loaded only as the modules it imports.
        self.only = only.resolve() if only is not None else None
        #: Why a resource path may not be served (a path the server keeps for itself), or ``None``: a file
        #: with such a resource fails to load like one with a clash, and its old version keeps running.
        self.reserved = reserved
        self.handlers_dir = handlers_dir.resolve() if handlers_dir is not None else None
        self._collect = collect
        self._instances = instances
        self._schedule = schedule
        self._later = later
        self.load_timeout = load_timeout
        self.settle = settle
        self.files: dict[Path, LoadedFile] = {}
        self._imports: dict[Path, set[Path]] = {}
        self._before: dict[Path, _Version] = {}
        self._departed: OrderedDict[Path, LoadedFile] = OrderedDict()
        self._conflicted: set[Path] = set()  # files refused because another file serves their paths
        self._runner = LoadThread()
        self._lock = asyncio.Lock()

    def _show(self, path: Path) -> str:
        return show_path(path, self.handlers_dir)

    # ----------------------------------------------------------------------------------------------- files

    def handler_files(self) -> list[Path]:
        if self.only is not None:
            return [self.only] if self.only.is_file() else []
        if self.handlers_dir is None or not self.handlers_dir.is_dir():
            return []
        return sorted(p for p in self.handlers_dir.iterdir() if p.is_file() and is_handler_file(p))

    def subfolder_files(self) -> list[Path]:
        """Python files in (non-hidden, non-private) subfolders of the handlers directory: never loaded."""
        folder = self.handlers_dir
        if folder is None or not folder.is_dir() or self.only is not None:
            return []
        return sorted(
            p
            for p in folder.glob("*/**/*.py")
            if is_handler_file(p)
            and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts[:-1])
        )

    async def load_all(self) -> list[ReloadReport]:
        """Load every handler file (startup); a broken file is reported and the others still load."""
        return await self.apply([*self.handler_files(), *self.subfolder_files()], force=True)

    async def reload_all(self) -> list[ReloadReport]:
        """Reload every known and every new handler file now, changed or not; forget deleted ones."""
        paths = sorted(set(self.handler_files()) | set(self.files))
        return await self.apply(paths, force=True)

    async def apply(self, paths: Iterable[Path], *, force: bool = False) -> list[ReloadReport]:
        """Bring the files' resources in line with what is on disk now, as one change."""
        async with self._lock:
            return await self._apply(paths, force)

    async def _apply(
        self, paths: Iterable[Path], force: bool, sources: dict[Path, bytes] | None = None
    ) -> list[ReloadReport]:
        start = time.perf_counter()
        wanted: list[Path] = []
        elsewhere: list[Path] = []
        for raw in paths:
            path = raw.resolve()
            if self.only is not None and not self._serves(path):
                continue  # a sibling of the one file served, which does not import it
            if self.handlers_dir is not None and path.parent != self.handlers_dir:
                if path not in elsewhere:
                    elsewhere.append(path)
            elif path not in wanted:
                wanted.append(path)
        notes = [self._subfolder_note(elsewhere)] if elsewhere else []
        if self._conflicted and any(p in self.files and not p.exists() for p in wanted):
            # A file refused because another served its paths comes back when that other one leaves: the
            # two halves of a rename the watcher happened to see apart.
            wanted += [p for p in sorted(self._conflicted) if p not in wanted and p.exists()]
        settled = sources is not None
        if not settled and not force:  # a save noticed by the watcher (reload() and startup read at once)
            await settle(wanted, self.settle)
        for _attempt in range(_ATTEMPTS):
            plan = plan_batch(wanted, force, sources, self.files, self._imports, self._departed)
            if not settled and plan.suspicious:
                await settle(wanted, self.settle * _DOUBT)
                settled = True
                continue
            loads = await self._load(plan)
            if not settled and self._doubtful(plan, loads):
                await settle(wanted, self.settle * _DOUBT)
                settled = True
                if any(read_source(p) != plan.read.get(p) for p in wanted):
                    self._unstage(loads)
                    continue
            return [*notes, *self._install(plan, loads, start)]
        return notes  # still changing after every attempt: the next watcher batch brings it

    def _serves(self, path: Path) -> bool:
        """With one file served: whether ``path`` is that file, or a module loaded with it."""
        return path == self.only or path in self.files or any(path in deps for deps in self._imports.values())

    def _subfolder_note(self, paths: list[Path]) -> ReloadReport:
        return ReloadReport(
            "note",
            ", ".join(self._show(p) for p in paths),
            note=(
                "not loaded: handler files live directly in the handlers folder; files in subfolders "
                "are neither served nor reloaded (move them up)"
            ),
        )

    # ------------------------------------------------------------------------------------------- planning

    # -------------------------------------------------------------------------------------------- loading

    async def _load(self, plan: Plan) -> list[tuple[list[Path], list[LoadedFile] | LoadError]]:
        results: list[tuple[list[Path], list[LoadedFile] | LoadError]] = []
        for group in plan.groups:
            try:
                loaded = await run_limited(
                    functools.partial(self._load_group, group=group, plan=plan),
                    limit=self.load_timeout,
                    files=group,
                    runner=self._runner,
                )
            except LoadError as exc:
                results.append((group, exc))
            except Hung as exc:
                self._restore_group(group)
                if exc.file is not None:
                    error = _TimedOut(exc.file, _line_of(exc.where), str(exc))
                else:
                    at = f" (in {exc.where})" if exc.where else ""
                    error = _TimedOut(group[-1], None, f"{exc}{at}")
                _log.error("loading %s", error)
                results.append((group, error))
            else:
                results.append((group, loaded))
        return results

    def _load_group(self, job: Job, group: list[Path], plan: Plan) -> list[LoadedFile]:
        """On the loading thread: load each file of ``group`` in order; a failure unstages the ones before."""
        staged: list[tuple[str, ModuleType | None, ModuleType]] = []
        done: list[LoadedFile] = []
        try:
            for path in group:
                name = module_name_for(path)
                before = sys.modules.get(name)
                previous = plan.previous.get(path)
                source = plan.read[path]
                assert source is not None
                loaded = load_file(
                    path,
                    self._collect if is_handler_file(path) else _no_resources,
                    previous[0].module if previous is not None else None,
                    source=source,
                )
                staged.append((name, before, loaded.module))
                done.append(loaded)
        except BaseException:
            _unstage(staged)
            raise
        if job.abandoned:
            _unstage(staged)  # the loop gave up on this load; what it made is thrown away
        return done

    def _restore_group(self, group: list[Path]) -> None:
        for path in group:
            name = module_name_for(path)
            known = self.files.get(path)
            if known is not None:
                sys.modules[name] = known.module
            else:
                sys.modules.pop(name, None)

    def _doubtful(self, plan: Plan, loads: list[tuple[list[Path], list[LoadedFile] | LoadError]]) -> bool:
        """A failed load or a dropped path may be a save caught halfway: worth waiting for it to settle."""
        for _group, result in loads:
            if isinstance(result, LoadError):
                if not isinstance(result, _TimedOut):
                    return True
                continue
            for loaded in result:
                old_paths = set(self.registry.paths_from(loaded.path))
                if old_paths - {str(r.path) for r in loaded.resources}:
                    return True
        return False

    def _unstage(self, loads: list[tuple[list[Path], list[LoadedFile] | LoadError]]) -> None:
        for group, result in loads:
            if not isinstance(result, LoadError):
                self._restore_group(group)

    # --------------------------------------------------------------------------------------------- install

    def _install(
        self, plan: Plan, loads: list[tuple[list[Path], list[LoadedFile] | LoadError]], start: float
    ) -> list[ReloadReport]:
        """The synchronous part, on the loop: every group that loaded goes live at once, then deletions."""
        order = {path: i for i, path in enumerate(plan.loading)}
        reports: list[tuple[int, ReloadReport]] = []
        leaving = set(plan.gone)
        claimed: dict[str, Path] = {}
        accepted: list[LoadedFile] = []
        for group, result in loads:
            if isinstance(result, LoadError):
                reports.append((order[group[0]], self._failure(group, result, start)))
                continue
            conflict = self._conflict(result, leaving | set(group), claimed)
            if conflict is not None:
                self._conflicted.update(group)
                self._restore_group(group)
                reports.append((order[group[0]], self._failure(group, conflict, start)))
                continue
            for loaded in result:
                claimed.update((str(r.path), loaded.path) for r in loaded.resources)
            self._conflicted.difference_update(group)
            accepted.extend(result)
        renamed_from: dict[Path, Path] = {}
        for loaded in accepted:
            previous, origin = plan.previous.get(loaded.path, (None, None))
            if origin is not None:
                renamed_from[origin] = loaded.path
            report = self._install_one(loaded, previous, origin, plan, leaving, start)
            reports.append((order[loaded.path], report))
        for gone in plan.gone:
            if gone in renamed_from:
                self._drop(gone)
                continue
            reports.append((len(order), self._forget(gone, start)))
        return [report for _, report in sorted(reports, key=lambda item: item[0])]

    def _failure(self, group: list[Path], error: LoadError, start: float) -> ReloadReport:
        main = error.path if error.path in group else group[-1]
        kind = "reload" if main in self.files else "load"
        also = [self._show(p) for p in group if p != main]
        return ReloadReport(
            kind, self._show(main), error=error, also=also, seconds=time.perf_counter() - start
        )

    def _conflict(
        self, loaded: list[LoadedFile], mine: set[Path], claimed: dict[str, Path]
    ) -> LoadError | None:
        for one in loaded:
            seen: list[Any] = []
            for resource in one.resources:
                rpath = str(resource.path)
                for other in seen:
                    if compile_path(str(other.path)).overlaps(compile_path(rpath)):
                        why = clash_message(resource, other)
                        return LoadError(one.path, None, f"two resources in this file: {why}")
                seen.append(resource)
                reserved = self.reserved(rpath) if self.reserved is not None else None
                if reserved is not None:
                    return LoadError(one.path, None, reserved)
                entry = self.registry.get(rpath)
                owner = claimed.get(rpath)
                if owner is None and entry is not None and isinstance(entry.source, Path):
                    owner = entry.source if entry.source not in mine else None
                if owner is not None and owner != one.path:
                    return LoadError(one.path, None, f"{rpath} is already served by {self._show(owner)}")
                # A pattern that could match a path served elsewhere (files leaving in this change aside).
                clash = self.registry.clash(resource, one.path)
                if clash is not None and not (isinstance(clash.source, Path) and clash.source in mine):
                    where = self._show(clash.source) if isinstance(clash.source, Path) else clash.source
                    why = clash_message(resource, clash.resource)
                    return LoadError(one.path, None, f"{why} (served by {where})")
        return None

    def _install_one(
        self,
        loaded: LoadedFile,
        previous: LoadedFile | None,
        origin: Path | None,
        plan: Plan,
        leaving: set[Path],
        start: float,
    ) -> ReloadReport:
        path = loaded.path
        old = self.files.get(path)
        kind = "reload" if old is not None else "rename" if origin is not None else "load"
        report = ReloadReport(kind, self._show(path))
        if origin is not None:
            report.renamed_from = self._show(origin)
        report.carried, report.reset = loaded.carried, loaded.reset
        old_paths = set(self.registry.paths_from(path))
        explicit: dict[type, type] = {}
        for resource in loaded.resources:
            rpath = str(resource.path)
            before = self.registry.set(resource, path)
            taken_over = before is not None and before.source in leaving
            if before is None or (before.path not in old_paths and not taken_over):
                report.added.append(rpath)
            if before is not None:
                if before.handler_class is not handler_class_of(resource):
                    explicit[before.handler_class] = handler_class_of(resource)
                report.options.extend(
                    f"{rpath} {change}" for change in option_changes(before.resource, resource)
                )
        new_paths = {str(r.path) for r in loaded.resources}
        for gone in sorted(old_paths - new_paths):
            self.registry.remove(gone)
            report.removed.append(gone)
            report.kept_live += sum(1 for _ in self._instances(gone))
        self.files[path] = loaded
        self._imports[path] = plan.imports.get(path, set())
        self._departed.pop(path, None)
        if old is not None and old.digest != loaded.digest:
            self._before[path] = _Version(old.source, old.loaded_at)
        source_module = previous.module if previous is not None else None
        if source_module is None and explicit:
            # A new file took over paths of a file that left, with nothing else to pair them by.
            swap = swap_instances(
                self._instances(None),
                ClassMap(explicit),
                schedule=self._schedule,
                later=self._later,
                moved_later=lambda instance, _swap: _rebind_one(instance, self.registry),
            )
            _take(report, swap)
            report.renamed = [f"{a.__qualname__} -> {b.__qualname__}" for a, b in explicit.items()]
        if source_module is not None:
            classes = ClassMap.between_modules(source_module, loaded.module, explicit)
            self._repoint_others(path, classes)
            swap = swap_instances(
                self._instances(None),
                classes,
                schedule=self._schedule,
                later=self._later,
                moved_later=self._after_call_move(source_module, loaded),
            )
            _take(report, swap)
            _resync_kept(source_module, loaded)
            for before_cls, after_cls in sorted(classes.pairs().items(), key=lambda kv: kv[1].__qualname__):
                if before_cls.__module__ != source_module.__name__ and before_cls not in explicit:
                    continue
                if before_cls.__qualname__ != after_cls.__qualname__:
                    report.renamed.append(f"{before_cls.__qualname__} -> {after_cls.__qualname__}")
                elif class_fingerprint(before_cls) == class_fingerprint(after_cls):
                    report.unchanged.append(after_cls.__qualname__)
                else:
                    report.changed.append(after_cls.__qualname__)
            report.changed = sorted(set(report.changed))
            report.unchanged = sorted(set(report.unchanged) - set(report.changed))
            report.names = name_changes(source_module, loaded.module)
            report.lacking = self._lacking(set(classes.pairs().values()))
        self._rebind(loaded.resources)
        report.seconds = time.perf_counter() - start
        return report

    def _after_call_move(self, old: ModuleType, loaded: LoadedFile) -> Callable[[object, SwapReport], None]:
        """After an instance inside a call moved: take the globals that call rebound, point at resources."""

        def moved(instance: object, swap: SwapReport) -> None:
            if self.files.get(loaded.path) is loaded:
                _resync_kept(old, loaded)
            _rebind_one(instance, self.registry)
            if swap.stuck:
                _log.warning(
                    "%s", "; ".join(f"{s.old.__qualname__} NOT moved: {s.reason}" for s in swap.stuck)
                )

        return moved

    def _lacking(self, targets: set[type]) -> list[str]:
        if not targets:
            return []
        by_class: dict[type, list[object]] = {}
        for instance in self._instances(None):
            if type(instance) in targets:
                by_class.setdefault(type(instance), []).append(instance)
        warnings = []
        for cls, items in sorted(by_class.items(), key=lambda kv: kv[0].__qualname__):
            warning = lacking(cls, items)
            if warning is not None:
                warnings.append(warning)
        return warnings

    def _rebind(self, resources: Iterable[Any]) -> None:
        """Live connections moved to a resource's class see that resource as ``self.resource`` (its options
        apply to new connections; a live one keeps the limits it was accepted with)."""
        for resource in resources:
            cls = handler_class_of(resource)
            for instance in self._instances(str(resource.path)):
                if type(instance) is cls:
                    client = getattr(instance, "client", None)
                    if client is not None:
                        client.resource = resource

    def _repoint_others(self, path: Path, classes: ClassMap) -> None:
        """Paths registered elsewhere (e.g. from the REPL) with a class of this file follow it too."""
        for entry in self.registry.entries():
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
        self._drop(path)
        report.seconds = time.perf_counter() - start
        return report

    def _drop(self, path: Path) -> None:
        """A file left: remember its module a while (a restore or a rename back gets its state)."""
        for gone in self.registry.paths_from(path):
            self.registry.remove(gone)
        loaded = self.files.pop(path, None)
        self._imports.pop(path, None)
        self._conflicted.discard(path)
        if loaded is not None:
            self._departed[path] = loaded
            while len(self._departed) > _DEPARTED:
                self._departed.popitem(last=False)

    # ------------------------------------------------------------------------------------- history / undo

    def _known(self, file: str | Path) -> Path:
        """A file as the user names it: ``echo.py``, ``handlers/echo.py`` or a full path."""
        given = Path(file)
        candidates = [given.resolve()]
        if self.handlers_dir is not None:
            candidates += [self.handlers_dir / given.name, self.handlers_dir / given]
        for candidate in candidates:
            if candidate in self.files or candidate in self._before:
                return candidate
        raise LookupError(f"{file} is not a loaded handler file")

    def diff(self, file: str | Path) -> str:
        """What the last reload of ``file`` changed: a diff from the version before to the live one."""
        path = self._known(file)
        before, now = self._before.get(path), self.files.get(path)
        if before is None or now is None:
            return f"{self._show(path)}: no earlier version loaded in this session"
        name = self._show(path)
        lines = difflib.unified_diff(
            before.source.decode(errors="replace").splitlines(keepends=True),
            now.source.decode(errors="replace").splitlines(keepends=True),
            f"{name} (loaded {time.strftime('%H:%M:%S', time.localtime(before.loaded_at))})",
            f"{name} (live since {time.strftime('%H:%M:%S', time.localtime(now.loaded_at))})",
        )
        return "".join(lines) or f"{name}: the last reload changed no text"

    async def rollback(self, file: str | Path) -> ReloadReport:
        """Put the previously loaded version of ``file`` back live (from memory; the file is not touched)."""
        async with self._lock:
            path = self._known(file)
            before = self._before.get(path)
            if before is None:
                raise LookupError(f"{self._show(path)}: no earlier version loaded in this session")
            reports = await self._apply([path], True, {path: before.source})
            mine = [r for r in reports if r.source == self._show(path)]
            report = mine[0] if mine else ReloadReport("rollback", self._show(path))
            if report.ok:
                report.kind = "rollback"
                when = time.strftime("%H:%M:%S", time.localtime(before.loaded_at))
                report.note = (
                    f"back to the version loaded at {when}; "
                    f"{self._show(path)} on disk still holds the newer text (save it again to load that)"
                )
            return report

    # ------------------------------------------------------------------------------------- live replace

    async def register(self, resource: Any) -> ReloadReport:
        """Serve ``resource``; on a path already served, move its live instances to the new class.

        Synchronous on the loop (nothing awaited), so it takes no lock: it never waits for a file being
        loaded, however long that import takes.
        """
        start = time.perf_counter()
        rpath = str(resource.path)
        report = ReloadReport("register", f"{rpath} -> {handler_class_of(resource).__qualname__}")
        previous = self.registry.set(resource, REPL)
        if previous is None:
            report.added.append(rpath)
        else:
            old_cls, new_cls = previous.handler_class, handler_class_of(resource)
            report.options = [f"{rpath} {c}" for c in option_changes(previous.resource, resource)]
            if old_cls is not new_cls:
                swap = swap_instances(
                    self._instances(rpath),
                    ClassMap({old_cls: new_cls}),
                    schedule=self._schedule,
                    later=self._later,
                    moved_later=lambda instance, _swap: _rebind_one(instance, self.registry),
                )
                _take(report, swap)
                report.changed.append(f"{old_cls.__qualname__} -> {new_cls.__qualname__}")
                report.lacking = self._lacking({new_cls})
            self._rebind([resource])
        report.seconds = time.perf_counter() - start
        return report

    async def unregister(self, path: str) -> ReloadReport:
        """Stop accepting new connections on ``path``; live ones stay. ``KeyError`` if not served."""
        start = time.perf_counter()
        if path not in self.registry:
            raise KeyError(f"{path!r} is not served")
        self.registry.remove(path)
        report = ReloadReport("unregister", path, removed=[path])
        report.kept_live = sum(1 for _ in self._instances(path))
        report.seconds = time.perf_counter() - start
        return report


class _TimedOut(LoadError):
    """A load stopped by the time limit: not a save in progress, so not worth waiting for."""


def _no_resources(module: ModuleType) -> list[Any]:
    return []


def _take(report: ReloadReport, swap: SwapReport) -> None:
    report.moved, report.moving, report.stuck = swap.moved, swap.moving, swap.stuck
    report.hook_errors, report.swap_seconds = swap.hook_errors, swap.seconds


def _rebind_one(instance: object, registry: Registry) -> None:
    client = getattr(instance, "client", None)
    if client is None:
        return
    resource = registry.resolve(getattr(client, "path", ""))
    if resource is not None and handler_class_of(resource) is type(instance):
        client.resource = resource


def _line_of(where: str | None) -> int | None:
    if not where:
        return None
    _, _, line = where.rpartition(":")
    return int(line) if line.isdigit() else None


def _unstage(staged: list[tuple[str, ModuleType | None, ModuleType]]) -> None:
    """Put back what ``sys.modules`` held before a group loaded, where the group's module is still there."""
    for name, before, mine in reversed(staged):
        if sys.modules.get(name) is mine:
            if before is None:
                del sys.modules[name]
            else:
                sys.modules[name] = before


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
