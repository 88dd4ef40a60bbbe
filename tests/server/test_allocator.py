"""``Server(tune_allocator=True)`` (the default) keeps freed memory mapped; ``False`` leaves malloc alone.

What is checked is the effect, in a fresh process each time (the setting is process-wide): a large block that
is freed and allocated again must not be faulted in again page by page. glibc's defaults give a fresh 8 MiB
block its own ``mmap``, returned to the kernel on ``free``, so the second allocation faults in every page; the
probe first checks that it sees exactly that without tuning, so it can tell the two apart.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

_GLIBC = platform.libc_ver()[0] == "glibc"

_PROBE = textwrap.dedent(
    """
    import asyncio, resource, sys
    from livews import Resource, Server
    from livews.handler import Handler

    how = sys.argv[1]
    if how != "untouched":
        async def start_and_stop():
            server = Server([Resource("/", Handler)], port=0, tune_allocator=how == "server-default")
            await server.start()
            await server.close(timeout=1)
        asyncio.run(start_and_stop())

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    block = b"x" * (8 << 20)  # touched, so resident
    del block
    before = faults()
    block = b"y" * (8 << 20)
    print(faults() - before)
    """
)


def _refaults(how: str) -> int:
    """Pages faulted in when an 8 MiB block is allocated again right after one was freed."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, how], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(not _GLIBC, reason="glibc's malloc is the one with these thresholds")
def test_the_probe_sees_a_freed_large_block_faulted_in_again_without_tuning() -> None:
    assert _refaults("untouched") > 1000  # 8 MiB is 2048 pages


@pytest.mark.skipif(not _GLIBC, reason="glibc's malloc is the one with these thresholds")
def test_a_server_keeps_freed_memory_mapped_for_reuse_by_default() -> None:
    assert _refaults("server-default") < 64


@pytest.mark.skipif(not _GLIBC, reason="glibc's malloc is the one with these thresholds")
def test_tune_allocator_false_leaves_malloc_alone() -> None:
    assert _refaults("server-opted-out") > 1000
