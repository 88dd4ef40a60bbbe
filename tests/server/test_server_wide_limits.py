"""Server-wide limits: open connections, bytes held by incomplete handshakes, out of descriptors."""

from __future__ import annotations

import asyncio
import re
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
    from livews.server.loops import loop_factory, run

    logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("asyncio").setLevel(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    async def main():
        server = Server([Resource("/", Handler)], port=0, ping_interval=None, transports=sys.argv[3])
        await server.start()
        print("READY", server.port, server.transports, flush=True)
        start = time.monotonic()
        await asyncio.sleep(float(sys.argv[1]))
        print("SECONDS", time.monotonic() - start, flush=True)
        await server.close(timeout=1)

    run(main(), loop_factory(sys.argv[2]))
    """
)

#: Every event loop and every transports the server can run on, as (loop, transports).
_AXES = [(loop, transports) for loop in ("asyncio", "uvloop") for transports in ("loop", "aiofastnet")]


def _out_of_descriptors(
    loop: str, transports: str, seconds: float, asyncio_logs: str = "WARNING"
) -> tuple[float, str]:
    """Run a server limited to 48 descriptors while 120 clients connect: its seconds and its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _OUT_OF_DESCRIPTORS, str(seconds), loop, transports, asyncio_logs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    socks = []
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready == ["READY", ready[1], transports], ready
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
    return float(out.split()[-1]), err


@pytest.mark.parametrize(("loop", "transports"), _AXES, ids=[f"{loop}-{name}" for loop, name in _AXES])
def test_running_out_of_descriptors_logs_at_most_one_line_a_second(loop: str, transports: str) -> None:
    seconds, err = _out_of_descriptors(loop, transports, 2.0)
    lines = [line for line in err.splitlines() if "accept" in line]
    if (loop, transports) != ("uvloop", "loop"):
        assert lines, err[-2000:]  # the condition is reported
    # else libuv accepts and closes what it has no descriptor for (its "EMFILE trick") and tells no one.
    assert len(lines) <= int(seconds) + 1, f"{len(lines)} lines in {seconds:.1f} s"
    assert "Traceback" not in err, err[-2000:]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_out_of_descriptors_aiofastnet_waits_before_accepting_again_instead_of_spinning(loop: str) -> None:
    # Each report counts the failed accepts since the one before. After a failure asyncio stops watching the
    # listening socket for a second (at most a backlog's worth of tries, 101, before it stops); aiofastnet's
    # accept loop asks the socket to stop it, and tried again at once, tens of thousands of times a second,
    # until its listening sockets could (accept.ListeningSocket). Nothing is logged per try here (asyncio's
    # logger quiet), so a loop that spins is not slowed down by writing tracebacks.
    seconds, err = _out_of_descriptors(loop, "aiofastnet", 2.0, asyncio_logs="CRITICAL")
    failed = sum(int(n) for n in re.findall(r"\((\d+) failed accepts since the last report\)", err))
    assert 0 < failed <= 2 * 101 * (seconds + 1), f"{failed} failed accepts in {seconds:.1f} s"


@pytest.mark.parametrize(
    "message",
    [
        # uvloop's handles keep their callback in C: only the report's message names it.
        "Exception in callback <bound method Server._start_serving_one_listener of <Server sockets=()>>",
        "Exception in callback <bound method BaseSelectorEventLoop._start_serving of <Loop running=True>>",
    ],
)
def test_an_accept_retry_after_the_server_closed_is_dropped_on_any_loop_and_other_reports_go_on(
    message: str,
) -> None:
    from livews.server.accept import _AcceptErrors

    passed: list[dict[str, object]] = []
    errors = _AcceptErrors(lambda loop, context: passed.append(context))
    loop = asyncio.new_event_loop()
    try:

        class CHandle:  # no ``_callback`` attribute, as uvloop's TimerHandle
            pass

        closed = {
            "message": message,
            "exception": ValueError("Invalid file descriptor: -1"),
            "handle": CHandle(),
        }
        errors(loop, closed)
        other = dict(closed, message=message.replace("_start_serving", "_handle_something_else"))
        errors(loop, other)
    finally:
        loop.close()
    assert passed == [other]
