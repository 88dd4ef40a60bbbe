"""Soak: well-behaved clients of mixed sizes for a while, next to clients that misbehave in every known way.

    python bench/soak.py [--seconds 60] [--clients 40] [--untuned]

A livews server runs in a child process (its resident memory read from ``/proc``) with deliberately tight
limits: 1 MiB messages, a 4 MiB write buffer, a 2 s handshake timeout. Against it, all on loopback:

- ``--clients`` well-behaved clients (the ``websockets`` client, half of them with permessage-deflate, half
  on a plain handler and half on an ``async`` one) send messages of 16 B to 300 KB and check every echo;
- a canary sends 16 bytes every 20 ms and times the echo;
- misbehaving clients, each kind in a loop until the end: flooders (64 KiB blocks of 1-byte messages),
  non-readers (ask for echoes, read nothing), drippers (a frame one byte at a time), slowloris heads (a
  request head one byte at a time), deflate bombs (16 MiB of zeros, compressed), invalid UTF-8.

Printed at the end: messages lost and unexpected drops among the well-behaved, the canary's round trip
p50/p99, what happened to each kind of misbehaving client, and the server's resident memory at the start,
at its peak and after everyone left. Bounded: ``--seconds`` of load (default 60), fixed client counts, every
wait with a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadgen import client_frame, deflate_message

_REPO = Path(__file__).resolve().parent.parent
_PATHS = ("echo", "async")
_HOST = "127.0.0.1"
MIB = 1024 * 1024

_SERVER = """
import asyncio, inspect, sys
from livews import Handler, Resource, Server

class Echo(Handler):
    def on_text(self, message):
        self.send_text(message)

    def on_binary(self, payload):
        self.send_binary(payload)

class AsyncEcho(Handler):
    async def on_text(self, message):
        await asyncio.sleep(0)
        self.send_text(message)

    async def on_binary(self, payload):
        await asyncio.sleep(0)
        self.send_binary(payload)

async def main():
    limits = dict(max_message_size=1024 * 1024, max_frame_size=1024 * 1024)
    options = dict(handshake_timeout=2.0, close_timeout=2.0, max_write_buffer=4 * 1024 * 1024)
    if "max_connections" in inspect.signature(Server).parameters:  # so the soak also runs on older trees
        options["max_connections"] = 1000
    server = Server(
        [Resource("/echo", Echo, **limits), Resource("/async", AsyncEcho, **limits)],
        port=0, tune_allocator=sys.argv[1] == "tuned", **options,
    )
    await server.start()
    print("READY", server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.close(timeout=2)

asyncio.run(main())
"""


@dataclass
class Stats:
    sent: int = 0
    echoed: int = 0
    corrupt: int = 0
    drops: list[str] = field(default_factory=list)
    canary: list[float] = field(default_factory=list)
    bad: collections.Counter[str] = field(default_factory=collections.Counter)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _masked(opcode: int, payload: bytes, *, rsv1: bool = False) -> bytes:
    """A client frame with a zero mask key (the payload goes as is)."""
    return client_frame(opcode, payload, rsv1=rsv1, key=b"\0\0\0\0")


async def _raw(port: int, path: str = "/echo", extensions: str | None = None, rcvbuf: int | None = None):
    """A raw connection after a successful handshake: (reader, writer)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (_HOST, port)), 10)
    reader, writer = await asyncio.open_connection(sock=sock, limit=MIB)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {path} HTTP/1.1\r\nHost: {_HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    )
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    writer.write((head + "\r\n").encode())
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if b" 101 " not in response.split(b"\r\n", 1)[0]:
        writer.close()
        raise ConnectionError(response.split(b"\r\n", 1)[0].decode())
    return reader, writer


async def _close_code(reader: asyncio.StreamReader, timeout: float) -> str:
    """Read until the server's close frame (its code) or the end of the stream."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                head = await reader.readexactly(2)
                n = head[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(n)
                if head[0] & 0x0F == 8:
                    return str(int.from_bytes(payload[:2], "big")) if len(payload) >= 2 else "close"
    except asyncio.IncompleteReadError:
        return "eof"
    except (ConnectionError, OSError):
        return "reset"
    except TimeoutError:
        return "no answer"


async def _good(url: str, rng: random.Random, deadline: float, stats: Stats, deflate: bool) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sizes = [16, 100, 1_000, 8_000, 64_000, 300_000]
    try:
        async with connect(url, max_size=None, compression="deflate" if deflate else None) as ws:
            while time.monotonic() < deadline:
                size = rng.choice(sizes)
                message: str | bytes
                message = rng.randbytes(size) if rng.random() < 0.5 else "é" * (size // 2)
                await ws.send(message)
                stats.sent += 1
                reply = await asyncio.wait_for(ws.recv(), 30)
                if reply == message:
                    stats.echoed += 1
                else:
                    stats.corrupt += 1
                await asyncio.sleep(rng.uniform(0, 0.05))
    except (ConnectionClosed, OSError, TimeoutError) as exc:
        stats.drops.append(f"{type(exc).__name__}: {exc}")


async def _canary_child(url: str, seconds: float) -> None:
    """In a process of its own, so that the other clients' work does not count in its round trips."""
    from websockets.asyncio.client import connect

    deadline = time.monotonic() + seconds
    times = []
    async with connect(url) as ws:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            await ws.send("c" * 16)
            await asyncio.wait_for(ws.recv(), 30)
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.02)
    print(" ".join(f"{t:.6f}" for t in times))


async def _canary(url: str, deadline: float, stats: Stats) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--canary-child", url, str(deadline - time.monotonic()),
        stdout=asyncio.subprocess.PIPE, cwd=_REPO, env=dict(os.environ, PYTHONPATH=str(_REPO)),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(child.communicate(), deadline - time.monotonic() + 60)
    stats.canary = [float(t) for t in out.split()]


async def _flooder(port: int, deadline: float, stats: Stats) -> None:
    block = _masked(1, b"x") * (64 * 1024 // 7)
    while time.monotonic() < deadline:
        reader, writer = await _raw(port)

        async def drain_replies(r: asyncio.StreamReader = reader) -> None:
            while await r.read(1 << 16):
                pass

        reading = asyncio.ensure_future(drain_replies())
        end = min(deadline, time.monotonic() + 5)
        while time.monotonic() < end:
            writer.write(block)
            await writer.drain()
            stats.bad["flood blocks sent"] += 1
        writer.transport.abort()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def _non_reader(port: int, deadline: float, stats: Stats) -> None:
    request = _masked(2, b"n" * 500_000)
    while time.monotonic() < deadline:
        reader, writer = await _raw(port, rcvbuf=4096)
        outcome = "still open at the end"
        try:
            for _ in range(200):  # 100 MB of echoes asked for, none read
                writer.write(request)
                await asyncio.wait_for(writer.drain(), 10)
                await asyncio.sleep(0.01)
                if writer.transport.is_closing() or reader.at_eof():
                    break
        except (ConnectionError, OSError, TimeoutError):
            outcome = "dropped"
        else:
            outcome = "dropped" if reader.at_eof() or writer.transport.is_closing() else outcome
        if outcome != "dropped":
            # What the server did shows once we read: the echoes it sent, then its close (1008) or EOF.
            outcome = await _close_code(reader, 15)
            outcome = "dropped" if outcome in ("eof", "reset", "1008") else outcome
        stats.bad[f"non-reader: {outcome}"] += 1
        writer.transport.abort()


async def _dripper(port: int, deadline: float, stats: Stats) -> None:
    while time.monotonic() < deadline:
        _reader, writer = await _raw(port)
        frame = _masked(2, b"d" * 65_536)
        end = min(deadline, time.monotonic() + 5)
        i = 0
        while time.monotonic() < end and i < len(frame):
            writer.write(frame[i : i + 1])
            i += 1
            await asyncio.sleep(0.005)
        stats.bad["dripper bytes"] += i
        writer.transport.abort()


async def _slowloris(port: int, deadline: float, stats: Stats) -> None:
    head = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 10_000
    while time.monotonic() < deadline:
        reader, writer = await asyncio.open_connection(_HOST, port)
        outcome = "not dropped"
        for byte in head:
            writer.write(bytes((byte,)))
            try:
                if await asyncio.wait_for(reader.read(1024), 0.2) == b"":
                    outcome = "dropped"
                    break
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                outcome = "dropped"
                break
            if time.monotonic() > deadline + 10:
                break
        stats.bad[f"slowloris: {outcome}"] += 1
        writer.transport.abort()


async def _bomb(port: int, deadline: float, stats: Stats) -> None:
    payload = deflate_message(b"\0" * (16 * MIB), level=9)
    while time.monotonic() < deadline:
        reader, writer = await _raw(port, extensions="permessage-deflate")
        writer.write(_masked(2, payload, rsv1=True))
        stats.bad[
            f"deflate bomb ({len(payload) // 1024} KiB -> 16 MiB): {await _close_code(reader, 10)}"
        ] += 1
        writer.transport.abort()
        await asyncio.sleep(0.2)


async def _bad_utf8(port: int, deadline: float, stats: Stats) -> None:
    while time.monotonic() < deadline:
        reader, writer = await _raw(port)
        writer.write(_masked(1, b"ok \xff\xfe"))
        stats.bad[f"invalid UTF-8: {await _close_code(reader, 10)}"] += 1
        writer.transport.abort()
        await asyncio.sleep(0.2)


async def _soak(args: argparse.Namespace) -> int:
    log = open(args.log, "w+")  # closed below, once the server has exited
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, "untuned" if args.untuned else "tuned"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=_REPO,
        env=dict(os.environ, PYTHONPATH=str(_REPO)),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line and line[0] == "READY", line
        port = int(line[1])
        stats = Stats()
        baseline = _rss(proc.pid)
        peak = baseline
        deadline = time.monotonic() + args.seconds
        base = f"ws://{_HOST}:{port}"
        tasks = [
            asyncio.ensure_future(
                _good(
                    f"{base}/{'async' if i % 4 >= 2 else 'echo'}",
                    random.Random(i),
                    deadline,
                    stats,
                    i % 2 == 1,
                )
            )
            for i in range(args.clients)
        ]
        tasks.append(asyncio.ensure_future(_canary(f"{base}/echo", deadline, stats)))
        for make, count in () if args.well_behaved_only else (
            (_flooder, 2), (_non_reader, 2), (_dripper, 2), (_slowloris, 20), (_bomb, 1), (_bad_utf8, 1),
        ):  # fmt: skip
            tasks += [asyncio.ensure_future(make(port, deadline, stats)) for _ in range(count)]
        while not all(t.done() for t in tasks):
            peak = max(peak, _rss(proc.pid))
            await asyncio.sleep(0.25)
            if time.monotonic() > deadline + 60:
                break
        errors = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(5)  # handshake and close timeouts (2 s each) for whoever is still half there
        final = _rss(proc.pid)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        logged = log.read().splitlines()
        log.close()
    c = sorted(stats.canary)
    lost = stats.sent - stats.echoed - stats.corrupt
    allocator = "untuned" if args.untuned else "tuned"
    print(f"soak: {args.seconds:g} s, {args.clients} well-behaved clients, allocator {allocator}")
    print(f"  well-behaved: {stats.sent} messages sent, {stats.echoed} echoed, lost {lost}, ", end="")
    print(f"corrupt {stats.corrupt}, unexpected drops {len(stats.drops)}")
    for drop in stats.drops[:5]:
        print(f"    drop: {drop}")
    if c:
        p50, p99 = statistics.median(c) * 1e3, c[min(len(c) - 1, int(len(c) * 0.99))] * 1e3
        print(f"  canary: {len(c)} round trips, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {c[-1] * 1e3:.2f} ms")
    for what, n in sorted(stats.bad.items()):
        print(f"  {what}: {n}")
    for exc in errors[:5]:
        print(f"  client task error: {type(exc).__name__}: {exc}")
    kinds = collections.Counter(
        "traceback" if line.startswith("Traceback") else line.split(" with ")[0].split(" <")[0][:40]
        for line in logged
        if not line.startswith(" ")
    )
    summary = ", ".join(f"{k!r} x{n}" for k, n in kinds.items())
    print(f"  server log: {len(logged)} lines ({args.log}): {summary}")
    print(f"  server RSS: start {baseline / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB, ", end="")
    print(f"after everyone left {final / MIB:.1f} MiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--log", default="/tmp/livews-soak-server.log", help="where the server's log goes")
    parser.add_argument("--untuned", action="store_true", help="server with tune_allocator=False")
    parser.add_argument(
        "--well-behaved-only", action="store_true", help="no misbehaving clients: the same load as a baseline"
    )
    parser.add_argument("--canary-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.canary_child:
        asyncio.run(_canary_child(args.canary_child[0], min(float(args.canary_child[1]), 3600.0)))
        return 0
    args.seconds = min(args.seconds, 3600.0)
    args.clients = min(args.clients, 500)
    return asyncio.run(_soak(args))


if __name__ == "__main__":
    sys.exit(main())
