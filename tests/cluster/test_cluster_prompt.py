"""``python -m livews attach`` on a ``serve --workers 2`` server: one prompt acting on every worker.

Real processes: the supervisor and its two workers, clients landing on both (the kernel picks), and the
attached prompt in a real pty. Each statement runs on every worker and its output comes back labelled
``[wI]``: clients() lists both workers' clients, broadcast reaches clients on both, a class typed once serves
on both, reload() and stats() report per worker, and ``send("wI:id", ...)`` reaches that worker's client only.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from livews.live import attach_cluster
from tests.live.prompt import plain, spawn_livews

from .conftest import T
from .test_workers import livews, port_of, two_workers

GREET = """
import os
from livews import Handler, resource

@resource("/room")
class Room(Handler):
    def on_open(self):
        self.send_text(f"hello w{os.environ['LIVEWS_WORKER']}")

    def on_text(self, message):
        self.send_text(message)
"""


class ClusterPrompt:
    """``python -m livews attach --port P`` in a pty; ``run`` waits for the last worker's output."""

    def __init__(self, cwd: Path, port: int, runtime: Path) -> None:
        self.child = spawn_livews(
            cwd, ["attach", "--port", str(port)], {"XDG_RUNTIME_DIR": str(runtime)}, terminal=True
        )
        self._marks = itertools.count()
        self.child.expect(r"Ctrl-D or exit\(\) detaches")
        self.banner = plain(self.child.before)
        self.child.expect(">>>")

    def run(self, statement: str) -> str:
        """Run one line on every worker; return what came back (plain), once worker 2 has finished it."""
        mark = next(self._marks)
        self.child.sendline(statement)  # then a marker of its own, so a statement that raises still ends
        self.child.sendline(f"print('@' + 'done{mark}')")
        self.child.expect(rf"\[w2\] @done{mark}")
        out = plain(self.child.before)
        self.child.expect(">>>")
        return out + plain(self.child.before)

    def run_on_w1(self, statement: str) -> str:
        """Like ``run`` while worker 2 may be away: wait for worker 1's marker and the next prompt."""
        mark = next(self._marks)
        self.child.sendline(statement)
        self.child.sendline(f"print('@' + 'done{mark}')")
        self.child.expect(rf"\[w1\] @done{mark}")
        out = plain(self.child.before)
        self.child.expect(">>>")
        return out + plain(self.child.before)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


async def greeted(url: str) -> tuple[ClientConnection, str]:
    ws = await connect(url)
    return ws, str(await asyncio.wait_for(ws.recv(), T))


async def one_per_worker(url: str, limit: int = 60) -> dict[str, ClientConnection]:
    """Connect until a client sits on each of the two workers; close the extra ones."""
    found: dict[str, ClientConnection] = {}
    for _ in range(limit):
        ws, hello = await greeted(url)
        worker = hello.removeprefix("hello ")
        if worker in found:
            await ws.close()
        else:
            found[worker] = ws
        if len(found) == 2:
            return found
    raise AssertionError(f"{limit} connections all landed on {sorted(found)}")


async def worker_sockets(runtime: Path, port: int) -> None:
    """Wait (up to ``T``) until both workers listen for prompts, each on its own attach socket."""
    sockets = [runtime / "livews" / f"{port}.w{index}.sock" for index in (1, 2)]
    for _ in range(int(T * 10)):
        if all(path.exists() for path in sockets):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no attach socket at {[str(p) for p in sockets if not p.exists()]}")


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    """A handler folder whose ``/room`` greets with the worker's index."""
    folder = tmp_path / "handlers"
    folder.mkdir()
    (folder / "room.py").write_text(GREET)
    return folder


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``XDG_RUNTIME_DIR`` for the server and the prompt (inherited by the workers)."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


async def test_an_attached_prompt_on_two_workers_lists_reaches_and_registers_on_both(
    tmp_path: Path, runtime: Path, handlers: Path
) -> None:
    argv = two_workers(handlers, "--no-console")
    async with livews(argv, tmp_path, ready_urls=2) as (_process, url):
        port = port_of(url)
        await worker_sockets(runtime, port)  # each worker accepts prompts on its own socket
        clients = await one_per_worker(url)
        prompt = await asyncio.to_thread(ClusterPrompt, tmp_path, port, runtime)
        try:
            assert "workers w1 w2" in prompt.banner

            table = await asyncio.to_thread(prompt.run, "print(clients())")
            for worker in ("w1", "w2"):
                rows = [
                    line for line in table.splitlines() if line.startswith(f"[{worker}]") and "/room" in line
                ]
                assert len(rows) == 1, table

            out = await asyncio.to_thread(prompt.run, 'print(broadcast("to all"))')
            assert "[w1] 1" in out and "[w2] 1" in out
            for ws in clients.values():
                assert await asyncio.wait_for(ws.recv(), T) == "to all"

            out = await asyncio.to_thread(prompt.run, 'send("w2:" + str(clients("/room")[0].id), "only w2")')
            assert await asyncio.wait_for(clients["w2"].recv(), T) == "only w2"
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(clients["w1"].recv(), 0.3)
            out = await asyncio.to_thread(prompt.run, "send(1, 'ambiguous')")
            assert "[w1] ValueError" in out and "[w2] ValueError" in out
            out = await asyncio.to_thread(prompt.run, "1 / 0 if worker == 2 else None")
            assert "[w2] ZeroDivisionError" in out and "an error on w2 only" in out

            await asyncio.to_thread(
                prompt.run,
                "class Up(Handler): on_text = lambda self, m: self.send_text(f'{m.upper()} w{worker}')",
            )
            out = await asyncio.to_thread(prompt.run, 'print(register("/up", Up))')
            assert "[w1] registered /up -> Up" in out and "[w2] registered /up -> Up" in out
            served_by: set[str] = set()
            base = url.removesuffix("/room")
            for _ in range(60):
                async with connect(base + "/up") as ws:
                    await ws.send("shout")
                    served_by.add(str(await asyncio.wait_for(ws.recv(), T)))
                if len(served_by) == 2:
                    break
            assert served_by == {"SHOUT w1", "SHOUT w2"}

            out = await asyncio.to_thread(prompt.run, "print(reload())")
            assert re.search(r"\[w1\] reloaded .*room\.py", out) and re.search(
                r"\[w2\] reloaded .*room\.py", out
            )
            out = await asyncio.to_thread(prompt.run, 'print(stats()["clients"])')
            assert re.search(r"\[w1\] \d+", out) and re.search(r"\[w2\] \d+", out)
        finally:
            prompt.close()
            for ws in clients.values():
                await ws.close()


async def test_a_worker_restarted_under_the_prompt_is_named_not_silently_skipped(
    tmp_path: Path, runtime: Path, handlers: Path
) -> None:
    argv = two_workers(handlers, "--no-console")
    async with livews(argv, tmp_path, ready_urls=2) as (process, url):
        port = port_of(url)
        await worker_sockets(runtime, port)
        prompt = await asyncio.to_thread(ClusterPrompt, tmp_path, port, runtime)
        try:
            await asyncio.to_thread(prompt.run, "name = 'typed before'")
            lines = await process.wait_for(lambda lines: any("worker 2 pid" in x for x in lines))
            pid = int(next(m.group(1) for x in lines if (m := re.search(r"worker 2 pid (\d+) starting", x))))
            os.kill(pid, signal.SIGKILL)
            await process.wait_for(lambda lines: any(f"pid {pid} died" in x for x in lines))
            first = await asyncio.to_thread(prompt.run_on_w1, "print('after the kill')")
            await process.wait_for(lambda lines: len(re.findall(r"ws://\S+/room", "\n".join(lines))) >= 3)
            await worker_sockets(runtime, port)
            second = await asyncio.to_thread(prompt.run, "print(name)")
            said = first + second
            assert (
                "not on w2 (not answering): this statement ran on w1 only" in first
                or "[w2] rejoined" in first
            )
            assert "[w2] rejoined as a new process: names and classes typed before are not on it" in said
            assert "[w1] typed before" in second and "[w2] NameError" in second
        finally:
            prompt.close()


async def test_completion_at_a_cluster_prompt_offers_the_names_of_every_worker(
    tmp_path: Path, runtime: Path, handlers: Path
) -> None:
    async with livews(two_workers(handlers, "--no-console"), tmp_path, ready_urls=2) as (_process, url):
        port = port_of(url)
        await worker_sockets(runtime, port)
        prompt = await asyncio.to_thread(attach_cluster.ClusterPrompt, port, runtime / "livews")
        try:
            await asyncio.to_thread(prompt.run, "if worker == 1: only_on_w1 = 1")
            await asyncio.to_thread(prompt.run, "if worker == 2: only_on_w2 = 2")
            words = await asyncio.to_thread(prompt.complete, "only_on")
            assert sorted(words) == ["only_on_w1", "only_on_w2"]
            assert await asyncio.to_thread(prompt.complete, "regist") == ["register"]  # once, not per worker
        finally:
            prompt.close()
