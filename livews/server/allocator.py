"""Keep freed memory mapped for reuse, so large messages do not page-fault their memory in every time.

glibc's malloc serves a request above ``M_MMAP_THRESHOLD`` with a fresh ``mmap`` and hands the top of the heap
back to the kernel once more than ``M_TRIM_THRESHOLD`` of it is free. It raises both thresholds by itself as
large blocks come and go, but only up to the size of the blocks it has seen freed (and twice that), so a
server echoing 1 MiB messages on a few connections keeps crossing them: every message lands on memory the
kernel must map, zero and fault in page by page, then unmap again. Profiled on the 1 MiB echo bench, that was
most of the server's CPU. Setting the two thresholds to the ceilings glibc's own adjustment stops at (32 MiB
and 64 MiB on 64-bit) makes freed message memory stay mapped and be reused.

The cost: up to 64 MiB of freed heap may stay resident after a burst of large messages, and allocations up to
32 MiB come from the heap. It is process-wide, so ``Server(tune_allocator=False)`` leaves malloc alone. Other
C libraries (musl, macOS) have no such switches; there this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import platform

__all__ = ["keep_freed_memory"]

_log = logging.getLogger("livews.server")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit (4 MiB * sizeof(long)); its dynamic trim threshold: twice.
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's two thresholds (once per process); True if they are set, False where there is no glibc."""
    global _done
    if _done:
        return True
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
    _log.debug("malloc thresholds: mmap %d, trim %d (%s)", _MMAP_THRESHOLD, _TRIM_THRESHOLD, _done)
    return _done
