"""Wait for a save to finish: until the files named have not changed for a while.

Editors save in several steps (truncate then write, write a temporary file then rename it, rename the old
file away then write a new one), and a slow writer may pause between two writes. A file is taken as saved
once nothing about it (inode, size, modification time) changed for ``quiet`` seconds. Its age is read from
its modification time, so a file saved a while ago costs no wait; a missing file is as old as the last change
to its folder.

Runs on the server loop; only ``os.stat`` and ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

__all__ = ["settle"]


async def settle(paths: list[Path], quiet: float) -> None:
    """Wait until nothing changed in ``paths`` for ``quiet`` seconds (bounded by 20 times that).

    A file's age is read from its modification time, so a file saved a while ago costs no wait; a missing
    file is as old as the last change to its folder (a rename, a delete, a create).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(quiet * 20, 1.0)
    last = [_signature(p) for p in paths]
    changed_at = 0.0  # wall clock of the last change seen while polling
    while loop.time() < deadline:
        age = time.time() - max(changed_at, _newest(paths, last))
        if age >= quiet:
            return
        await asyncio.sleep(min(max(quiet - age, 0.005), 0.05))
        now = [_signature(p) for p in paths]
        if now != last:
            last, changed_at = now, time.time()


def _newest(paths: list[Path], signatures: list[tuple[int, int, int] | None]) -> float:
    """Wall-clock time of the latest change to ``paths`` that their metadata shows."""
    newest = max((s[2] for s in signatures if s is not None), default=0) / 1e9
    if any(s is None for s in signatures):
        for folder in {p.parent for p, s in zip(paths, signatures, strict=True) if s is None}:
            try:
                newest = max(newest, os.stat(folder).st_mtime_ns / 1e9)
            except OSError:
                pass
    return newest


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
