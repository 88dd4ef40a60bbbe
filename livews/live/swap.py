"""Move live handler instances to a new class, keeping their state, and report what moved.

The swap is ``instance.__class__ = New`` after a layout check done once per class pair: a class whose instance
layout differs (different ``__slots__``, a ``__dict__`` gained or lost) cannot take the old instances, so
those keep the old class and are reported. After every instance moved, ``on_reload(old_cls)`` runs on each
one that defines it; a raising hook is logged and counted, never propagated, and an ``async`` hook is
handed to the caller's scheduler.

An instance whose handler call is still running (an ``async`` method suspended at an ``await``) is not moved
under it: its code and globals are the old version's, and a ``self`` of the new class would mix both. The
caller's ``later(instance)`` says so by returning a function that runs a callback once that call has ended;
the instance moves then, before its next event, and is counted as ``moving``.

The swap is synchronous and must run on the server loop between events (the reloader and the handle do that);
it never scans the heap: the caller passes the instances it tracks. It knows nothing of files or servers.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import inspect
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import CodeType, FunctionType, ModuleType
from typing import Any

__all__ = [
    "ClassMap",
    "Stuck",
    "SwapReport",
    "class_fingerprint",
    "layout_problem",
    "swap_instances",
]

_log = logging.getLogger("livews.live")

Target = Callable[[type], "type | None"]
Schedule = Callable[[Coroutine[Any, Any, Any]], object]
#: ``later(instance)``: ``None`` between calls, else the ``after_call(callback)`` of its connection.
Later = Callable[[object], "Callable[[Callable[[], object]], object] | None"]
#: Called with an instance moved after its call ended, and what that move did.
Moved = Callable[[object, "SwapReport"], object]


@dataclass
class Stuck:
    """Instances of ``old`` that could not take ``new``, and why."""

    old: type
    new: type
    count: int
    reason: str


@dataclass
class SwapReport:
    """What one swap did: instances moved, classes that could not move, hook failures, time on the loop."""

    moved: int = 0
    moving: int = 0  # in a call now: they move when it ends
    stuck: list[Stuck] = field(default_factory=list)
    hook_errors: int = 0
    seconds: float = 0.0

    @property
    def stuck_count(self) -> int:
        return sum(s.count for s in self.stuck)


class ClassMap:
    """Which class each old class becomes: explicit pairs first, then same qualname in the new module.

    The qualname fallback also catches instances left on a version older than the previous one (they could not
    move last time, or moved nowhere): any class whose ``__module__`` is the file's module name is looked
    up by qualname in the new module.
    """

    def __init__(
        self,
        pairs: Mapping[type, type] | None = None,
        *,
        old_module_name: str | None = None,
        new_module: ModuleType | None = None,
    ) -> None:
        self._pairs: dict[type, type | None] = dict(pairs or {})
        self._module_name = old_module_name
        self._new_module = new_module

    def __call__(self, cls: type) -> type | None:
        try:
            return self._pairs[cls]
        except KeyError:
            pass
        target = None
        if self._new_module is not None and cls.__module__ == self._module_name:
            found = _lookup(self._new_module, cls.__qualname__)
            if isinstance(found, type) and found is not cls:
                target = found
        self._pairs[cls] = target
        return target

    def pairs(self) -> dict[type, type]:
        """Every old -> new pair known so far (explicit or resolved by qualname)."""
        return {old: new for old, new in self._pairs.items() if new is not None}

    @classmethod
    def between_modules(
        cls, old: ModuleType, new: ModuleType, explicit: Mapping[type, type] | None = None
    ) -> ClassMap:
        """Pairs for a file reload: ``explicit`` (resource path kept, class maybe renamed) and every class
        defined at the top of ``old`` that exists under the same name in ``new``."""
        pairs: dict[type, type] = {}
        for name, value in vars(old).items():
            if isinstance(value, type) and value.__module__ == old.__name__:
                found = vars(new).get(name)
                if isinstance(found, type) and found is not value:
                    pairs[value] = found
        pairs.update(explicit or {})
        return cls(pairs, old_module_name=old.__name__, new_module=new)


def swap_instances(
    instances: Iterable[object],
    target: Target,
    *,
    schedule: Schedule | None = None,
    later: Later | None = None,
    moved_later: Moved | None = None,
) -> SwapReport:
    """Give each instance whose class maps to a new class that class, then run ``on_reload(old_cls)``.

    ``schedule`` receives the coroutine of an ``async def on_reload``; without it such a coroutine is closed
    and logged as an error. The cyclic garbage collector is paused meanwhile: with many live connections a
    full collection landing inside the swap would cost more than the swap itself.
    """
    start = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = _swap(instances, target, schedule, later, moved_later)
    finally:
        if collecting:
            gc.enable()
    report.seconds = time.perf_counter() - start
    return report


def _swap(
    instances: Iterable[object],
    target: Target,
    schedule: Schedule | None,
    later: Later | None,
    moved_later: Moved | None,
) -> SwapReport:
    report = SwapReport()
    verdict: dict[type, tuple[type | None, str | None]] = {}
    moved: list[object] = []
    moved_from: list[type] = []
    stuck: dict[type, Stuck] = {}
    for instance in instances:
        old = type(instance)
        try:
            new, problem = verdict[old]
        except KeyError:
            new = target(old)
            problem = layout_problem(old, new) if new is not None else None
            verdict[old] = (new, problem)
        if new is None:
            continue
        if problem is None and later is not None:
            defer = later(instance)
            if defer is not None:
                defer(functools.partial(_move_after_call, instance, target, schedule, moved_later))
                report.moving += 1
                continue
        if problem is None:
            try:
                instance.__class__ = new
            except TypeError as exc:
                problem = str(exc)
                verdict[old] = (new, problem)
            else:
                moved.append(instance)
                moved_from.append(old)
                continue
        entry = stuck.get(old)
        if entry is None:
            entry = stuck[old] = Stuck(old, new, 0, problem)
        entry.count += 1
    report.moved = len(moved)
    report.stuck = list(stuck.values())
    with_hook = {new for new, _ in verdict.values() if new is not None and hasattr(new, "on_reload")}
    if not with_hook:
        return report
    for instance, old in zip(moved, moved_from, strict=True):
        if type(instance) not in with_hook:
            continue
        try:
            result = instance.on_reload(old)  # type: ignore[attr-defined]
        except BaseException:  # KeyboardInterrupt, SystemExit too: never out of a swap
            report.hook_errors += 1
            _log.exception("on_reload of %s raised", type(instance).__qualname__)
            continue
        if inspect.iscoroutine(result):
            if schedule is None:
                result.close()
                report.hook_errors += 1
                _log.error("async on_reload of %s has no loop to run on", type(instance).__qualname__)
            else:
                schedule(result)
    return report


def _move_after_call(
    instance: object, target: Target, schedule: Schedule | None, moved_later: Moved | None
) -> None:
    """The instance's call has ended: move it now (to the newest class, as later reloads chain)."""
    report = swap_instances([instance], target, schedule=schedule)
    if moved_later is not None:
        moved_later(instance, report)


def layout_problem(old: type, new: type) -> str | None:
    """Why instances of ``old`` cannot become ``new`` (``None`` if they can); checked once per pair."""
    if old is new:
        return None
    old_slots, new_slots = _slot_names(old), _slot_names(new)
    if old_slots != new_slots:
        return f"__slots__ differ: {sorted(old_slots)} -> {sorted(new_slots)}"
    for attr in ("__basicsize__", "__itemsize__", "__dictoffset__", "__weakrefoffset__"):
        if getattr(old, attr) != getattr(new, attr):
            return f"instance layout differs ({attr.strip('_')})"
    return None


def _slot_names(cls: type) -> frozenset[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return frozenset(names)


def _lookup(module: ModuleType, qualname: str) -> object:
    value: object = module
    for part in qualname.split("."):
        if part == "<locals>":
            return None
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def class_fingerprint(cls: type) -> str:
    """A digest of what a class does: its bases, attribute names, methods' code and simple constants.

    Two versions of a class with the same fingerprint behave the same, so a reload can say which classes
    actually changed. Source positions are left out: moving a class down a file is not a change.
    """
    digest = hashlib.sha1()
    digest.update(" ".join(base.__qualname__ for base in cls.__bases__).encode())
    for name in sorted(vars(cls)):
        if name in ("__dict__", "__weakref__", "__module__", "__doc__"):
            continue
        digest.update(name.encode())
        _feed(digest, vars(cls)[name], depth=0)
    return digest.hexdigest()


def _feed(digest: Any, value: object, depth: int) -> None:
    if depth > 8:
        return
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        for part in (value.fget, value.fset, value.fdel):
            _feed(digest, part, depth + 1)
        return
    if isinstance(value, FunctionType):
        _feed_code(digest, value.__code__)
        for default in value.__defaults__ or ():
            _feed(digest, default, depth + 1)
        return
    if isinstance(value, type):
        digest.update(class_fingerprint(value).encode() if depth < 2 else value.__qualname__.encode())
        return
    if isinstance(value, (int, float, str, bytes, bool, type(None))):
        digest.update(repr(value).encode())
        return
    if isinstance(value, (tuple, list, frozenset, set)):
        for item in value:
            _feed(digest, item, depth + 1)
        return
    digest.update(type(value).__qualname__.encode())


def _feed_code(digest: Any, code: CodeType) -> None:
    digest.update(code.co_code)
    digest.update(" ".join(code.co_names).encode())
    digest.update(" ".join(code.co_varnames).encode())
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _feed_code(digest, const)
        else:
            digest.update(repr(const).encode())
