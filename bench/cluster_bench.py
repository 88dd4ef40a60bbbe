"""Cross-node broadcast: 1 KiB to N clients on 2 nodes through Redis, next to one process and python-socketio.

    python bench/cluster_bench.py                     # 5,000 clients, 30 timed broadcasts per setup
    python bench/cluster_bench.py --quick             # 1,000 clients, 10 broadcasts
    python bench/cluster_bench.py --only livews --clients 2000

Four setups run in one go, each with fresh server processes: livews in one process (its group broadcast,
no bus), livews on two nodes sharing a real ``redis-server`` (``--bus``), and python-socketio (aiohttp host)
the same two ways (``AsyncRedisManager`` for two nodes). Clients are split evenly over the nodes; one client
on the first node asks for the broadcast. Per broadcast the table gives the time from that request until the
last client has its copy (p50 and p99 over the rounds) and the CPU each node and Redis spent (from
``/proc``, whole process, per broadcast). The load generator is this process (``loadgen.py``); nothing is
pinned, so on a small machine every process shares the same cores: compare setups within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import OP_TEXT, Client, Tally, client_frame, close_all, open_clients, wait_until

HOST = "127.0.0.1"
_BENCH = Path(__file__).resolve().parent
_SERVERS = _BENCH / "servers"
_RESULTS = _BENCH / "results"
MESSAGE = ("0123456789abcdef" * 64).encode()


@dataclass(frozen=True)
class Setup:
    name: str
    impl: str  # "livews" or "socketio"
    nodes: int
    redis: bool

    @property
    def path(self) -> str:
        return "/room" if self.impl == "livews" else "/socket.io/?EIO=4&transport=websocket"

    @property
    def go(self) -> bytes:
        return client_frame(OP_TEXT, b"go" if self.impl == "livews" else b'42["go"]')

    def expected(self) -> bytes:
        return MESSAGE if self.impl == "livews" else b'42["m","' + MESSAGE + b'"]'


SETUPS = (
    Setup("livews, 1 process", "livews", 1, False),
    Setup("livews, 2 nodes + Redis", "livews", 2, True),
    Setup("python-socketio, 1 process", "socketio", 1, False),
    Setup("python-socketio, 2 nodes + Redis", "socketio", 2, True),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _start(argv: list[str], ready: str, timeout: float = 30.0) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=_SERVERS)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[1]} exited before it was ready")
        if line.startswith(ready):
            return proc
    proc.kill()
    raise RuntimeError(f"{argv[1]} not ready within {timeout:g}s")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Redis:
    """A throwaway redis-server: free port, no persistence, temp dir."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="livews-bench-redis-")
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([*argv, "--dir", self.dir], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), 1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(7).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def _cpu(proc: subprocess.Popen[Any]) -> float:
    """CPU seconds of every thread of ``proc`` so far, to the nanosecond (``/proc`` ticks are 10 ms)."""
    total = 0
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


async def _measure(setup: Setup, clients_total: int, rounds: int, redis: _Redis | None) -> dict[str, Any]:
    nodes: list[tuple[subprocess.Popen[str], int]] = []
    clients: list[Client] = []
    try:
        for index in range(setup.nodes):
            port = _free_port()
            argv = [sys.executable, f"cluster_{setup.impl}.py", "--port", str(port)]
            if setup.redis:
                assert redis is not None
                argv += ["--bus", redis.url]
                if setup.impl == "livews":
                    argv += ["--node", f"node{index + 1}"]
            nodes.append((_start(argv, "READY"), port))
        tally = Tally()
        share = clients_total // setup.nodes
        for index, (_proc, port) in enumerate(nodes):
            count = share if index < setup.nodes - 1 else clients_total - share * (setup.nodes - 1)
            clients += await open_clients(HOST, port, setup.path, count, tally=tally, timeout=300.0)
        if setup.impl == "socketio":
            # Engine.IO sends its open packet; the client then connects to the default namespace ("40").
            await wait_until(lambda: tally.messages >= clients_total, 60.0, "engine.io open packets")
            for client in clients:
                client.write(client_frame(OP_TEXT, b"40"))
            await wait_until(lambda: tally.messages >= 2 * clients_total, 60.0, "socket.io connects")
        control = clients[0]

        async def one() -> float:
            before = tally.messages
            started = time.perf_counter()
            control.write(setup.go)
            await wait_until(lambda: tally.messages >= before + clients_total, 60.0, "delivery", step=0.0002)
            return time.perf_counter() - started

        control.keep = 1
        await one()  # warm-up, and check what arrives
        if not control.kept or control.kept[-1].payload != setup.expected():
            raise AssertionError(f"{setup.name}: unexpected message {control.kept[-1:]!r}")
        for _ in range(2):
            await one()
        procs = [p for p, _ in nodes] + ([redis.proc] if setup.redis and redis is not None else [])
        cpu_before = [_cpu(p) for p in procs]
        times = []
        for _ in range(rounds):
            times.append(await one())
            await asyncio.sleep(0.02)  # let every node finish flushing before the next request
        cpu = [(_cpu(p) - b) / rounds * 1000 for p, b in zip(procs, cpu_before, strict=True)]
        if tally.messages - 2 * clients_total * (setup.impl == "socketio") != clients_total * (rounds + 3):
            raise AssertionError(f"{setup.name}: {tally.messages} messages, some copies missing or extra")
        times.sort()
        node_cpu = cpu[: setup.nodes]
        return {
            "setup": setup.name,
            "clients": clients_total,
            "rounds": rounds,
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))] * 1000,
            "node_cpu_ms": node_cpu,
            "redis_cpu_ms": cpu[setup.nodes] if setup.redis else None,
            "us_per_client": sum(node_cpu) * 1000 / clients_total,
        }
    finally:
        close_all(clients)
        for proc, _port in nodes:
            _stop(proc)


def _table(results: list[dict[str, Any]]) -> str:
    head = "| setup | clients | last copy p50 | p99 | CPU per node (ms/broadcast) | Redis CPU | µs/client |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in results:
        nodes = " + ".join(f"{c:.1f}" for c in r["node_cpu_ms"])
        redis = f"{r['redis_cpu_ms']:.2f} ms" if r["redis_cpu_ms"] is not None else "-"
        lines.append(
            f"| {r['setup']} | {r['clients']:,} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {nodes} | "
            f"{redis} | {r['us_per_client']:.2f} |"
        )
    by = {r["setup"]: r for r in results}
    pairs = [
        ("livews, 2 nodes + Redis", "python-socketio, 2 nodes + Redis", "livews ÷ python-socketio, 2 nodes"),
        ("livews, 1 process", "python-socketio, 1 process", "livews ÷ python-socketio, 1 process"),
        ("livews, 2 nodes + Redis", "livews, 1 process", "livews 2 nodes ÷ 1 process"),
    ]
    for a, b, label in pairs:
        if a in by and b in by:
            ra, rb = by[a], by[b]
            lines.append(
                f"{label}: p50 {ra['p50_ms'] / rb['p50_ms']:.2f}x, "
                f"node CPU per client {ra['us_per_client'] / rb['us_per_client']:.2f}x"
            )
    return "\n".join(lines)


async def _main(args: argparse.Namespace) -> None:
    wanted = set(args.only.split(",")) if args.only else {"livews", "socketio"}
    setups = [s for s in SETUPS if s.impl in wanted]
    redis = _Redis() if any(s.redis for s in setups) else None
    results = []
    try:
        for setup in setups:
            print(f"{setup.name}: {args.clients} clients, {args.rounds} broadcasts...", flush=True)
            results.append(await _measure(setup, args.clients, args.rounds, redis))
    finally:
        if redis is not None:
            redis.stop()
    print(_table(results))
    _RESULTS.mkdir(exist_ok=True)
    out = _RESULTS / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    print(f"results: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients", type=int, default=None, help="clients in all (default 5,000; 1,000 quick)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="timed broadcasts (default 30; 10 quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="livews, socketio or both (default both)")
    args = parser.parse_args()
    args.clients = args.clients or (1000 if args.quick else 5000)
    args.rounds = args.rounds or (10 if args.quick else 30)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
