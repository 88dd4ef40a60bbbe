"""``python -m livews serve`` logs a connection's open and close, in JSON when asked, serves ``--metrics``,
believes ``--forwarded-allow-ips``, and ``-vv`` turns up livews' loggers without other libraries' debug."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from livews.testing import connect

ROOT = Path(__file__).resolve().parents[2]
T = 20.0


async def _start(*options: str) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-m", "livews", "serve", "--no-reload", "--port", "0"]
    argv += ["--handlers", str(ROOT / "handlers"), *options]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    for _ in range(20):
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), T)
        if not line:
            break
        if line.strip().endswith("/echo"):
            return proc, line.strip().removesuffix("/echo")
    proc.kill()
    raise AssertionError(f"no /echo URL printed: {proc.communicate()[1]}")


async def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.get_running_loop().run_in_executor(None, proc.communicate, None, T)
    return err


async def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("ws://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(), T)
    finally:
        writer.close()


async def test_open_and_close_are_logged_as_json_with_client_fields_and_metrics_are_served() -> None:
    proc, base = await _start("-v", "--log-format", "json", "--metrics", "--forwarded-allow-ips", "127.0.0.1")
    try:
        async with connect(base, "/echo", headers={"X-Forwarded-For": "203.0.113.7"}) as ws:
            await ws.send_text("hi")
            assert await ws.receive_text() == "hi"
        raw = await _raw(base, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK")
        families = {f.name: f for f in text_string_to_metric_families(raw.partition(b"\r\n\r\n")[2].decode())}
        (sample,) = [s for s in families["livews_connections"].samples if s.name.endswith("_total")]
        assert (sample.labels, sample.value) == ({"resource": "/echo"}, 1)
    finally:
        err = await _stop(proc)
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records and len(records) == len(err.splitlines())  # every line is one JSON object
    opened = next(r for r in records if "opened" in r["message"])
    closed = next(r for r in records if "closed" in r["message"])
    assert opened["level"] == "INFO" and opened["logger"] == "livews.server"
    assert opened["client_id"] == closed["client_id"] == 1
    assert opened["path"] == closed["path"] == "/echo"
    assert opened["peer"].startswith("203.0.113.7:") and opened["peer"] == closed["peer"]  # the proxy's word
    assert closed["code"] == 1000 and closed["duration"] >= 0


async def test_double_verbose_shows_livews_debug_lines_and_not_other_libraries() -> None:
    proc, base = await _start("-vv")
    try:
        answer = await _raw(base, b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: nonsense\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
    finally:
        err = await _stop(proc)
    assert "livews.server DEBUG handshake from 127.0.0.1" in err
    assert " asyncio " not in err and "Using selector" not in err  # asyncio's own DEBUG line at loop start
