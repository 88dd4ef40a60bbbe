"""``python -m livews serve`` as a user runs it: a real process, real client, Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]


async def test_serve_prints_its_urls_echoes_and_stops_cleanly_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "livews", "serve", "--port", "0", "--handlers", str(ROOT / "handlers")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        loop = asyncio.get_running_loop()
        urls = []
        while not any(u.endswith("/echo") for u in urls):
            line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), 20)
            assert line, proc.stderr.read() if proc.stderr else "server exited"
            urls.append(line.strip())
        echo_url = next(u for u in urls if u.endswith("/echo"))
        assert echo_url.startswith("ws://127.0.0.1:")
        async with connect(echo_url) as ws:
            await ws.send("over the wire")
            assert await ws.recv() == "over the wire"
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert ws.close_code == 1001
        assert await loop.run_in_executor(None, proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_loads_the_files_the_reloader_would_and_skips_editor_leftovers(tmp_path: Path) -> None:
    """``serve`` and the reloader share one rule for "is this a handler file?" (``is_handler_file``)."""
    from livews.cli import load_resources
    from livews.live.loader import is_handler_file

    (tmp_path / "echo.py").write_text(
        "from livews import Handler, resource\n\n@resource('/echo')\nclass Echo(Handler):\n    pass\n"
    )
    for leftover in ("~echo.py", "#echo.py", "_helper.py", ".echo.py"):
        (tmp_path / leftover).write_text("raise SystemExit('an editor leftover was loaded')\n")
    (tmp_path / "folder.py").mkdir()
    loaded = sorted(p.name for p in tmp_path.iterdir() if p.is_file() and is_handler_file(p))
    assert loaded == ["echo.py"]
    assert [r.path for r in load_resources(tmp_path)] == ["/echo"]
