"""Hot-reload latency: from a handler file save to the new code answering, with N live connections moved.

For each N (default 0, 1,000 and 10,000 idle connections, held by a child process so neither side runs out of
file descriptors), the bench saves a new version of an echo handler many times. After each save a probe
client that keeps exchanging messages on its own connection measures the time until a reply comes from the
new version. The server's reload report gives the swap time (moving every instance) separately. A last
section times the swap alone on N plain instances, without server or files.

    python bench/reload_bench.py                       # N = 0, 1000, 10000; 40 saves each
    python bench/reload_bench.py --connections 10000 --saves 100

Targets: median save-to-answer under 150 ms; swap under 20 ms for 10,000 instances.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets

from livews.live import LiveServer, start
from livews.live.loader import load_file
from livews.live.swap import ClassMap, swap_instances

HANDLER = """\
from livews import Handler, resource


@resource("/echo")
class Echo(Handler):
    def on_open(self):
        self.seen = 0

    def on_text(self, text):
        self.seen += 1
        self.send_text("v{version} " + text)
"""


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------- idle connection holder


async def _hold(port: int, count: int) -> None:
    """Child process: open ``count`` idle WebSocket connections to /echo, say so, wait for stdin to close."""
    gate = asyncio.Semaphore(200)
    writers = []

    async def one() -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                (
                    f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(head.decode(errors="replace"))
            writers.append(writer)

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"ready {len(writers)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in writers:
        writer.close()


# --------------------------------------------------------------------------------------------- server bench


async def _probe_saves(
    url: str, handler: Path, saves: int, server: LiveServer
) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    swaps: list[float] = []
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send("hello")
        assert (await ws.recv()).startswith("v0 ")
        for version in range(1, saves + 1):
            reports_before = server.report_count
            _write_atomically(handler, HANDLER.format(version=version))
            saved = time.perf_counter()
            prefix = f"v{version} "
            for _ in range(1_000_000):
                await ws.send("probe")
                reply = await asyncio.wait_for(ws.recv(), 10)
                if reply.startswith(prefix):
                    break
            latencies.append(time.perf_counter() - saved)
            report = await asyncio.to_thread(server.wait_report, reports_before, 10)
            if not report.ok:
                raise RuntimeError(str(report))
            swaps.append(report.swap_seconds)
    return latencies, swaps


def bench_server(connections: int, saves: int, step_ms: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        handler = Path(tmp) / "echo.py"
        handler.write_text(HANDLER.format(version=0))
        with start(tmp, port=0, reload_step_ms=step_ms) as server:
            holder = None
            if connections:
                holder = subprocess.Popen(
                    [sys.executable, __file__, "--hold", str(server.port), str(connections)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert holder.stdout is not None
                line = holder.stdout.readline()
                if not line.startswith("ready"):
                    raise RuntimeError(f"holder failed: {line!r}")
                seen = 0
                for _ in range(1000):
                    seen = len(server.clients("/echo"))
                    if seen >= connections:
                        break
                    time.sleep(0.01)
            try:
                latencies, swaps = asyncio.run(_probe_saves(server.url + "/echo", handler, saves, server))
                moved = server.reports[-1].moved
            finally:
                if holder is not None:
                    assert holder.stdin is not None
                    holder.stdin.close()
                    holder.wait(30)
    return {
        "connections": connections,
        "moved": moved,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": _pct(latencies, 0.95) * 1000,
        "swap_median_ms": statistics.median(swaps) * 1000,
        "swap_p95_ms": _pct(swaps, 0.95) * 1000,
    }


# ------------------------------------------------------------------------------------------------ swap alone


def bench_swap(count: int, rounds: int) -> dict[str, float]:
    """Time ``swap_instances`` on ``count`` instances of a plain class, alternating two module versions."""

    def classes(module: ModuleType) -> list[type]:
        return []

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plain.py"
        source = (
            "class Echo:\n    def __init__(self):\n        self.seen = 0\n"
            "    def on_reload(self, old):\n        pass\n"
        )
        path.write_text(source)
        module = load_file(path, classes).module
        instances = [module.Echo() for _ in range(count)]
        times = []
        for round_ in range(rounds):
            path.write_text(source + f"VERSION = {round_}\n")
            new = load_file(path, classes, module).module
            report = swap_instances(instances, ClassMap.between_modules(module, new))
            assert report.moved == count
            times.append(report.seconds)
            module = new
    return {
        "instances": count,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": _pct(times, 0.95) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", default="0,1000,10000", help="comma-separated N of idle connections")
    parser.add_argument("--saves", type=int, default=40, help="saves per N")
    parser.add_argument("--step-ms", type=int, default=30, help="watcher quiet period before a reload")
    parser.add_argument("--hold", nargs=2, type=int, metavar=("PORT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        asyncio.run(_hold(*args.hold))
        return
    counts = [int(n) for n in args.connections.split(",") if n]
    print(f"reload latency: save -> new code answering ({args.saves} saves, watcher step {args.step_ms} ms)")
    print(f"{'connections':>11}  {'moved':>6}  {'median':>9}  {'p95':>9}  {'swap med':>9}  {'swap p95':>9}")
    for n in counts:
        r = bench_server(n, args.saves, args.step_ms)
        print(
            f"{r['connections']:>11}  {r['moved']:>6}  {r['median_ms']:>6.1f} ms  {r['p95_ms']:>6.1f} ms"
            f"  {r['swap_median_ms']:>6.2f} ms  {r['swap_p95_ms']:>6.2f} ms",
            flush=True,
        )
    print("\nswap alone (instance.__class__ moves + on_reload), 20 rounds")
    for n in sorted({1000, 10000, *counts} - {0}):
        r = bench_swap(n, 20)
        print(f"{r['instances']:>11}  median {r['median_ms']:.2f} ms  p95 {r['p95_ms']:.2f} ms")
    print("\ntargets: median save->answer < 150 ms; swap < 20 ms for 10,000 instances")


if __name__ == "__main__":
    main()
