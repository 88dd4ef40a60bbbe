"""What one load, reload, rename, removal, rollback or live replace did, told in one line.

A report says what changed (classes, classes renamed, module-level names, resource options), what happened
to live connections (moved now, moving when their running call ends, stuck on the old class, options they
keep), what was carried over (``keep``), and what to look at (attributes that live instances lack). The
line is what the prompt prints; ``details()`` adds the failing source line or traceback.

This module only formats; the reloader fills the fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .loader import LoadError
from .swap import Stuck

__all__ = ["ReloadReport", "count"]


@dataclass
class ReloadReport:
    """What one change did; ``str()`` is the one line the REPL prints."""

    # "load", "reload", "rename", "remove", "rollback", "register", "unregister", "restart", "note"
    kind: str
    source: str
    error: LoadError | None = None
    renamed_from: str = ""  # a file renamed or moved: its previous name
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)  # "Old -> New" classes, same resource path
    names: list[str] = field(default_factory=list)  # module-level names: "+added", "-removed", "~changed"
    options: list[str] = field(default_factory=list)  # "/path max_clients 5 -> 10"
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_live: int = 0
    moved: int = 0
    moving: int = 0
    stuck: list[Stuck] = field(default_factory=list)
    hook_errors: int = 0
    carried: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    lacking: list[str] = field(default_factory=list)  # per class: attributes live instances lack
    also: list[str] = field(default_factory=list)  # files changed together with this one
    note: str = ""
    seconds: float = 0.0
    swap_seconds: float = 0.0
    at: float = field(default_factory=time.time)  # when the change was made (wall clock)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stuck_count(self) -> int:
        """Instances that could not move to their new class (they keep running the old one)."""
        return sum(s.count for s in self.stuck)

    def __str__(self) -> str:
        if self.error is not None:
            with_it = f" (with {', '.join(self.also)})" if self.also else ""
            if self.kind == "load":
                return f"load failed: {self.error}; not served until fixed{with_it}"
            return f"reload failed: {self.error}; still running the previous version{with_it}"
        if self.kind == "restart":
            return f"restart required: {self.source} changed (only handler files reload live)"
        if self.kind == "note":
            return f"{self.source}: {self.note}"
        source = f"{self.renamed_from} -> {self.source}" if self.renamed_from else self.source
        parts = [f"{_VERBS.get(self.kind, self.kind)} {source}"]
        if self.also:
            parts.append(f"with {', '.join(self.also)}")
        if self.changed:
            parts.append(f"changed {', '.join(self.changed)}")
        if self.renamed:
            parts.append(f"renamed {', '.join(self.renamed)}")
        if self.kind in ("reload", "rollback") and not (self.changed or self.renamed):
            parts.append("no class changed")
        if self.names:
            parts.append(f"names {' '.join(self.names)}")
        if self.added:
            parts.append(f"serving {', '.join(self.added)}")
        if self.removed:
            kept = f" ({count(self.kept_live, 'live connection')} kept)" if self.kept_live else ""
            parts.append(f"stopped accepting {', '.join(self.removed)}{kept}")
        if self.options:
            parts.append(
                f"options {'; '.join(self.options)} (live connections keep the ones they were accepted with)"
            )
        if self.kind in ("reload", "register", "rename", "rollback") or self.moved or self.moving:
            moved = f"{count(self.moved, 'instance')} moved"
            if self.moving:
                moved += f", {self.moving} moving when their current call ends"
            parts.append(moved)
        for stuck in self.stuck:
            who = f"{count(stuck.count, 'instance')} of {stuck.old.__qualname__}"
            parts.append(f"{who} NOT moved: {stuck.reason}")
        if self.hook_errors:
            parts.append(f"{count(self.hook_errors, 'on_reload error')} (see log)")
        if self.carried:
            parts.append(f"kept {', '.join(self.carried)}")
        if self.reset:
            parts.append(f"reset {', '.join(self.reset)} (new type)")
        for warning in self.lacking:
            parts.append(f"WARNING {warning}")
        if self.note:
            parts.append(self.note)
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
    "rename": "renamed",
    "remove": "removed",
    "rollback": "rolled back",
    "register": "registered",
    "unregister": "unregistered",
}


def count(n: int, noun: str) -> str:
    """``1 client``, ``3 clients``: a number and its noun, in the plural unless it is one."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
