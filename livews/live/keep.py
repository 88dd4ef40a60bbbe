"""Module-level state that survives a hot reload: ``messages = keep("messages", [])``.

A handler file is re-executed into a fresh module on every save, so a plain ``messages = []`` starts empty
again. A file asks for a value to be carried over by binding it through :func:`keep` at module level::

    from livews import keep             # also livews.live.keep

    messages = keep("messages", [])     # the list the previous version held, or [] the first time
    visits = keep("visits", 0)          # rebinding it later (``global visits; visits += 1``) is fine

The name passed must be the module global it is bound to: on reload the loader reads that global's *current*
value from the old module, so rebinding an immutable value is carried over too. If the kept value's type
differs from the new default's type (``keep("messages", {})`` after a list), the default wins and the
reload reports the reset; rename the variable to start fresh on purpose.

Outside a reload (first load, or a plain ``import``), :func:`keep` returns the default. This module knows
nothing about servers; the loader opens a :func:`carrying` window around the module's execution.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

__all__ = ["KEEP_ATTR", "carrying", "keep", "kept_names", "kept_values"]

_T = TypeVar("_T")

#: Module attribute listing the names a file passed to ``keep`` (in call order).
KEEP_ATTR = "__livews_keep__"


@dataclass
class _Carry:
    namespace: dict[str, Any]
    previous: Mapping[str, Any]
    carried: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    given: dict[str, Any] = field(default_factory=dict)


_carry: ContextVar[_Carry | None] = ContextVar("livews_keep_carry", default=None)


def keep(name: str, default: _T) -> _T:
    """Return the value the previous version of this module held under ``name``, else ``default``.

    Call it at module level and bind the result to the same name. ``default`` is returned on a first load,
    when the previous version did not keep ``name``, or when the kept value's type differs from
    ``type(default)`` (``None`` defaults accept any kept value).
    """
    namespace = sys._getframe(1).f_globals
    names: list[str] = namespace.setdefault(KEEP_ATTR, [])
    if name not in names:
        names.append(name)
    carry = _carry.get()
    if carry is None or carry.namespace is not namespace or name not in carry.previous:
        return default
    value = carry.previous[name]
    if default is not None and type(value) is not type(default):
        carry.reset.append(name)
        return default
    carry.carried.append(name)
    carry.given[name] = value
    return value  # type: ignore[no-any-return,unused-ignore]


def kept_names(module: ModuleType | None) -> tuple[str, ...]:
    """The names ``module`` passed to :func:`keep`."""
    if module is None:
        return ()
    return tuple(vars(module).get(KEEP_ATTR, ()))


def kept_values(module: ModuleType | None) -> dict[str, Any]:
    """The current values of ``module``'s kept globals (read now, so rebinding is seen)."""
    if module is None:
        return {}
    namespace = vars(module)
    return {name: namespace[name] for name in kept_names(module) if name in namespace}


@contextmanager
def carrying(namespace: dict[str, Any], previous: Mapping[str, Any]) -> Iterator[_Carry]:
    """While a module executes into ``namespace``, let its ``keep`` calls see ``previous`` values.

    The yielded object lists afterwards which names were carried and which were reset.
    """
    carry = _Carry(namespace, previous)
    token = _carry.set(carry)
    try:
        yield carry
    finally:
        _carry.reset(token)
