"""The worker supervisor behind ``python -m livews serve --workers N``.

Starts N worker processes (each a ``python -m livews serve`` of its own: own loop, own live layer, own
watcher on ``handlers/``) that share one port with ``SO_REUSEPORT``, so the kernel spreads new connections
over them. The supervisor serves nothing itself: it relays each worker's output prefixed with
``[worker I pid P]`` (so a reload report says which worker it is from), restarts a worker that dies (with
backoff, one line each time), prints every worker's pid and health on ``SIGUSR1``, and on SIGTERM/SIGINT
asks every worker to stop (their clients get 1001 within ``close_timeout``), killing any that outlive that
by a grace period.

Workers run in their own session, so a Ctrl-C in the terminal reaches the supervisor only and each worker is
stopped exactly once, by it. What reaches every worker at run time (a group message) goes over the bus.

Health is more than a live process: each worker gets one end of a socket pair (``livews.server.probe``) whose
probe bytes its event loop echoes. A worker silent for ``UNRESPONSIVE_AFTER`` seconds is reported, one silent
past ``worker_timeout`` (``--worker-timeout``) is killed with SIGKILL, since a blocked loop cannot run a
graceful stop, and restarted like one that died. The port's HTTP health path could not do this: with
``SO_REUSEPORT`` the kernel, not the supervisor, picks the worker a connection reaches.

Prompts: the supervisor takes none and relays none. Each worker accepts prompts on its own socket
``<port>.w<I>.sock``, and ``python -m livews attach`` on the port connects to every one of them and runs each
statement on all workers, labelling their output (``livews.live.attach_cluster``). That fan-out lives in the
prompt because it is the only place that sees every answer and can say in one line what ran where.

The browser console: each worker serves its own, and the kernel picks the worker a page or its socket
reaches, so the workers share one console token (``CONSOLE_TOKEN_ENV``, made once by the supervisor): the
link any of them prints works whichever worker answers it (and shows that worker's clients).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .server.probe import PROBE_FD

__all__ = ["CONSOLE_TOKEN_ENV", "Supervisor", "Worker", "reserve_port", "supervise", "worker_argv"]

#: The environment variable through which every worker gets the same browser console token.
CONSOLE_TOKEN_ENV = "LIVEWS_CONSOLE_TOKEN"


#: A worker that ran this long before dying is restarted at once; quicker deaths back off.
_STABLE_AFTER = 10.0
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 10.0
#: Extra seconds a stopping worker gets beyond ``close_timeout`` before it is killed.
_STOP_GRACE = 5.0
#: The supervisor writes one probe byte to each ready worker this often; its event loop echoes it.
PROBE_EVERY = 1.0
#: A worker whose loop has not answered for this long is reported unresponsive (once, until it answers).
UNRESPONSIVE_AFTER = 3.0
#: A worker whose loop has not answered for this long is killed (SIGKILL) and restarted; ``--worker-timeout``.
WORKER_TIMEOUT = 30.0


@dataclass
class Worker:
    """One worker slot: the process currently filling it and what is known of its health."""

    index: int
    pid: int | None = None
    state: str = "starting"  # starting -> ready -> exited (-> starting again)
    started_at: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    answered_at: float = 0.0  # when its event loop last echoed a probe (or became ready)
    unresponsive: bool = False
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)

    def silent_for(self) -> float:
        """Seconds since the worker's loop last answered (0 until it is ready)."""
        return time.monotonic() - self.answered_at if self.state == "ready" else 0.0

    def describe(self) -> str:
        up = f"up {time.monotonic() - self.started_at:.0f}s" if self.state == "ready" else self.state
        last = f", last exit {self.last_exit}" if self.last_exit is not None else ""
        loop = ""
        if self.state == "ready":
            silent = self.silent_for()
            loop = f", loop answered {silent:.1f}s ago"
            if self.unresponsive:
                loop = f", loop unresponsive {silent:.1f}s"
        return f"worker {self.index} pid {self.pid} {up}, restarts {self.restarts}{last}{loop}"


def reserve_port(host: str, port: int) -> tuple[int, socket.socket | None]:
    """Pick the port the workers share; for port 0, hold a bound (not listening) socket that keeps it ours.

    The socket sets ``SO_REUSEPORT`` like the workers, so they can bind beside it; it never listens, so the
    kernel never hands it a connection.
    """
    if port:
        return port, None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return int(sock.getsockname()[1]), sock


class Supervisor:
    """Run ``workers`` copies of ``argv_for(index)`` until a signal; restart the ones that die.

    ``say`` prints one line (the supervisor's own and the workers' prefixed ones).
    """

    def __init__(
        self,
        workers: int,
        argv_for: Callable[[int], list[str]],
        *,
        close_timeout: float = 5.0,
        worker_timeout: float = WORKER_TIMEOUT,
        say: Callable[[str], object] = print,
    ) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.workers = [Worker(i) for i in range(1, workers + 1)]
        self._argv_for = argv_for
        self.close_timeout = close_timeout
        self.worker_timeout = worker_timeout
        self._say = say
        self._stopping = asyncio.Event()
        self._console_token = secrets.token_urlsafe(18)  # one for all workers (module docstring)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGUSR1, self.report)
        self._say(f"supervisor pid {os.getpid()}: {len(self.workers)} workers")
        tasks = [loop.create_task(self._keep(worker)) for worker in self.workers]
        await self._stopping.wait()
        self._say("stopping the workers (1001 going away)...")
        await self._stop_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return 0

    def report(self) -> None:
        """Print one line per worker: pid, state, uptime, restarts."""
        for worker in self.workers:
            self._say(worker.describe())

    async def _keep(self, worker: Worker) -> None:
        """Keep one worker slot filled: start, relay output, restart with backoff when it dies."""
        delay = _BACKOFF_FIRST
        while not self._stopping.is_set():
            probe = await self._start(worker)
            watch = asyncio.get_running_loop().create_task(self._watch(worker, probe))
            try:
                await self._relay(worker)
                assert worker.proc is not None
                code = await worker.proc.wait()
            finally:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
                probe.close()
            worker.state, worker.last_exit = "exited", code
            if self._stopping.is_set():
                return
            ran = time.monotonic() - worker.started_at
            delay = _BACKOFF_FIRST if ran >= _STABLE_AFTER else delay
            self._say(
                f"worker {worker.index} pid {worker.pid} died (exit {code}); restarting in {delay:.1f}s"
            )
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, _BACKOFF_MAX)
            worker.restarts += 1

    async def _start(self, worker: Worker) -> socket.socket:
        """Start the worker's process; return the supervisor's end of its probe socket pair."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONUNBUFFERED="1", LIVEWS_WORKER=str(worker.index))
        env[CONSOLE_TOKEN_ENV] = self._console_token
        env[PROBE_FD] = str(theirs.fileno())
        try:
            worker.proc = await asyncio.create_subprocess_exec(
                *self._argv_for(worker.index),
                stdout=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        worker.pid, worker.state, worker.started_at = worker.proc.pid, "starting", time.monotonic()
        worker.unresponsive = False
        self._say(f"worker {worker.index} pid {worker.pid} starting")
        return ours

    async def _watch(self, worker: Worker, probe: socket.socket) -> None:
        """Probe the worker's event loop every second; report it silent, kill it past ``worker_timeout``.

        A killed worker is restarted like any that dies. Silence is counted from when the worker became
        ready, so loading the handler files at start is not mistaken for a blocked loop.
        """
        loop = asyncio.get_running_loop()
        probe.setblocking(False)
        answered = asyncio.Event()

        def on_answer() -> None:
            try:
                data = probe.recv(256)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(probe)
                return
            answered.set()

        loop.add_reader(probe, on_answer)
        try:
            while True:
                answered.clear()
                if worker.state == "ready":
                    try:
                        probe.send(b"?")
                    except OSError:
                        pass
                try:
                    await asyncio.wait_for(answered.wait(), PROBE_EVERY)
                    await asyncio.sleep(PROBE_EVERY)
                except asyncio.TimeoutError:
                    pass
                if answered.is_set():
                    if worker.unresponsive:
                        self._say(
                            f"worker {worker.index} pid {worker.pid}: event loop answering again after "
                            f"{worker.silent_for():.1f}s"
                        )
                    worker.unresponsive, worker.answered_at = False, time.monotonic()
                    continue
                silent = worker.silent_for()
                if silent >= self.worker_timeout and worker.proc is not None:
                    self._say(
                        f"worker {worker.index} pid {worker.pid}: event loop unresponsive for {silent:.1f}s "
                        f"(limit {self.worker_timeout:g}s); killing it to restart it"
                    )
                    try:
                        worker.proc.kill()
                    except ProcessLookupError:
                        pass
                    return
                if silent >= min(UNRESPONSIVE_AFTER, self.worker_timeout / 2) and not worker.unresponsive:
                    worker.unresponsive = True
                    self._say(
                        f"worker {worker.index} pid {worker.pid}: event loop unresponsive (no probe answered "
                        f"for {silent:.1f}s; restarted after {self.worker_timeout:g}s)"
                    )
        finally:
            loop.remove_reader(probe)

    async def _relay(self, worker: Worker) -> None:
        """Print the worker's lines with its name until it closes its output (it exited)."""
        assert worker.proc is not None and worker.proc.stdout is not None
        prefix = f"[worker {worker.index} pid {worker.pid}] "
        while True:
            line = await worker.proc.stdout.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\n")
            if worker.state == "starting" and text.startswith(("ws://", "wss://")):
                worker.state, worker.answered_at = "ready", time.monotonic()
            self._say(prefix + text)

    async def _stop_all(self) -> None:
        running = [w for w in self.workers if w.proc is not None and w.proc.returncode is None]
        for worker in running:
            assert worker.proc is not None
            try:
                worker.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        waits = [asyncio.ensure_future(w.proc.wait()) for w in running if w.proc is not None]
        if not waits:
            return
        _done, late = await asyncio.wait(waits, timeout=self.close_timeout + _STOP_GRACE)
        if late:
            for worker in running:
                if worker.proc is not None and worker.proc.returncode is None:
                    self._say(f"worker {worker.index} pid {worker.pid} did not stop in time: killed")
                    worker.proc.kill()
            await asyncio.gather(*late, return_exceptions=True)


def worker_argv(argv: list[str], port: int, index: int, node: str | None) -> list[str]:
    """The command line of worker ``index``: this one without ``--workers``, on ``port``, reusing it."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--port", "--node"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--port=", "--node=")):
            continue
        kept.append(arg)
    if "serve" not in kept:
        kept.insert(0, "serve")
    extra = ["--port", str(port), "--reuse-port"]
    if node:
        extra += ["--node", f"{node}-{index}"]
    return [sys.executable, "-m", "livews", *kept, *extra]


def supervise(
    argv: list[str],
    workers: int,
    host: str,
    port: int,
    node: str | None,
    bus: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
) -> int:
    """Run ``workers`` workers of ``argv`` (``python -m livews``'s arguments) until a signal."""
    chosen, holder = reserve_port(host, port)
    try:
        supervisor = Supervisor(
            workers, lambda i: worker_argv(argv, chosen, i, node), worker_timeout=worker_timeout
        )
        if bus is None and workers > 1:
            print("note: no --bus, so a group message reaches the clients of its own worker only", flush=True)
        return asyncio.run(supervisor.run())
    finally:
        if holder is not None:
            holder.close()
