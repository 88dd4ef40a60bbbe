"""A real browser (Debian's chromium, headless) talks to livews: text, binary, a large compressed message,
a server close, and the browser's own permessage-deflate offer.

The page reports what it saw over the WebSocket itself, so no DevTools protocol is needed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from livews import Handler, Resource
from tests.server.support import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")

PAGE = """<!doctype html><meta charset="utf-8"><title>livews browser test</title><script>
const results = {};
const ws = new WebSocket("ws://127.0.0.1:%(port)d/browser?from=chromium");
ws.binaryType = "arraybuffer";
const big = "livews ".repeat(200000);
let step = 0;
ws.onopen = () => { results.extensions = ws.extensions; ws.send("héllo wörld"); };
ws.onmessage = (event) => {
  step += 1;
  if (step === 1) { results.text = event.data; ws.send(new Uint8Array([0, 1, 2, 255])); }
  else if (step === 2) { results.binary = Array.from(new Uint8Array(event.data)); ws.send(big); }
  else if (step === 3) { results.big_ok = event.data === big; ws.send("RESULT:" + JSON.stringify(results)); }
};
ws.onclose = (event) => { document.title = "closed " + event.code; };
</script>"""


class Browser(Handler):
    results: asyncio.Queue[dict[str, object]]

    def on_text(self, message: str) -> None:
        if message.startswith("RESULT:"):
            found = json.loads(message[7:])
            found["offer"] = self.client.headers.get("Sec-WebSocket-Extensions")
            found["query"] = self.client.query_params
            Browser.results.put_nowait(found)
            self.close(4000, "done")
        else:
            self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


async def test_chromium_exchanges_text_binary_and_a_large_compressed_message(tmp_path: Path) -> None:
    Browser.results = asyncio.Queue()
    async with serving(Resource("/browser", Browser)) as server:
        page = tmp_path / "page.html"
        page.write_text(PAGE % {"port": server.port}, encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM,  # type: ignore[arg-type]
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            page.as_uri(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            found = await asyncio.wait_for(Browser.results.get(), 60)
        finally:
            proc.kill()
            await proc.wait()
    assert found["text"] == "héllo wörld"
    assert found["binary"] == [0, 1, 2, 255]
    assert found["big_ok"] is True
    assert "permessage-deflate" in str(found["offer"])
    assert str(found["extensions"]).startswith("permessage-deflate")
    assert found["query"] == {"from": "chromium"}
