"""What the runner watches while a workload runs: CPU of server, generator and each core; server RSS.

Server CPU near 100% of its core while the generator's stays below means the server is the bottleneck, which
is the point of every throughput figure. ``other`` is the busy time on the two cores that neither process
accounts for (other programs on the machine, interrupts): a large value means the figure is disturbed.
This module knows nothing about WebSocket.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import psutil

__all__ = ["CpuSample", "CpuWindow", "rss_bytes", "wait_idle"]


def _busy(times: object) -> float:
    total = sum(times)  # type: ignore[call-overload]
    idle = getattr(times, "idle", 0.0) + getattr(times, "iowait", 0.0)
    return float(total - idle)


def _proc_cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


@dataclass(frozen=True)
class CpuSample:
    """CPU use over one window, each as a percentage of one core."""

    seconds: float
    server: float
    generator: float
    server_core: float
    generator_core: float
    other: float

    def per_op(self, ops: int) -> dict[str, float]:
        """CPU microseconds per operation of server and generator: comparable even when nobody saturates."""
        if ops <= 0:
            return {}
        scale = self.seconds / 100 / ops * 1e6
        return {
            "server_us_per_op": round(self.server * scale, 3),
            "generator_us_per_op": round(self.generator * scale, 3),
        }

    def as_dict(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 4),
            "server_cpu_pct": round(self.server, 1),
            "generator_cpu_pct": round(self.generator, 1),
            "server_core_busy_pct": round(self.server_core, 1),
            "generator_core_busy_pct": round(self.generator_core, 1),
            "other_cpu_pct": round(self.other, 1),
        }


class CpuWindow:
    """CPU between ``start()`` and ``stop()``; the server runs on ``server_core``, we on ``gen_core``."""

    def __init__(self, server_pid: int, server_core: int, gen_core: int) -> None:
        self._server = psutil.Process(server_pid)
        self._me = psutil.Process(os.getpid())
        self._cores = (server_core, gen_core)
        self._t0 = 0.0
        self._server0 = 0.0
        self._me0 = 0.0
        self._cores0: tuple[float, float] = (0.0, 0.0)

    def _core_busy(self) -> tuple[float, float]:
        per = psutil.cpu_times(percpu=True)
        return _busy(per[self._cores[0]]), _busy(per[self._cores[1]])

    def start(self) -> None:
        self._server0 = _proc_cpu(self._server)
        self._me0 = _proc_cpu(self._me)
        self._cores0 = self._core_busy()
        self._t0 = time.perf_counter()

    def server_cpu_seconds(self) -> float:
        """Server CPU seconds since ``start()``."""
        return _proc_cpu(self._server) - self._server0

    def stop(self) -> CpuSample:
        elapsed = time.perf_counter() - self._t0
        server = _proc_cpu(self._server) - self._server0
        me = _proc_cpu(self._me) - self._me0
        cores = self._core_busy()
        server_core = cores[0] - self._cores0[0]
        gen_core = cores[1] - self._cores0[1]
        other = max(0.0, server_core + gen_core - server - me)
        pct = 100.0 / elapsed if elapsed > 0 else 0.0
        return CpuSample(elapsed, server * pct, me * pct, server_core * pct, gen_core * pct, other * pct)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` from /proc/PID/status (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def wait_idle(pid: int, *, quiet: float = 0.002, step: float = 0.1, timeout: float = 5.0) -> bool:
    """Wait until ``pid`` used under ``quiet`` CPU seconds in one ``step``; False if it never did in time."""
    proc = psutil.Process(pid)
    deadline = time.perf_counter() + timeout
    last = _proc_cpu(proc)
    while time.perf_counter() < deadline:
        await asyncio.sleep(step)
        now = _proc_cpu(proc)
        if now - last < quiet:
            return True
        last = now
    return False
