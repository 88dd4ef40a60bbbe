"""Do other clients wait while livews (de)compresses one large message? A small echo's round trip, timed on
one connection while another connection echoes a 16 MiB compressed message.

    python bench/deflate_stall.py [--backend auto] [--size-mib 16] [--echoes 3] [--seconds 20]

A ``python -m livews serve`` process (``handlers/echo.py``, the default ``DeflateConfig`` with the chosen
backend) is pinned to core 1. A child process pinned to core 0 (the "big" client, ``websockets`` with
permessage-deflate) sends ``--echoes`` text messages of ``--size-mib`` MiB of JSON-ish text one after the
other and waits for each echo, checking it. Meanwhile this process (core 0) sends a 32-byte text message,
waits for its echo, sleeps 2 ms and again, for at most ``--seconds``; it prints the p50, p99 and max round
trip of those echoes while the big client was busy, and of up to 500 echoes beforehand with nobody else.
Bounded: every wait has a timeout, the run stops after ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
_REPO = _BENCH.parent
_SERVER_CORE = 1
_CLIENT_CORE = 0

_BIG_CLIENT = r"""
import asyncio, random, sys, time
from websockets.asyncio.client import connect

async def main(url, size, count):
    rng = random.Random(5)
    words = ["price", "order", "user", "symbol", "AAPL", "MSFT", "filled", "qty", "ts", "event"]
    record = lambda: '{"%s":%d,"%s":"%s","v":%.3f},' % (
        rng.choice(words), rng.randrange(10**6), rng.choice(words), rng.choice(words), rng.random())
    parts, total = [], 0
    while total < size:
        r = record(); parts.append(r); total += len(r)
    message = "".join(parts)[:size]
    async with connect(url, compression="deflate", max_size=None, open_timeout=30) as ws:
        print("CONNECTED", flush=True)
        for _ in range(count):
            started = time.perf_counter()
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), 300)
            assert echo == message, "echo differs"
            print("ECHO %.3f" % (time.perf_counter() - started), flush=True)
    print("DONE", flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(core: int):  # type: ignore[no-untyped-def]
    return lambda: os.sched_setaffinity(0, {core})


def _summary(rtts: list[float]) -> str:
    if not rtts:
        return "no echoes"
    ms = sorted(r * 1000 for r in rtts)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"n={len(ms):5d}  p50 {statistics.median(ms):7.2f} ms  p99 {p99:7.2f} ms  max {ms[-1]:7.2f} ms"


async def _small_echoes(
    url: str, stop: asyncio.Event, deadline: float, limit: int | None = None
) -> list[float]:
    from websockets.asyncio.client import connect

    rtts: list[float] = []
    async with connect(url, compression=None, open_timeout=30) as ws:
        message = "x" * 32
        while not stop.is_set() and time.monotonic() < deadline and (limit is None or len(rtts) < limit):
            started = time.perf_counter()
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), 120) == message
            rtts.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
    return rtts


async def _run(args: argparse.Namespace) -> int:
    os.sched_setaffinity(0, {_CLIENT_CORE})
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(_REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    serve = [sys.executable, "-m", "livews", "serve", "--no-reload", "--port", str(port)]
    serve += ["--handlers", str(_REPO / "handlers"), "--deflate-backend", args.backend]
    server = subprocess.Popen(
        serve, cwd=_REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_pinned(_SERVER_CORE),
    )  # fmt: skip
    url = f"ws://127.0.0.1:{port}/echo"
    big = None
    try:
        for _ in range(300):  # up to 30 s for the server to listen
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        baseline = await _small_echoes(url, asyncio.Event(), time.monotonic() + args.seconds, limit=500)
        big = subprocess.Popen(
            [sys.executable, "-c", _BIG_CLIENT, url, str(args.size_mib * 2**20), str(args.echoes)],
            stdout=subprocess.PIPE, text=True, preexec_fn=_pinned(_CLIENT_CORE),
        )  # fmt: skip
        assert big.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(big.stdout.readline), 60)
        assert line.strip() == "CONNECTED", line
        stop = asyncio.Event()
        small = asyncio.create_task(_small_echoes(url, stop, time.monotonic() + args.seconds))
        echoes = []
        while True:
            line = await asyncio.wait_for(asyncio.to_thread(big.stdout.readline), args.seconds + 60)
            if not line or line.strip() == "DONE":
                break
            echoes.append(float(line.split()[1]))
        stop.set()
        during = await small
        print(f"backend {args.backend}, {args.echoes} echoes of {args.size_mib} MiB compressed text")
        print(f"  big echo round trips: {', '.join(f'{e:.2f} s' for e in echoes)}")
        print(f"  small echoes alone:        {_summary(baseline)}")
        print(f"  small echoes during big:   {_summary(during)}")
        print(f"  load average: {os.getloadavg()[0]:.1f} (2 cores)")
        return 0 if len(echoes) == args.echoes else 1
    finally:
        for proc in (big, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", choices=("auto", "zlib", "zlib-ng", "isal"))
    parser.add_argument("--size-mib", type=int, default=16)
    parser.add_argument("--echoes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    random.seed(0)
    sys.exit(main())
