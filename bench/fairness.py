"""Fairness: a canary's round trip while other clients flood the same echo server with 1-byte messages.

    python bench/fairness.py [--flooders 8] [--seconds 5] [--only livews,websockets,aiohttp]

For each server (``bench/servers/<name>_server.py --mode echo``, one fresh process each, pinned to core 1):
``--flooders`` connections, driven from a child process, write 1-byte text frames as fast as the server
takes them (64 KiB blocks, at most 256 KiB unanswered per connection) and read the echoes; meanwhile a
canary connection in this process sends one 1-byte message at a time and times its echo. Printed per server:
canary round trips (p50, p99, max, in ms) and the echoes the flooders got per second. A server that handles
each read to its end before looking at other connections shows it in the canary's p99.

Bounded: a fixed number of seconds per server, a fixed number of connections, every wait with a timeout;
loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
_SERVERS = _BENCH / "servers"
_HOST = "127.0.0.1"
_BLOCK_FRAMES = 64 * 1024 // 7  # a 1-byte masked text frame is 7 bytes
_IN_FLIGHT = 256 * 1024


def _frame(payload: bytes) -> bytes:
    """A masked text frame (key 0, so the payload goes as is; RFC 6455 §5.3 allows any key)."""
    return bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload


def _request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /echo HTTP/1.1\r\nHost: {_HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class _Peer(asyncio.Protocol):
    """A raw client: handshake, then counts echoed bytes; ``on_bytes`` is told of each read."""

    def __init__(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.opened: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.received = 0
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(_request(self.port))

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.head[: self.head.find(b"\r\n")]:
                self.opened.set_exception(ConnectionError(self.head[:80].decode(errors="replace")))
                return
            data = self.head[end + 4 :]
            self.opened.set_result(None)
        self.received += len(data)
        self.on_bytes()

    def on_bytes(self) -> None:
        pass

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.on_bytes()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(str(exc)))


class _Flooder(_Peer):
    block = _frame(b"x") * _BLOCK_FRAMES

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.sent = 0
        self.running = False

    def on_bytes(self) -> None:
        # Echoes of 1-byte texts are 3 bytes each, against 7 sent.
        while self.running and not self.paused and self.sent - self.received * 7 // 3 < _IN_FLIGHT:
            assert self.transport is not None
            self.transport.write(self.block)
            self.sent += len(self.block)


class _Canary(_Peer):
    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.waiter: asyncio.Future[None] | None = None

    def on_bytes(self) -> None:
        if self.waiter is not None and not self.waiter.done() and self.received >= 3:
            self.received -= 3
            self.waiter.set_result(None)

    async def round_trip(self, timeout: float) -> float:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        self.transport.write(_frame(b"c"))
        await asyncio.wait_for(self.waiter, timeout)
        return time.perf_counter() - start


async def _connect(cls: type[_Peer], port: int) -> _Peer:
    loop = asyncio.get_running_loop()
    _transport, peer = await asyncio.wait_for(loop.create_connection(lambda: cls(port), _HOST, port), 10)
    await asyncio.wait_for(peer.opened, 10)
    return peer


async def _flood(port: int, count: int, seconds: float) -> None:
    """The child process: ``count`` flooders for ``seconds``; prints the echoed messages per second."""
    flooders = [await _connect(_Flooder, port) for _ in range(count)]
    print("FLOODING", flush=True)
    start = time.perf_counter()
    for f in flooders:
        assert isinstance(f, _Flooder)
        f.running = True
        f.on_bytes()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - start
    echoed = sum(f.received for f in flooders) // 3
    for f in flooders:
        assert f.transport is not None
        f.transport.abort()
    print(f"ECHOED {echoed / elapsed:.0f}", flush=True)


def _start_server(name: str) -> tuple[subprocess.Popen[str], int]:
    import socket

    with socket.socket() as s:
        s.bind((_HOST, 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(_SERVERS / f"{name}_server.py"), "--port", str(port), "--mode", "echo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=_BENCH.parent,
        preexec_fn=lambda: os.sched_setaffinity(0, {1}) if hasattr(os, "sched_setaffinity") else None,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == f"READY {port}":
            return proc, port
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"{name} server did not start")


async def _measure(name: str, flooders: int, seconds: float) -> dict[str, float]:
    proc, port = _start_server(name)
    child = None
    try:
        canary = await _connect(_Canary, port)
        assert isinstance(canary, _Canary)
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood-child", str(port), str(flooders), str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        assert line.strip() == b"FLOODING", line
        times = []
        deadline = time.perf_counter() + seconds * 0.9
        while time.perf_counter() < deadline and len(times) < 100_000:
            times.append(await canary.round_trip(timeout=seconds + 30))
        out = (await asyncio.wait_for(child.stdout.read(), 60)).decode().split()
        await child.wait()
        assert canary.transport is not None
        canary.transport.abort()
    finally:
        if child is not None and child.returncode is None:
            child.kill()
        proc.terminate()
        proc.wait(10)
    times.sort()
    return {
        "p50": statistics.median(times) * 1e3,
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3,
        "max": times[-1] * 1e3,
        "round_trips": len(times),
        "flood_echoes_per_s": float(out[-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", default="livews,websockets,aiohttp")
    parser.add_argument("--flood-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.flood_child:
        port, count, seconds = args.flood_child
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {0})
        asyncio.run(_flood(int(port), int(count), float(seconds)))
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    rows = []
    for name in args.only.split(","):
        result = asyncio.run(_measure(name, args.flooders, args.seconds))
        rows.append((name, result))
        print(f"{name}: {result}", flush=True)
    print()
    print(f"canary round trip while {args.flooders} clients flood 1-byte messages ({args.seconds:g} s each)")
    print(f"{'server':<12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'trips':>8}{'flood echoes/s':>16}")
    for name, r in rows:
        print(
            f"{name:<12}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['max']:>10.2f}{r['round_trips']:>8.0f}"
            f"{r['flood_echoes_per_s']:>16,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
