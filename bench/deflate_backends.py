"""The 8 KiB JSON echo with permessage-deflate (workload 4) per DEFLATE backend, livews against its peers.

    python bench/deflate_backends.py [--rounds 3] [--quick] [--backends zlib,zlib-ng,isal]

Each round starts a fresh server for every (implementation, backend) pair, in an order that rotates from round
to round: websockets (standard zlib only, level 1), aiohttp and livews with each backend at its
``Z_BEST_SPEED`` (aiohttp's own choice: 1 for zlib and zlib-ng, 0 for isal; aiohttp's backend set with
``aiohttp.set_zlib_backend``). Servers are pinned to core 1, this generator to core 0, as in ``run.py``,
whose workload and load generator it reuses unchanged. It prints the median and the spread of messages/s
and of server CPU µs per message, with livews/websockets and livews/aiohttp (same backend) ratios; the
``other`` column is CPU on the two cores used by neither process, i.e. how loaded the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workloads import FULL, QUICK, WORKLOADS, Target

_BENCH = Path(__file__).resolve().parent
_SERVER_CORE = 1
_GEN_CORE = 0
_READY_TIMEOUT = 30.0
_MEASURE_TIMEOUT = 300.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _measure(impl: str, backend: str, quick: bool) -> dict[str, Any]:
    workload = next(w for w in WORKLOADS if w.number == 4)
    port = _free_port()
    cmd = [sys.executable, str(_BENCH / "servers" / f"{impl}_server.py"), "--port", str(port), "--compress"]
    if impl != "websockets":
        cmd += ["--deflate-backend", backend]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=_BENCH.parent,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        preexec_fn=lambda: os.sched_setaffinity(0, {_SERVER_CORE}),
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            line = await asyncio.wait_for(
                asyncio.to_thread(proc.stdout.readline), max(0.1, deadline - time.monotonic())
            )
            if line.decode().strip() == f"READY {port}":
                break
            if not line:
                raise RuntimeError(f"{impl} exited with {proc.wait(5)}")
        target = Target("127.0.0.1", port, proc.pid, _SERVER_CORE, _GEN_CORE)
        result = await asyncio.wait_for(workload.run(target, QUICK if quick else FULL), _MEASURE_TIMEOUT)
        return result["echo_deflate"]
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


async def _run(args: argparse.Namespace) -> int:
    os.sched_setaffinity(0, {_GEN_CORE})
    backends = [b for b in args.backends.split(",") if b]
    pairs = [("websockets", "zlib")] + [(impl, b) for b in backends for impl in ("aiohttp", "livews")]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in pairs}
    for round_no in range(args.rounds):
        shift = round_no % len(pairs)
        for impl, backend in pairs[shift:] + pairs[:shift]:
            m = await _measure(impl, backend, args.quick)
            results[(impl, backend)].append(m)
            print(
                f"round {round_no + 1} {impl:10} {backend:7} {m['messages_per_s']:9.0f} msg/s  "
                f"server {m.get('server_us_per_op', float('nan')):6.1f} µs/msg  "
                f"other {m['other_cpu_pct']:5.1f}%",
                flush=True,
            )
    print()
    print(f"{'server':10} {'backend':7} {'msg/s median (min-max)':>26} {'server µs/msg':>22} {'other %':>8}")
    med: dict[tuple[str, str], tuple[float, float]] = {}
    for pair, ms in results.items():
        rate = [m["messages_per_s"] for m in ms]
        cost = [m["server_us_per_op"] for m in ms]
        other = statistics.median(m["other_cpu_pct"] for m in ms)
        med[pair] = (statistics.median(rate), statistics.median(cost))
        print(f"{pair[0]:10} {pair[1]:7} {_spread(rate, '.0f'):>26} {_spread(cost, '.1f'):>22} {other:8.1f}")
    print()
    ws_rate, ws_cost = med[("websockets", "zlib")]
    for backend in backends:
        rate, cost = med[("livews", backend)]
        aio_rate, aio_cost = med[("aiohttp", backend)]
        print(
            f"livews/{backend:7}: msg/s {rate / ws_rate:4.2f}x websockets, {rate / aio_rate:4.2f}x aiohttp; "
            f"server µs/msg {cost / ws_cost:4.2f}x websockets, {cost / aio_cost:4.2f}x aiohttp"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the quick run's warm-up and window")
    parser.add_argument("--backends", default="zlib,zlib-ng,isal")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
