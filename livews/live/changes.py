"""What differs between two versions of a handler module, for the report and its warnings.

- module-level names added, removed or changed (functions by code, plain values by value);
- a resource's options (limits, origin policy, compression...) between its old and new ``Resource``;
- attributes a class assigns to ``self`` in ``__init__`` or ``on_open``: live instances were initialised by
  the old code and lack the ones the new code added, so their next event would fail on them.

Pure functions over modules, classes and resources; nothing runs user code except reading attributes.
"""

from __future__ import annotations

import dataclasses
import dis
import hashlib
from collections.abc import Iterable
from types import FunctionType, ModuleType
from typing import Any

from .keep import KEEP_ATTR, kept_names
from .swap import class_fingerprint

__all__ = ["initialised_attributes", "lacking", "name_changes", "option_changes", "similarity"]

_IGNORED_NAMES = frozenset({KEEP_ATTR, "__builtins__", "__cached__", "__loader__", "__spec__"})
_INIT_METHODS = ("__init__", "on_open")
_SKIPPED_FIELDS = frozenset({"path", "handler", "limits"})


def name_changes(old: ModuleType, new: ModuleType) -> list[str]:
    """Module-level names: ``+name`` added, ``-name`` removed, ``~name`` changed (not classes, not kept)."""
    old_ns, new_ns = vars(old), vars(new)
    skip = set(kept_names(old)) | set(kept_names(new))
    result = []
    for name in sorted(set(old_ns) | set(new_ns)):
        if name in _IGNORED_NAMES or name in skip or (name.startswith("__") and name.endswith("__")):
            continue
        before, after = old_ns.get(name, _MISSING), new_ns.get(name, _MISSING)
        if isinstance(before, (type, ModuleType)) or isinstance(after, (type, ModuleType)):
            continue
        if before is _MISSING:
            result.append(f"+{name}")
        elif after is _MISSING:
            result.append(f"-{name}")
        elif _fingerprint(before) != _fingerprint(after):
            result.append(f"~{name}")
    return result


def option_changes(old: Any, new: Any) -> list[str]:
    """``"name old -> new"`` for each option that differs between two resources of one path."""
    if not (dataclasses.is_dataclass(old) and dataclasses.is_dataclass(new)):
        return []
    changes = []
    for f in dataclasses.fields(new):
        if f.name in _SKIPPED_FIELDS or not hasattr(old, f.name):
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if _fingerprint(before) != _fingerprint(after):
            changes.append(f"{f.name} {_short(before)} -> {_short(after)}")
    return changes


def initialised_attributes(cls: type) -> dict[str, str]:
    """``{attribute: method}`` for each ``self.attribute = ...`` in the class's ``__init__``/``on_open``."""
    found: dict[str, str] = {}
    for method in _INIT_METHODS:
        func = getattr(cls, method, None)
        func = getattr(func, "__func__", func)
        if not isinstance(func, FunctionType) or not func.__code__.co_varnames:
            continue
        this = func.__code__.co_varnames[0]
        previous: Any = None
        for instruction in dis.get_instructions(func):
            if instruction.opname == "STORE_ATTR" and previous is not None:
                loaded = previous.argval
                if previous.opname.startswith("LOAD_FAST") and (
                    loaded == this or (isinstance(loaded, tuple) and loaded[-1] == this)
                ):
                    found.setdefault(instruction.argval, method)
            previous = instruction
    return found


def lacking(cls: type, instances: Iterable[object]) -> str | None:
    """One warning line if live ``instances`` (now of ``cls``) lack attributes its init methods set."""
    wanted = {a: m for a, m in initialised_attributes(cls).items() if not hasattr(cls, a)}
    if not wanted:
        return None
    count = 0
    missing: set[str] = set()
    for instance in instances:
        state = getattr(instance, "__dict__", None)
        if state is None:
            continue
        gaps = [a for a in wanted if a not in state]
        if gaps:
            count += 1
            missing.update(gaps)
    if not count:
        return None
    where = ", ".join(f"{a} (set in {wanted[a]})" for a in sorted(missing))
    noun = "instance" if count == 1 else "instances"
    return (
        f"{count} live {cls.__qualname__} {noun} lack {where}: give the class a default "
        f"({sorted(missing)[0]} = ...) or set it in on_reload(self, old_cls)"
    )


def similarity(a: bytes, b: bytes) -> float:
    """How alike two sources are, 0..1, by shared lines (order-insensitive; cheap on any size)."""
    left, right = set(a.splitlines()), set(b.splitlines())
    if not left and not right:
        return 1.0
    return len(left & right) / max(len(left | right), 1)


_MISSING = object()


def _fingerprint(value: object, depth: int = 0) -> str:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, FunctionType):
        digest = hashlib.sha1(value.__code__.co_code)
        digest.update(repr(value.__code__.co_consts).encode(errors="replace"))
        digest.update(" ".join(value.__code__.co_names).encode())
        return digest.hexdigest()
    if isinstance(value, type):
        return class_fingerprint(value)
    if isinstance(value, (int, float, str, bytes, bool, type(None))):
        return repr(value)
    if depth < 4 and isinstance(value, (tuple, list, frozenset, set)):
        items = (
            sorted(_fingerprint(v, depth + 1) for v in value)
            if isinstance(value, (set, frozenset))
            else [_fingerprint(v, depth + 1) for v in value]
        )
        return f"{type(value).__name__}({','.join(items)})"
    if depth < 4 and isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_fingerprint(v, depth + 1)}" for k, v in value.items()) + "}"
    if depth < 4 and dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ",".join(
            f"{f.name}={_fingerprint(getattr(value, f.name), depth + 1)}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__qualname__}({inner})"
    described = getattr(value, "description", None)
    if isinstance(described, str):
        return f"{type(value).__qualname__}:{described}"
    return type(value).__qualname__


def _short(value: object) -> str:
    text = repr(value)
    if isinstance(value, FunctionType):
        text = f"{value.__qualname__}()"
    return text if len(text) <= 40 else text[:37] + "..."
