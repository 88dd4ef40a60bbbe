"""``python -m livews serve --workers N`` and separate ``serve`` nodes as users run them, over a real Redis.

Real processes, real clients, a real redis-server: clients land on both workers (the kernel spreads them),
group messages cross workers exactly once, a killed worker is restarted and its members expire, a saved
handler file is reloaded in every worker, and SIGTERM closes every client with 1001.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .conftest import T
from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
#: Short presence timings: a dead node's members are gone 1 s after its last heartbeat.
FAST = "?heartbeat=0.2&expiry=1&backoff=0.05&backoff_max=0.3"
EXPIRY = 1.0

ROOM = """
import os
import livews
from livews import Handler, resource

VERSION = "{version}"

@resource("/room")
class Room(Handler):
    def on_open(self):
        self.join("room")
        self.send(f"hello {{self.client.server.node}} {{os.getpid()}}")

    async def on_text(self, message):
        if message == "which":
            self.send(f"{{VERSION}} {{self.client.server.node}}")
        elif message == "stats":
            self.send("stats " + livews_json(self.client.server.stats()))
        elif message == "members":
            members = await livews.members("room")
            self.send("members " + livews_json([m.node for m in members]))
        else:
            self.publish("room", message)

def livews_json(value):
    import json
    return json.dumps(value)
"""


def two_workers(handlers: Path, *options: str) -> list[str]:
    """``serve --workers 2`` on a free port for ``handlers``, then ``options``: the cluster tests' command."""
    return ["serve", "--workers", "2", "--port", "0", "--handlers", str(handlers), *options]


def port_of(url: str) -> int:
    """The port of a ``ws://host:port/...`` URL."""
    return int(url.split(":")[2].split("/")[0])


def write_room(handlers: Path, version: str) -> None:
    tmp = handlers / ".room.py.tmp"
    tmp.write_text(ROOM.format(version=version))
    os.replace(tmp, handlers / "room.py")


class Process:
    """A ``python -m livews`` process whose output lines are collected by a thread."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livews", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = T) -> list[str]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(self.lines), timeout)

        if not await asyncio.to_thread(wait):
            raise AssertionError("not seen in time; output:\n" + "\n".join(self.lines))
        return list(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(T * 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def _urls(lines: list[str]) -> list[str]:
    return [m.group(0) for line in lines if (m := re.search(r"ws://\S+/room", line))]


@asynccontextmanager
async def livews(argv: list[str], cwd: Path, ready_urls: int) -> AsyncIterator[tuple[Process, str]]:
    process = Process(argv, cwd)
    try:
        lines = await process.wait_for(lambda lines: len(_urls(lines)) >= ready_urls)
        yield process, _urls(lines)[0]
    finally:
        process.stop()


class Member:
    """One connected client and the node/pid its greeting named."""

    def __init__(self, ws: ClientConnection, node: str, pid: int) -> None:
        self.ws, self.node, self.pid = ws, node, pid

    async def recv(self) -> str:
        return str(await asyncio.wait_for(self.ws.recv(), T))

    async def quiet(self, seconds: float = 0.3) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(self.ws.recv(), seconds)


async def member(url: str) -> Member:
    ws = await connect(url)
    _hello, node, pid = str(await asyncio.wait_for(ws.recv(), T)).split()
    return Member(ws, node, int(pid))


async def on_every_node(url: str, nodes: int, limit: int = 60) -> dict[str, Member]:
    """Connect until clients sit on ``nodes`` different nodes (the kernel picks); close the extra ones."""
    found: dict[str, Member] = {}
    for _ in range(limit):
        client = await member(url)
        if client.node in found:
            await client.ws.close()
        else:
            found[client.node] = client
        if len(found) == nodes:
            return found
    raise AssertionError(f"{limit} connections all landed on {sorted(found)}")


async def member_nodes(client: Member) -> list[str]:
    await client.ws.send("members")
    answer = await client.recv()
    assert answer.startswith("members ")
    return sorted(json.loads(answer.removeprefix("members ")))


async def until_members(client: Member, expected: list[str]) -> float:
    """Ask ``members()`` until it lists ``expected``; return how long that took."""
    started = time.monotonic()
    while (got := await member_nodes(client)) != sorted(expected):
        if time.monotonic() - started > T:
            raise AssertionError(f"members() still {got}, expected {sorted(expected)}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def publish_reaches_each_member_once(clients: list[Member], text: str) -> None:
    await clients[0].ws.send(text)
    for client in clients:
        assert await client.recv() == text
    for client in clients:
        await client.quiet()


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    folder = tmp_path / "handlers"
    folder.mkdir()
    write_room(folder, "v1")
    return folder


async def test_two_workers_share_the_port_and_a_group_message_reaches_both_exactly_once(
    redis_server: RedisServer, handlers: Path, tmp_path: Path
) -> None:
    argv = two_workers(handlers, "--bus", redis_server.url + FAST)
    async with livews(argv, tmp_path, ready_urls=2) as (process, url):
        clients = list((await on_every_node(url, 2)).values())
        assert len({c.pid for c in clients}) == 2
        await publish_reaches_each_member_once(clients, "to everyone")
        await publish_reaches_each_member_once(clients[::-1], "and back")
        nodes = sorted(c.node for c in clients)
        for client in clients:
            await until_members(client, nodes)

        process.proc.send_signal(signal.SIGTERM)
        for client in clients:
            await asyncio.wait_for(client.ws.wait_closed(), T)
            assert client.ws.close_code == 1001
        assert await asyncio.to_thread(process.proc.wait, T) == 0


async def test_a_killed_worker_is_restarted_and_its_members_expire_while_the_other_serves_on(
    redis_server: RedisServer, handlers: Path, tmp_path: Path
) -> None:
    argv = two_workers(handlers, "--bus", redis_server.url + FAST)
    async with livews(argv, tmp_path, ready_urls=2) as (process, url):
        found = await on_every_node(url, 2)
        victim, survivor = sorted(found.values(), key=lambda c: c.pid)
        await until_members(survivor, sorted(found))

        os.kill(victim.pid, signal.SIGKILL)
        await asyncio.wait_for(victim.ws.wait_closed(), T)
        gone_after = await until_members(survivor, [survivor.node])
        assert gone_after < EXPIRY + T / 2  # the documented expiry, plus slack for a loaded machine
        await process.wait_for(lambda lines: any(f"pid {victim.pid} died" in line for line in lines))
        lines = await process.wait_for(lambda lines: len(_urls(lines)) >= 3)  # the replacement listens
        assert any(re.search(r"worker \d pid \d+ starting", line) for line in lines[-10:] + lines)

        restarted = next(w for w in (1, 2) if any(f"worker {w} pid {victim.pid} died" in x for x in lines))
        process.proc.send_signal(signal.SIGUSR1)  # health report: one line per worker
        await process.wait_for(
            lambda lines: any(
                re.match(rf"worker {restarted} pid \d+ up \d+s, restarts 1, last exit -9", x) for x in lines
            )
        )

        await publish_reaches_each_member_once([survivor], "still here")
        fresh = await on_every_node(url, 2)  # the restarted worker takes clients again
        clients = [fresh[survivor.node], *(c for n, c in fresh.items() if n != survivor.node), survivor]
        await publish_reaches_each_member_once(clients, "after the restart")


async def test_a_handler_saved_once_is_reloaded_in_every_worker_with_clients_connected(
    redis_server: RedisServer, handlers: Path, tmp_path: Path
) -> None:
    argv = two_workers(handlers, "--bus", redis_server.url + FAST)
    async with livews(argv, tmp_path, ready_urls=2) as (process, url):
        clients = list((await on_every_node(url, 2)).values())
        write_room(handlers, "v2")
        for client in clients:
            await process.wait_for(
                lambda lines, pid=client.pid: any(f"pid {pid}] reloaded" in line for line in lines)
            )
        for client in clients:
            await client.ws.send("which")
            assert await client.recv() == f"v2 {client.node}"
        await publish_reaches_each_member_once(clients, "same connections")

        process.proc.send_signal(signal.SIGINT)  # Ctrl-C stops every worker the same way
        for client in clients:
            await asyncio.wait_for(client.ws.wait_closed(), T)
            assert client.ws.close_code == 1001
        assert await asyncio.to_thread(process.proc.wait, T) == 0


async def test_two_serve_processes_with_their_own_node_names_share_groups_through_redis(
    redis_server: RedisServer, handlers: Path, tmp_path: Path
) -> None:
    bus = redis_server.url + FAST
    base = ["serve", "--port", "0", "--handlers", str(handlers), "--bus", bus]
    async with livews([*base, "--node", "host-a"], tmp_path, 1) as (_a, url_a):
        async with livews([*base, "--node", "host-b"], tmp_path, 1) as (_b, url_b):
            on_a, on_b = await member(url_a), await member(url_b)
            assert (on_a.node, on_b.node) == ("host-a", "host-b")
            await publish_reaches_each_member_once([on_a, on_b], "a to all")
            await publish_reaches_each_member_once([on_b, on_a], "b to all")
            await until_members(on_a, ["host-a", "host-b"])
            await until_members(on_b, ["host-a", "host-b"])


async def stats(client: Member) -> dict[str, object]:
    await client.ws.send("stats")
    answer = await client.recv()
    assert answer.startswith("stats ")
    return dict(json.loads(answer.removeprefix("stats ")))


def slow_subscriber_connected(redis_server: RedisServer) -> bool:
    import redis

    with redis.Redis(port=redis_server.port) as admin:
        return any(
            c.get("name") == "livews:slow" and c.get("cmd") == "psubscribe" for c in admin.client_list()
        )


async def test_a_subscriber_dropped_for_its_output_buffer_comes_back_and_counts_what_it_missed(
    redis_server: RedisServer, handlers: Path, tmp_path: Path
) -> None:
    import redis

    with redis.Redis(port=redis_server.port) as admin:
        admin.config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
    bus = redis_server.url + FAST
    base = ["serve", "--port", "0", "--handlers", str(handlers), "--bus", bus]
    async with livews([*base, "--node", "fast"], tmp_path, 1) as (_a, url_a):
        async with livews([*base, "--node", "slow"], tmp_path, 1) as (slow, url_b):
            on_a, on_b = await member(url_a), await member(url_b)
            await publish_reaches_each_member_once([on_a, on_b], "warm")
            assert slow_subscriber_connected(redis_server)
            slow.proc.send_signal(signal.SIGSTOP)  # the slow node stops reading; Redis buffers for it
            try:
                big = "x" * 4096
                for _ in range(3000):  # 12 MiB: more than socket buffers hold, far over the 64 KiB limit
                    await on_a.ws.send(big)
                    assert await on_a.recv() == big
                deadline = time.monotonic() + T
                while slow_subscriber_connected(redis_server):
                    assert time.monotonic() < deadline, "redis kept the slow subscriber"
                    await asyncio.sleep(0.05)
            finally:
                slow.proc.send_signal(signal.SIGCONT)
            for _ in range(int(T / 0.1)):  # it resubscribes on its own backoff
                await on_a.ws.send("again")
                assert await on_a.recv() == "again"
                try:
                    while (got := await asyncio.wait_for(on_b.ws.recv(), 0.1)) == big:
                        pass  # what was still in its socket buffer when Redis cut it off
                    assert got == "again"
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("the slow node did not come back")
            figures = await stats(on_b)
            assert figures["bus_gaps"] and int(figures["bus_gaps"]) > 0  # type: ignore[call-overload]


async def test_a_worker_that_keeps_dying_is_restarted_with_a_doubling_backoff(tmp_path: Path) -> None:
    argv = ["serve", "--workers", "1", "--port", "0", "--handlers", str(tmp_path / "missing")]
    process = Process(argv, tmp_path)
    try:
        lines = await process.wait_for(lambda lines: sum("died (exit 2)" in x for x in lines) >= 4)
        died = re.compile(r"died \(exit 2\); restarting in ([\d.]+)s")
        delays = [float(m.group(1)) for x in lines if (m := died.search(x))]
        assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
        assert any("no handler folder or file at" in x for x in lines)  # the worker's own error is relayed
    finally:
        assert process.stop() == 0  # SIGTERM ends the supervisor while it waits to restart


async def test_the_console_link_a_worker_prints_works_on_every_worker(handlers: Path, tmp_path: Path) -> None:
    async with livews(two_workers(handlers, "--no-attach"), tmp_path, ready_urls=2) as (process, url):
        console = re.compile(r"console: http://127\.0\.0\.1:\d+/_livews/\?token=(\S+)")
        lines = await process.wait_for(lambda lines: sum(bool(console.search(x)) for x in lines) >= 2)
        tokens = {m.group(1) for x in lines if (m := console.search(x))}
        assert len(tokens) == 1, lines  # one token for the cluster, whichever worker printed it
        [token] = tokens
        members = await on_every_node(url, 2)
        expected = {f"127.0.0.1:{m.ws.local_address[1]}" for m in members.values()}
        seen: set[str] = set()
        base = url.removesuffix("/room")
        for _ in range(60):  # the kernel spreads these over both workers; a wrong token gets 403
            async with connect(f"{base}/_livews/ws?token={token}") as console_ws:
                hello = json.loads(await asyncio.wait_for(console_ws.recv(), T))
            seen |= {row["host"] for row in hello["clients"] if row["path"] == "/room"}
            if expected <= seen:
                break
        assert expected <= seen  # each worker's console answered with its own clients
