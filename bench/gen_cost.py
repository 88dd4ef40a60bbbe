"""The load generator's own cost: CPU (and, under callgrind, instructions) per echoed message.

    python bench/gen_cost.py [--messages 20000] [--size 64] [--conns 100] [--server picows]
    valgrind --tool=callgrind --trace-children=no <python binary> bench/gen_cost.py --messages 5000

A bench figure means something only while the server, not the generator, is the limit, so the generator's
cost per message is worth watching as servers get faster. This runs the closed-loop echo of workload 1
(``--conns`` connections, one message in flight each) against a server started on core 1 until the
generator has counted ``--messages`` replies (plus the ones in flight), and prints its CPU per message. Under
callgrind (the server is not traced), run it with two counts and divide the difference of the instruction
totals by the difference of the counts: a figure that does not move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from loadgen import (
    OP_TEXT,
    Tally,
    client_frame,
    close_all,
    open_clients,
    transport_kind,
    use_plain_asyncio,
    wait_until,
)
from servers._common import run as run_on_loop

_BENCH = Path(__file__).resolve().parent


def _start(server: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``server``'s bench script in echo mode on core 1; return it and its port once READY."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, str(_BENCH / "servers" / f"{server}_server.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {1}),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == f"READY {port}":
            return proc, port
    proc.kill()
    raise SystemExit(f"{server} server did not start")


async def _drive(port: int, messages: int, size: int, conns: int) -> tuple[int, float]:
    tally = Tally()
    clients = await open_clients("127.0.0.1", port, "/echo", conns, tally=tally)
    frames = [client_frame(OP_TEXT, b"x" * size)]
    try:
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = time.process_time()
        for i, client in enumerate(clients):
            client.start(frames, offset=i)
        await wait_until(lambda: tally.messages >= messages, 600.0, "the echoes", step=0.05)
        for client in clients:
            client.stop()
        await wait_until(lambda: all(c.messages == c.sent for c in clients), 15.0, "messages in flight")
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        user = usage1.ru_utime - usage0.ru_utime
        print(f"user {user:.3f} s, system {usage1.ru_stime - usage0.ru_stime:.3f} s")
        return tally.messages, time.process_time() - cpu
    finally:
        close_all(clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--server", default="picows")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--plain-asyncio", action="store_true", help="the loop's own transports")
    args = parser.parse_args()
    if args.plain_asyncio:
        use_plain_asyncio()
    os.sched_setaffinity(0, {0})
    proc, port = _start(args.server)
    try:
        count, cpu = run_on_loop(_drive(port, args.messages, args.size, args.conns), args.loop)
    finally:
        proc.terminate()
        proc.wait(5)
    print(
        f"generator ({args.loop} loop, {transport_kind()} transports): {count} messages, {cpu:.3f} s CPU, "
        f"{cpu / count * 1e6:.2f} us per message"
    )


if __name__ == "__main__":
    main()
