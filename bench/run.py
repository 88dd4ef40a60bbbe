"""One benchmark run: livews and its peers side by side, alternating, each figure next to the CPU it took.

    python bench/run.py                       # every implementation, every workload, 3 rounds
    python bench/run.py --quick               # smaller and shorter, one round: a smoke test
    python bench/run.py --only livews,websockets --workloads 1,2
    python bench/run.py --loops asyncio,uvloop     # every server on each event loop, side by side

Each measurement starts a fresh server (``bench/servers/<name>_server.py``) pinned to core 1 while this
process, the load generator, stays on core 0. Servers take turns inside every workload and the order rotates
from round to round, so drift on the machine spreads over all of them. Figures are only comparable within one
run. Results go to ``bench/results/`` as JSON (and PNG when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from loadgen import transport_kind, use_plain_asyncio
from report import Results, cost_table, cpu_table, loop_table, main_table, summarize, write_chart, write_json
from servers._common import run as run_on_loop
from workloads import FULL, QUICK, ROWS, WORKLOADS, Params, Target, Workload

__all__ = ["IMPLEMENTATIONS", "main"]

IMPLEMENTATIONS = ("livews", "websockets", "aiohttp", "picows", "floor")
LOOPS = ("asyncio", "uvloop")
HOST = "127.0.0.1"
SERVER_CORE = 1
GEN_CORE = 0

_BENCH = Path(__file__).resolve().parent
_SERVERS = _BENCH / "servers"
_RESULTS = _BENCH / "results"
_READY_TIMEOUT = 30.0
_WORKLOAD_TIMEOUT = 600.0
_NOISY = 20.0


@dataclass
class _Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    loop: str = ""
    transports: str = ""  # what the server says carries its connections (livews: TRANSPORTS <name>)


class _Unsupported(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _server_child_setup() -> None:
    """In the forked child: pin to the server core, and die with the runner (PR_SET_PDEATHSIG)."""
    os.sched_setaffinity(0, {SERVER_CORE})
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _tail(path: Path, lines: int = 6) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


async def _start(name: str, workload: Workload, log: Path, extra: list[str], loop: str) -> _Server:
    port = _free_port()
    cmd = [sys.executable, str(_SERVERS / f"{name}_server.py"), "--port", str(port), "--mode", workload.mode]
    if workload.compress:
        cmd.append("--compress")
    cmd += ["--loop", loop, *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=_BENCH.parent,
            env=env,
            preexec_fn=_server_child_setup,
        )
    server = _Server(name, port, proc, log)
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("LOOP "):
                server.loop = line[5:]
            if line.startswith("TRANSPORTS "):
                server.transports = line[11:]
            if line == f"READY {port}":
                if not server.loop.startswith(f"{loop}."):
                    _stop(server)
                    raise RuntimeError(f"{name} server runs on {server.loop or 'no named loop'}, not {loop}")
                return server
            if line.startswith("UNSUPPORTED"):
                _stop(server)
                raise _Unsupported(line.partition(" ")[2])
        if proc.poll() is not None:
            raise RuntimeError(f"{name} server exited with {proc.returncode}: {_tail(log)}")
        await asyncio.sleep(0.02)
    _stop(server)
    raise RuntimeError(f"{name} server not READY within {_READY_TIMEOUT:.0f}s: {_tail(log)}")


def _stop(server: _Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _noise(measurements: dict[str, dict[str, Any]]) -> float:
    return max((m.get("other_cpu_pct", 0.0) for m in measurements.values()), default=0.0)


async def _measure_once(
    name: str, workload: Workload, params: Params, log: Path, extra: list[str], loop: str
) -> dict[str, dict[str, Any]]:
    """One fresh server, one run of the workload; each row's figures carry the seconds each phase took."""
    began = time.perf_counter()
    try:
        server = await _start(name, workload, log, extra, loop)
    except _Unsupported as why:
        return {row: {"unsupported": str(why)} for row in workload.rows}
    except Exception as exc:
        return {row: {"error": str(exc)} for row in workload.rows}
    ready = time.perf_counter()
    target = Target(HOST, server.port, server.proc.pid, SERVER_CORE, GEN_CORE)
    try:
        got = await asyncio.wait_for(workload.run(target, params), _WORKLOAD_TIMEOUT)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        if server.proc.poll() is not None:
            detail += f" (server exited with {server.proc.returncode}: {_tail(log)})"
        return {row: {"error": detail} for row in workload.rows}
    finally:
        ran = time.perf_counter()
        _stop(server)
    phases = {
        "start_s": round(ready - began, 3),
        "workload_s": round(ran - ready, 3),
        "stop_s": round(time.perf_counter() - ran, 3),
    }
    for measurement in got.values():
        measurement["server_loop"] = server.loop
        if server.transports:
            measurement["server_transports"] = server.transports
        measurement["phases"] = phases
    return got


_SAMPLE = 0.25
"""Seconds of one look at how busy other programs keep the machine."""


class _Quiet:
    """Waits for other programs to go quiet before a measurement, within limits that keep the run's length.

    A wait ends as soon as one ``_SAMPLE`` shows other programs under ``_NOISY`` % CPU, or after ``limit``
    seconds. When two waits in a row ran out, the machine is busy for longer than waiting can bridge: further
    waits would only lengthen the run (a 60 s wait before each of ~100 measurements is well over an hour),
    so the runner stops waiting until a look before a measurement finds the machine quiet again. The
    measurement itself is the same either way, and its ``other`` CPU is recorded next to it.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.waited = 0.0
        self._ran_out = 0

    async def wait(self) -> None:
        if self.limit <= 0:
            return
        started = time.monotonic()
        if self._ran_out >= 2:
            if await asyncio.to_thread(_other_load, _SAMPLE) < _NOISY:
                self._ran_out = 0
            self.waited += time.monotonic() - started
            return
        deadline = started + self.limit
        while time.monotonic() < deadline:
            if await asyncio.to_thread(_other_load, _SAMPLE) < _NOISY:
                self._ran_out = 0
                self.waited += time.monotonic() - started
                return
        self._ran_out += 1
        self.waited += time.monotonic() - started
        if self._ran_out == 2:
            print(
                f"      still busy after {self.limit:.0f}s twice: no more waiting until the machine is quiet"
            )
        else:
            print(f"      still busy after {self.limit:.0f}s of waiting; measuring anyway")


async def _measure(
    name: str,
    workload: Workload,
    params: Params,
    log: Path,
    extra: list[str],
    loop: str,
    retries: int,
    quiet: _Quiet,
) -> dict[str, dict[str, Any]]:
    """Measure; when other programs took more than ``_NOISY`` % of the cores, measure again (bounded).

    A retry is only worth its time when the machine has calmed down: measured again under the same load, a
    figure is as disturbed as before. So a disturbed figure is measured again only when a short look finds
    other programs under ``_NOISY`` % now (after ``--wait-quiet`` when given); otherwise it is kept, marked
    ``noisy`` in the tables.
    """
    await quiet.wait()
    best = await _measure_once(name, workload, params, log, extra, loop)
    for attempt in range(retries):
        if _noise(best) < _NOISY or any("value" not in m for m in best.values()):
            break
        await quiet.wait()
        now = await asyncio.to_thread(_other_load, _SAMPLE)
        if now >= _NOISY:
            print(f"      disturbed ({_noise(best):.0f}% CPU from other programs), still busy: kept")
            break
        print(
            f"      disturbed ({_noise(best):.0f}% CPU from other programs), again ({attempt + 1}/{retries})"
        )
        again = await _measure_once(
            name, workload, params, log.with_suffix(f".retry{attempt + 1}.log"), extra, loop
        )
        if all("value" in m for m in again.values()) and _noise(again) < _noise(best):
            best = again
    return best


def _describe(row_key: str, m: dict[str, Any]) -> str:
    row = next(r for r in ROWS if r.key == row_key)
    if "unsupported" in m:
        return f"{row_key}: n/a ({m['unsupported']})"
    if "error" in m:
        return f"{row_key}: FAILED {m['error']}"
    text = f"{row_key}: {m['value']:,.3f} {row.unit}"
    if "server_cpu_pct" in m:
        text += (
            f"  (CPU server {m['server_cpu_pct']:.0f}%, generator {m['generator_cpu_pct']:.0f}%, "
            f"other {m['other_cpu_pct']:.0f}%)"
        )
    return text


def _raise_nofile(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("websockets", "aiohttp", "picows", "aiofastnet", "psutil", "livews"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _other_load(seconds: float = 1.0) -> float:
    """CPU % (of one core) used by processes other than this one over ``seconds``."""
    me = psutil.Process()
    before_me = sum(me.cpu_times()[:2])
    total = psutil.cpu_percent(interval=seconds) * (psutil.cpu_count() or 1)
    return max(0.0, total - (sum(me.cpu_times()[:2]) - before_me) * 100 / seconds)


def _have_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(IMPLEMENTATIONS), help="comma-separated implementations")
    parser.add_argument("--workloads", default="1,2,3,4,5,6,7", help="comma-separated workload numbers (1-7)")
    parser.add_argument("--quick", action="store_true", help="smaller, shorter, one round: a smoke test")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 3, or 1 with --quick)")
    parser.add_argument("--retries", type=int, default=1, help="re-measure a disturbed figure up to N times")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement wait up to SECONDS for other programs to go quiet",
    )
    parser.add_argument("--picows-plain-asyncio", action="store_true", help="picows without aiofastnet")
    parser.add_argument(
        "--livews-untuned", action="store_true", help="livews with Server(tune_allocator=False)"
    )
    parser.add_argument(
        "--livews-aiofastnet",
        action="store_true",
        help="livews on aiofastnet's transports (Server(transports='aiofastnet')), not the loop's own",
    )
    parser.add_argument("--gen-plain-asyncio", action="store_true", help="generator without aiofastnet")
    parser.add_argument(
        "--loops",
        "--loop",
        default="asyncio",
        help="comma-separated event loops (asyncio, uvloop) each server runs on, side by side",
    )
    parser.add_argument(
        "--gen-loop",
        choices=LOOPS,
        help="the load generator's event loop (default uvloop when installed: the cheaper generator)",
    )
    parser.add_argument("--broadcast-clients", type=int, help="override the broadcast client count")
    parser.add_argument("--idle-connections", type=int, help="override the idle connection count")
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/run-<time>.json)")
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in IMPLEMENTATIONS]
    if unknown:
        parser.error(f"unknown implementation(s) {unknown}; choose from {', '.join(IMPLEMENTATIONS)}")
    try:
        args.numbers = sorted({int(n) for n in args.workloads.split(",") if n.strip()})
    except ValueError:
        parser.error("--workloads takes numbers such as 1,2,5")
    if not args.numbers or any(n not in range(1, 8) for n in args.numbers):
        parser.error("workloads are numbered 1 to 7")
    args.loop_list = list(dict.fromkeys(s.strip() for s in args.loops.split(",") if s.strip()))
    if not args.loop_list or any(loop not in LOOPS for loop in args.loop_list):
        parser.error(f"--loops takes {' or '.join(LOOPS)} (comma-separated)")
    if args.gen_loop is None:
        args.gen_loop = "uvloop" if _have_uvloop() else "asyncio"
    if ("uvloop" in args.loop_list or args.gen_loop == "uvloop") and not _have_uvloop():
        parser.error("uvloop is not installed (pip install uvloop)")
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


async def _run(args: argparse.Namespace) -> int:
    params = QUICK if args.quick else FULL
    if args.broadcast_clients:
        params = replace(params, broadcast_clients=args.broadcast_clients)
    if args.idle_connections:
        params = replace(params, idle_connections=args.idle_connections)
    if args.gen_plain_asyncio:
        use_plain_asyncio()
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (server on core 1, generator on core 0)", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {GEN_CORE})
    nofile = _raise_nofile(max(params.broadcast_clients, params.idle_connections) * 2 + 1024)
    if nofile < params.broadcast_clients + 256:
        params = replace(params, broadcast_clients=max(100, nofile - 256))
        print(f"RLIMIT_NOFILE is {nofile}: broadcast uses {params.broadcast_clients} clients")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    _RESULTS.mkdir(exist_ok=True)
    logs = _RESULTS / "logs" / stamp
    logs.mkdir(parents=True, exist_ok=True)
    out = args.output or _RESULTS / f"run-{stamp}{'-quick' if args.quick else ''}.json"
    selected = [w for w in WORKLOADS if w.number in args.numbers]
    extra = {name: [] for name in args.servers}
    if args.picows_plain_asyncio and "picows" in extra:
        extra["picows"] = ["--no-aiofastnet"]
    if args.livews_untuned and "livews" in extra:
        extra["livews"].append("--no-tune-allocator")
    if args.livews_aiofastnet and "livews" in extra:
        extra["livews"].append("--aiofastnet")

    other = _other_load()
    print(
        f"bench: {', '.join(args.servers)} | workloads {','.join(map(str, args.numbers))} | "
        f"{'quick' if args.quick else 'full'}, {args.rounds} round(s) | servers on core {SERVER_CORE}, "
        f"{' and '.join(args.loop_list)} | generator on core {GEN_CORE} ({args.gen_loop}, "
        f"{transport_kind()} transports) | "
        f"other programs now use {other:.0f}% CPU"
    )
    if other > _NOISY:
        print("  warning: the machine is busy; figures will drift (see the 'other' CPU column)")
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "rounds": args.rounds,
        "servers": args.servers,
        "workloads": args.numbers,
        "params": params.__dict__,
        "cpu_count": os.cpu_count(),
        "server_core": SERVER_CORE,
        "generator_core": GEN_CORE,
        "generator_transport": transport_kind(),
        "generator_loop": args.gen_loop,
        "loops": args.loop_list,
        "picows_aiofastnet": not args.picows_plain_asyncio,
        "livews_tune_allocator": not args.livews_untuned,
        "livews_transports": {},  # per loop, as the livews server reported them (TRANSPORTS)
        "platform": platform.platform(),
        "versions": _versions(),
        "loadavg_start": os.getloadavg(),
        "other_cpu_pct_start": round(other, 1),
        "rlimit_nofile": nofile,
    }

    # Every (loop, server) pair takes a turn in each round, in an order that rotates from round to round.
    entrants = [(loop, name) for loop in args.loop_list for name in args.servers]
    results: dict[str, Results] = {loop: {} for loop in args.loop_list}
    unsupported: dict[tuple[str, int, str], dict[str, dict[str, Any]]] = {}
    quiet = _Quiet(args.wait_quiet)
    seconds: dict[str, float] = {}
    run_started = time.perf_counter()
    for index, workload in enumerate(selected):
        tag = f"w{workload.number}{'z' if workload.compress else ''}"
        workload_started = time.perf_counter()
        for round_no in range(args.rounds):
            shift = (index + round_no) % len(entrants)
            for loop, name in entrants[shift:] + entrants[:shift]:
                who = name if len(args.loop_list) == 1 else f"{name} on {loop}"
                key = (name, index, loop)
                print(f"[{tag}-r{round_no + 1}] {who}", flush=True)
                if key in unsupported:
                    # What an implementation cannot serve does not change between rounds: no process needed.
                    got = {row: dict(m) for row, m in unsupported[key].items()}
                else:
                    suffix = "" if len(args.loop_list) == 1 else f"-{loop}"
                    got = await _measure(
                        name,
                        workload,
                        params,
                        logs / f"{name}{suffix}-{tag}-r{round_no + 1}.log",
                        extra[name],
                        loop,
                        args.retries,
                        quiet,
                    )
                    if all("unsupported" in m for m in got.values()):
                        unsupported[key] = got
                said = next((m["server_transports"] for m in got.values() if "server_transports" in m), "")
                if said and name == "livews" and loop not in meta["livews_transports"]:
                    meta["livews_transports"][loop] = said
                    print(f"      livews on {loop} serves on {said} transports", flush=True)
                for row_key, measurement in got.items():
                    measurement["round"] = round_no + 1
                    results[loop].setdefault(row_key, {}).setdefault(name, []).append(measurement)
                    print(f"      {_describe(row_key, measurement)}", flush=True)
        seconds[tag] = round(time.perf_counter() - workload_started, 1)
        print(f"  {tag}: {seconds[tag]:.0f} s for {args.rounds} round(s)", flush=True)

    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta["loadavg_end"] = os.getloadavg()
    meta["seconds"] = {
        "run": round(time.perf_counter() - run_started, 1),
        "quiet_waits": round(quiet.waited, 1),
    }
    meta["seconds_per_workload"] = seconds
    summaries = {loop: summarize(results[loop], args.servers) for loop in args.loop_list}
    for loop, summary in summaries.items():
        print()
        if len(summaries) > 1:
            print(f"=== every server on {loop} ===")
            print()
        print(main_table(summary, args.servers))
        print()
        print(cpu_table(summary, args.servers))
        print()
        print(cost_table(summary, args.servers))
    if len(summaries) > 1:
        print()
        print(loop_table(summaries, args.servers))
    print()
    write_json(out, meta, results, summaries)
    print(f"results: {out}")
    if meta["livews_transports"]:
        used = ", ".join(f"{name} on {loop}" for loop, name in meta["livews_transports"].items())
        picows = "the loop's own" if args.picows_plain_asyncio else "aiofastnet when installed"
        print(f"transports: livews {used}; picows {picows}; generator {transport_kind()}")
    print(f"length:  {meta['seconds']['run'] / 60:.1f} min ({quiet.waited:.0f} s of it waiting for quiet)")
    for loop, summary in summaries.items():
        chart = out.with_suffix(".png" if len(summaries) == 1 else f".{loop}.png")
        title = (
            f"livews bench {stamp} ({meta['mode']}, {args.rounds} round(s), servers on {loop}; "
            "compare within one run only)"
        )
        if write_chart(chart, summary, args.servers, title):
            print(f"chart:   {chart}")
        else:
            print("chart:   skipped (matplotlib not installed)")
            break
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    return run_on_loop(_run(args), args.gen_loop)  # the generator's loop, made as the servers' are


if __name__ == "__main__":
    sys.exit(main())
