"""What one batch of changed files will do, decided from what was read before anything is loaded.

A batch names files; the plan reads each once and says which files left (``gone``), which to load in which
groups (changed files, the helpers they import that are not loaded yet, and every loaded file importing a
changed one; files linked by imports are one group, in dependency order), and which earlier state each file
continues (``previous``: its own, a renamed file's, or its deleted self's). ``suspicious`` marks a read that
may be a save caught halfway (a known file now empty or missing).

Pure functions over paths, bytes and the reloader's tables; nothing is imported or executed here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .changes import similarity
from .deps import importers_of, imports_of, in_load_order
from .loader import LoadedFile

__all__ = ["Plan", "digest", "plan_batch", "read_source"]

#: A new file takes over a deleted file's state when they share at least this much of their text.
_RENAME_SIMILARITY = 0.5


@dataclass
class Plan:
    """What one batch will do, decided from what was read before anything is loaded."""

    read: dict[Path, bytes | None]
    gone: list[Path]
    groups: list[list[Path]]
    imports: dict[Path, set[Path]]
    #: For each file to load: the loaded file whose state it continues, and the file it was renamed from.
    previous: dict[Path, tuple[LoadedFile, Path | None]] = field(default_factory=dict)
    suspicious: bool = False

    @property
    def loading(self) -> list[Path]:
        return [p for group in self.groups for p in group]


def plan_batch(
    paths: list[Path],
    force: bool,
    sources: dict[Path, bytes] | None,
    files: Mapping[Path, LoadedFile],
    known_imports: Mapping[Path, set[Path]],
    departed: Mapping[Path, LoadedFile],
) -> Plan:
    """Decide what a batch does from what is on disk (or in ``sources``) now; nothing is loaded here."""
    read: dict[Path, bytes | None] = {}
    for path in paths:
        read[path] = sources[path] if sources is not None and path in sources else read_source(path)
    imports = {p: set(deps) for p, deps in known_imports.items()}
    gone = [p for p in paths if read[p] is None and p in files]
    suspicious = bool(gone) or any(read[p] == b"" and p in files for p in paths)
    changed: list[Path] = []
    for path in paths:
        source = read[path]
        if source is None:
            continue
        known = files.get(path)
        if known is not None and not force and known.digest == digest(source):
            continue
        if known is None and path.name.startswith("_") and not any(path in d for d in imports.values()):
            continue  # a private helper nobody imports (yet): nothing to load
        changed.append(path)
        imports[path] = imports_of(source, path)
    loading = set(changed)
    for importer in importers_of([*changed, *gone], imports):
        if importer in files and importer not in loading and importer not in gone:
            loading.add(importer)
            read[importer] = read_source(importer) or files[importer].source
    todo = list(loading)
    while todo:  # helpers imported for the first time load with their importers
        for dep in imports.get(todo.pop(), set()):
            if dep not in files and dep not in loading:
                source = read_source(dep)
                if source is not None:
                    read[dep] = source
                    imports[dep] = imports_of(source, dep)
                    loading.add(dep)
                    todo.append(dep)
    plan = Plan(read, gone, _groups(loading, imports), imports, suspicious=suspicious)
    _pair(plan, files, departed)
    return plan


def _groups(loading: set[Path], imports: dict[Path, set[Path]]) -> list[list[Path]]:
    """Files linked by imports load as one group (all or nothing), each in dependency order."""
    parent = {p: p for p in loading}

    def root(p: Path) -> Path:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for path in loading:
        for dep in imports.get(path, set()) & loading:
            parent[root(path)] = root(dep)
    groups: dict[Path, list[Path]] = {}
    for path in sorted(loading):
        groups.setdefault(root(path), []).append(path)
    return [in_load_order(members, imports) for members in groups.values()]


def _pair(plan: Plan, files: Mapping[Path, LoadedFile], departed: Mapping[Path, LoadedFile]) -> None:
    """Give each file to load the state it continues: its own, a renamed file's, or its deleted self's.

    A new file continues the deleted file of this batch whose text is most like its own, or the only one
    when one file left and one came (a rename or a move, whatever the order of the names); failing that,
    the file that had its name before it was deleted (a restore).
    """
    candidates = {p: files[p] for p in plan.gone}
    newcomers = []
    for path in plan.loading:
        known = files.get(path)
        if known is not None:
            plan.previous[path] = (known, None)
        else:
            newcomers.append(path)
    scored = sorted(
        (
            (similarity(plan.read[new] or b"", old.source), new, old_path)
            for new in newcomers
            for old_path, old in candidates.items()
        ),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    alone = len(newcomers) == 1 and len(candidates) == 1  # one file left, one came: a rename
    for score, new, old_path in scored:
        if score < _RENAME_SIMILARITY and not alone:
            break
        if new in plan.previous or old_path not in candidates:
            continue
        plan.previous[new] = (candidates.pop(old_path), old_path)
    for path in newcomers:
        if path not in plan.previous and path in departed:
            plan.previous[path] = (departed[path], None)


def read_source(path: Path) -> bytes | None:
    """The file's bytes, or ``None`` if it is not there (now)."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None


def digest(source: bytes) -> str:
    return hashlib.sha1(source).hexdigest()
