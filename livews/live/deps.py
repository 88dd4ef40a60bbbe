"""Which files of a handlers directory import which, and in which order to load them.

A handler file uses a helper module beside it with a relative import (``from .util import shout``,
``from . import util``); those are the only imports followed, read from the source text without executing
it. A change to a helper reloads it and every file that imports it, directly or not, helpers first.

Pure functions over paths and source bytes; nothing is imported or executed here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["importers_of", "imports_of", "in_load_order"]


def imports_of(source: bytes, path: Path) -> set[Path]:
    """The existing files of ``path``'s folder that ``source`` imports relatively (no syntax check)."""
    try:
        tree = ast.parse(source, str(path))
    except (SyntaxError, ValueError):
        return set()  # loading it will report the error
    folder = path.parent
    found: set[Path] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level != 1:
            continue
        if node.module:
            candidates = [node.module.split(".")[0]]
        else:
            candidates = [alias.name for alias in node.names]
        for name in candidates:
            target = folder / f"{name}.py"
            if target != path and target.is_file():
                found.add(target)
    return found


def importers_of(changed: Iterable[Path], imports: Mapping[Path, set[Path]]) -> set[Path]:
    """Every file that imports one of ``changed``, directly or through other files (``changed`` excluded)."""
    todo = list(changed)
    seen = set(todo)
    result: set[Path] = set()
    while todo:
        target = todo.pop()
        for importer, deps in imports.items():
            if target in deps and importer not in seen:
                seen.add(importer)
                result.add(importer)
                todo.append(importer)
    return result


def in_load_order(files: Iterable[Path], imports: Mapping[Path, set[Path]]) -> list[Path]:
    """``files`` with each one after the files it imports (by name where a cycle leaves no choice)."""
    pending = sorted(set(files))
    wanted = set(pending)
    ordered: list[Path] = []
    placed: set[Path] = set()
    while pending:
        ready = [f for f in pending if not (imports.get(f, set()) & wanted) - placed - {f}]
        batch = ready or pending[:1]
        for f in batch:
            ordered.append(f)
            placed.add(f)
        pending = [f for f in pending if f not in placed]
    return ordered
