"""The seven workloads: what each sends, what it measures, and how long it may take.

Each workload runs against one freshly started server (``Target``) and returns one measurement per table row
it feeds. Every phase is bounded in time and in count; the generator runs on its own core and the CPU of
server, generator and both cores is recorded next to every throughput figure (see ``probe``). This module
knows nothing about which implementation it talks to, nor about processes or reports.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loadgen import (
    OP_BINARY,
    OP_TEXT,
    Client,
    Tally,
    client_frame,
    close_all,
    deflate_message,
    inflate_message,
    open_client,
    open_clients,
    wait_until,
)
from probe import CpuWindow, rss_bytes, wait_idle

__all__ = ["FULL", "QUICK", "ROWS", "WORKLOADS", "Params", "Row", "Target", "Workload"]

Measurement = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Sizes and time bounds of one run (``QUICK`` or ``FULL``)."""

    warmup: float
    measure: float
    max_messages: int
    broadcast_clients: int
    broadcast_n: int
    broadcast_reps: int
    idle_connections: int
    handshake_seconds: float
    handshake_max: int
    handshake_concurrency: int
    connect_concurrency: int = 50


QUICK = Params(
    warmup=0.5,
    measure=1.5,
    max_messages=2_000_000,
    broadcast_clients=1_000,
    broadcast_n=10,
    broadcast_reps=3,
    idle_connections=500,
    handshake_seconds=1.0,
    handshake_max=5_000,
    handshake_concurrency=50,
)
FULL = Params(
    warmup=1.5,
    measure=4.0,
    max_messages=5_000_000,
    broadcast_clients=5_000,
    broadcast_n=10,
    broadcast_reps=5,
    idle_connections=2_000,
    handshake_seconds=3.0,
    handshake_max=20_000,
    handshake_concurrency=50,
)


@dataclass(frozen=True)
class Target:
    """A running server: where it listens, its pid, and the cores of server and generator."""

    host: str
    port: int
    pid: int
    server_core: int
    gen_core: int

    def window(self) -> CpuWindow:
        return CpuWindow(self.pid, self.server_core, self.gen_core)


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    key: str
    workload: int
    label: str
    unit: str
    higher_is_better: bool
    throughput: bool


ROWS = (
    Row("echo_64b", 1, "64 B text echo, 100 conns", "msg/s", True, True),
    Row("echo_8k", 2, "8 KiB binary echo, 10 conns", "msg/s", True, True),
    Row("echo_1m", 3, "1 MiB binary echo, 4 conns", "GB/s", True, True),
    Row("echo_deflate", 4, "8 KiB JSON echo, deflate, 10 conns", "msg/s", True, True),
    Row("broadcast", 5, "1 KiB broadcast: server CPU each", "ms", False, False),
    Row("idle_memory", 6, "RSS per idle connection", "KiB", False, False),
    Row("idle_memory_deflate", 6, "RSS per idle conn, deflate agreed", "KiB", False, False),
    Row("handshake_seq", 7, "handshakes/s, sequential", "conn/s", True, True),
    Row("handshake_conc", 7, "handshakes/s, 50 concurrent", "conn/s", True, True),
)


@dataclass(frozen=True)
class Workload:
    """One server start: its mode and flags, the rows it fills, and the coroutine that measures them."""

    number: int
    mode: str
    compress: bool
    rows: tuple[str, ...]
    run: Callable[[Target, Params], Awaitable[dict[str, Measurement]]]


# ------------------------------------------------------------------------------------------------ payloads


def _json_messages(count: int, size: int, seed: int = 7) -> list[bytes]:
    """Distinct JSON-ish documents of exactly ``size`` bytes: compressible like real API traffic."""
    rng = random.Random(seed)
    events = ("price_update", "order_filled", "order_placed", "heartbeat", "trade")
    symbols = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "ORCL")
    messages = []
    for _ in range(count):
        records: list[str] = []
        used = 2
        while True:
            record = (
                f'{{"id":{rng.randrange(10**9)},"user":"user-{rng.randrange(10**4):04d}",'
                f'"event":"{rng.choice(events)}","symbol":"{rng.choice(symbols)}",'
                f'"price":{rng.uniform(1, 1000):.2f},"qty":{rng.randrange(1, 500)},'
                f'"ts":{rng.randrange(10**12)}}}'
            )
            if used + len(record) + 1 > size:
                break
            records.append(record)
            used += len(record) + 1
        messages.append(("[" + ",".join(records) + "]").ljust(size).encode())
    return messages


def _check_first_echo(clients: list[Client], expected: list[tuple[int, bytes]]) -> None:
    for i, client in enumerate(clients):
        opcode, payload = expected[i % len(expected)]
        got = client.kept[0]
        data = inflate_message(got.payload) if got.compressed else got.payload
        if got.opcode != opcode or data != payload:
            raise AssertionError(
                f"echo mismatch on connection {i}: sent opcode {opcode} with {len(payload)} bytes, "
                f"got opcode "
                f"{got.opcode} with {len(data)} bytes"
            )


# ---------------------------------------------------------------------------------------------------- echo


async def _echo(
    target: Target,
    params: Params,
    *,
    conns: int,
    messages: list[tuple[int, bytes]],
    deflate: bool = False,
    read_size: int = 16 * 1024,
) -> Measurement:
    """Closed-loop echo: each connection keeps exactly one message in flight; count replies for a while."""
    tally = Tally()
    clients = await open_clients(
        target.host,
        target.port,
        "/echo",
        conns,
        offer_deflate=deflate,
        tally=tally,
        read_size=read_size,
        concurrency=params.connect_concurrency,
    )
    try:
        if deflate and any(c.deflate is None for c in clients):
            raise AssertionError("the server did not agree to permessage-deflate")
        if not deflate and any(c.deflate is not None for c in clients):
            raise AssertionError("the server agreed to permessage-deflate that was not offered")
        cycles: dict[int, list[bytes]] = {}
        for i, client in enumerate(clients):
            bits = client.client_window_bits
            if bits not in cycles:
                cycles[bits] = [
                    client_frame(op, deflate_message(data, bits), rsv1=True)
                    if deflate
                    else client_frame(op, data)
                    for op, data in messages
                ]
            client.keep = 1
            client.start(cycles[bits], offset=i)
        await wait_until(lambda: all(c.messages for c in clients), 15.0, "first echo on every connection")
        _check_first_echo(clients, messages)
        await asyncio.sleep(params.warmup)
        window = target.window()
        first = tally.messages
        first_bytes = tally.payload_bytes
        window.start()
        started = time.perf_counter()
        deadline = started + params.measure
        while time.perf_counter() < deadline and tally.messages - first < params.max_messages:
            await asyncio.sleep(0.02)
        count = tally.messages - first
        size = tally.payload_bytes - first_bytes
        elapsed = time.perf_counter() - started
        cpu = window.stop()
        for client in clients:
            client.stop()
        await wait_until(
            lambda: all(c.messages == c.sent for c in clients), 15.0, "echo of messages in flight"
        )
    finally:
        close_all(clients)
    return {
        "messages": count,
        "messages_per_s": count / elapsed,
        "payload_bytes_per_s": size / elapsed,
        **cpu.as_dict(),
        **cpu.per_op(count),
    }


async def _echo_64b(target: Target, params: Params) -> dict[str, Measurement]:
    m = await _echo(target, params, conns=100, messages=[(OP_TEXT, b"x" * 64)])
    return {"echo_64b": {"value": m["messages_per_s"], **m}}


async def _echo_8k(target: Target, params: Params) -> dict[str, Measurement]:
    m = await _echo(target, params, conns=10, messages=[(OP_BINARY, random.Random(8).randbytes(8192))])
    return {"echo_8k": {"value": m["messages_per_s"], **m}}


async def _echo_1m(target: Target, params: Params) -> dict[str, Measurement]:
    m = await _echo(
        target,
        params,
        conns=4,
        messages=[(OP_BINARY, random.Random(1).randbytes(2**20))],
        read_size=256 * 1024,
    )
    return {"echo_1m": {"value": m["payload_bytes_per_s"] / 1e9, **m}}


async def _echo_deflate(target: Target, params: Params) -> dict[str, Measurement]:
    pool = [(OP_TEXT, data) for data in _json_messages(32, 8192)]
    m = await _echo(target, params, conns=10, messages=pool, deflate=True)
    return {"echo_deflate": {"value": m["messages_per_s"], **m}}


# ----------------------------------------------------------------------------------------------- broadcast

BROADCAST_MESSAGE = ("0123456789abcdef" * 64).encode()
"""What every server broadcasts: the same 1 KiB as ``servers/_common.BROADCAST_MESSAGE``."""


async def _broadcast(target: Target, params: Params) -> dict[str, Measurement]:
    """Server CPU for one 1 KiB broadcast to every client, as the server measures it around its own loop."""
    tally = Tally()
    clients = await open_clients(
        target.host,
        target.port,
        "/broadcast",
        params.broadcast_clients,
        tally=tally,
        concurrency=params.connect_concurrency,
        timeout=180.0,
    )
    control = clients[0]
    control.keep = 10**9
    total = len(clients)

    async def go(n: int) -> tuple[float, float, float]:
        before = tally.messages
        control.kept.clear()
        window = target.window()
        window.start()
        started = time.perf_counter()
        control.write(client_frame(OP_TEXT, f"go:{n}".encode()))

        def delivered() -> bool:
            return tally.messages >= before + total * n + 1 and any(
                k.payload.startswith(b"cpu:") for k in control.kept
            )

        await wait_until(delivered, 120.0, f"delivery of {n} broadcasts to {total} clients")
        elapsed = time.perf_counter() - started
        server_cpu = window.server_cpu_seconds()
        replies = [k.payload for k in control.kept if k.payload.startswith(b"cpu:")]
        copies = [k.payload for k in control.kept if not k.payload.startswith(b"cpu:")]
        if len(replies) != 1 or len(copies) != n or any(c != BROADCAST_MESSAGE for c in copies):
            raise AssertionError(
                f"broadcast: {len(copies)} copies (want {n} of 1,024 bytes), {len(replies)} replies"
            )
        if tally.messages != before + total * n + 1:
            raise AssertionError(
                f"broadcast: {tally.messages - before} messages arrived, want {total * n + 1}"
            )
        return float(replies[0][4:]), server_cpu, elapsed

    try:
        await go(1)
        await go(1)
        per_broadcast: list[float] = []
        whole_process: list[float] = []
        delivery: list[float] = []
        for _ in range(params.broadcast_reps):
            own, server_cpu, elapsed = await go(params.broadcast_n)
            per_broadcast.append(own / params.broadcast_n)
            whole_process.append(server_cpu / params.broadcast_n)
            delivery.append(elapsed / params.broadcast_n)
    finally:
        close_all(clients)
    value = statistics.median(per_broadcast) * 1000
    return {
        "broadcast": {
            "value": value,
            "clients": total,
            "broadcasts_per_go": params.broadcast_n,
            "server_cpu_ms_each": [round(x * 1000, 4) for x in per_broadcast],
            "us_per_client": value * 1000 / total,
            "process_cpu_ms_each_incl_flush": round(statistics.median(whole_process) * 1000, 4),
            "delivery_ms_each": round(statistics.median(delivery) * 1000, 4),
        }
    }


# -------------------------------------------------------------------------------------------------- memory


async def _idle_memory(target: Target, params: Params, deflate: bool) -> Measurement:
    """RSS growth of the server process for N open, idle connections, divided by N."""
    warm = await open_clients(target.host, target.port, "/echo", 20, offer_deflate=deflate, read_size=4096)
    await asyncio.gather(*(c.aclose() for c in warm))
    await wait_idle(target.pid)
    before = rss_bytes(target.pid)
    count = params.idle_connections
    clients = await open_clients(
        target.host,
        target.port,
        "/echo",
        count,
        offer_deflate=deflate,
        read_size=4096,
        concurrency=params.connect_concurrency,
        timeout=180.0,
    )
    try:
        agreed = sum(c.deflate is not None for c in clients)
        if agreed != (count if deflate else 0):
            raise AssertionError(f"{agreed} of {count} connections agreed to permessage-deflate")
        settled = await wait_idle(target.pid)
        after = rss_bytes(target.pid)
    finally:
        close_all(clients)
    return {
        "value": (after - before) / count / 1024,
        "connections": count,
        "rss_before_mib": round(before / 2**20, 2),
        "rss_after_mib": round(after / 2**20, 2),
        "settled": settled,
    }


async def _idle_memory_plain(target: Target, params: Params) -> dict[str, Measurement]:
    return {"idle_memory": await _idle_memory(target, params, deflate=False)}


async def _idle_memory_deflate(target: Target, params: Params) -> dict[str, Measurement]:
    return {"idle_memory_deflate": await _idle_memory(target, params, deflate=True)}


# ---------------------------------------------------------------------------------------------- handshakes


async def _churn(target: Target, params: Params, concurrency: int) -> Measurement:
    """Open, upgrade and close connections, ``concurrency`` at a time, for a bounded time and count."""
    count = 0
    stop_at = time.perf_counter() + params.handshake_seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop_at and count < params.handshake_max:
            client = await open_client(target.host, target.port, "/echo", read_size=4096)
            await client.aclose()
            count += 1

    window = target.window()
    window.start()
    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(concurrency))), params.handshake_seconds + 30
    )
    elapsed = time.perf_counter() - started
    cpu = window.stop()
    return {
        "value": count / elapsed,
        "connections": count,
        "concurrency": concurrency,
        **cpu.as_dict(),
        **cpu.per_op(count),
    }


async def _handshakes(target: Target, params: Params) -> dict[str, Measurement]:
    for _ in range(20):
        client = await open_client(target.host, target.port, "/echo", read_size=4096)
        await client.aclose()
    sequential = await _churn(target, params, 1)
    concurrent = await _churn(target, params, params.handshake_concurrency)
    return {"handshake_seq": sequential, "handshake_conc": concurrent}


WORKLOADS = (
    Workload(1, "echo", False, ("echo_64b",), _echo_64b),
    Workload(2, "echo", False, ("echo_8k",), _echo_8k),
    Workload(3, "echo", False, ("echo_1m",), _echo_1m),
    Workload(4, "echo", True, ("echo_deflate",), _echo_deflate),
    Workload(5, "broadcast", False, ("broadcast",), _broadcast),
    Workload(6, "echo", False, ("idle_memory",), _idle_memory_plain),
    Workload(6, "echo", True, ("idle_memory_deflate",), _idle_memory_deflate),
    Workload(7, "echo", False, ("handshake_seq", "handshake_conc"), _handshakes),
)
