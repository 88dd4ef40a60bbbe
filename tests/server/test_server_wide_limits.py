"""Server-wide limits: open connections, bytes held by incomplete handshakes, out of descriptors."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from livews import Handler, Resource
from tests.server.support import eventually, serving, url
from tests.server.units import T

ROOT = Path(__file__).resolve().parents[2]


class Quiet(Handler):
    pass


async def _status(server_url: str) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server_url):
            pass
    return info.value.response.status_code


async def test_max_connections_counts_every_path_answers_503_past_it_and_a_freed_slot_is_reused() -> None:
    async with serving(Resource("/a", Quiet), Resource("/b", Quiet), max_connections=2) as server:
        async with connect(url(server, "/a")), connect(url(server, "/b")):
            assert await _status(url(server, "/a")) == 503
            assert await _status(url(server, "/b")) == 503
        await eventually(lambda: not server.clients())
        async with connect(url(server, "/b")):
            pass


def _partial_head(size: int) -> bytes:
    """The start of a request head, ``size`` bytes long, that never ends."""
    start = b"GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: "
    return start + b"p" * (size - len(start))


async def test_incomplete_heads_share_one_budget_past_which_a_handshake_answers_503() -> None:
    async with serving(Resource("/a", Quiet), max_handshake_buffer=10_000) as server:
        streams = []
        for _ in range(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(_partial_head(4_000))
            streams.append((reader, writer))
        await eventually(lambda: server._head_bytes == 8_000)  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(_partial_head(4_000))  # would hold 12,000 bytes
        response = await asyncio.wait_for(reader.read(), T)
        assert response.startswith(b"HTTP/1.1 503 ")
        writer.close()
        assert server._head_bytes == 8_000  # type: ignore[attr-defined]
        # A head that arrives whole is never held, so it passes while the budget is full.
        async with connect(url(server, "/a")):
            pass
        for _reader, stalled in streams:
            stalled.close()
        await eventually(lambda: server._head_bytes == 0)  # type: ignore[attr-defined]


_OUT_OF_DESCRIPTORS = textwrap.dedent(
    """
    import asyncio, logging, resource, sys, time
    from livews import Handler, Resource, Server

    logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(message)s", stream=sys.stderr)
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    async def main():
        server = await Server([Resource("/", Handler)], port=0, ping_interval=None).start()
        print("READY", server.port, flush=True)
        start = time.monotonic()
        await asyncio.sleep(float(sys.argv[1]))
        print("SECONDS", time.monotonic() - start, flush=True)
        await server.close(timeout=1)

    asyncio.run(main())
    """
)


def test_running_out_of_descriptors_logs_at_most_one_line_a_second() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _OUT_OF_DESCRIPTORS, "2.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    socks = []
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "READY", ready
        port = int(ready[1])
        for _ in range(120):  # more than the 48 descriptors the server may have: they stay in the backlog
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=T))
        out, err = proc.communicate(timeout=60)
    finally:
        for sock in socks:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    seconds = float(out.split()[-1])
    lines = [line for line in err.splitlines() if "accept" in line]
    assert lines, err[-2000:]  # the condition is reported
    assert len(lines) <= int(seconds) + 1, f"{len(lines)} lines in {seconds:.1f} s"
    assert "Traceback" not in err
