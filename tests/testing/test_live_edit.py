"""``livews_live_edit``: save a new version of a handler file, get the reload report, keep connections."""

from __future__ import annotations

from livews.testing import connect

V1 = """
from livews import Handler, resource

@resource("/greet")
class Greet(Handler):
    def on_open(self):
        self.count = 0

    def on_text(self, message):
        self.count += 1
        self.send_text(f"hello {message} #{self.count}")
"""

V2 = V1.replace('f"hello {message}', 'f"HI {message}')
BROKEN = V1.replace("def on_text(self, message):", "def on_text(self, message)")


async def test_saving_a_new_version_moves_live_connections_and_reports_it(livews_live_edit) -> None:
    edit = await livews_live_edit({"greet.py": V1})
    async with connect(edit, "/greet") as ws:
        await ws.send_text("a")
        assert await ws.receive_text() == "hello a #1"
        report = await edit.save("greet.py", V2)
        assert report.ok and report.kind == "reload"
        assert report.changed == ["Greet"] and report.moved == 1
        await ws.send_text("b")
        assert await ws.receive_text() == "HI b #2"  # same connection, same instance state


async def test_a_broken_save_is_reported_and_changes_nothing(livews_live_edit) -> None:
    edit = await livews_live_edit({"greet.py": V1})
    async with connect(edit, "/greet") as ws:
        report = await edit.save("greet.py", BROKEN)
        assert not report.ok
        assert "greet.py" in str(report) and "still running the previous version" in str(report)
        await ws.send_text("a")
        assert await ws.receive_text() == "hello a #1"


async def test_a_new_file_serves_its_path_and_a_deleted_one_stops(livews_live_edit) -> None:
    edit = await livews_live_edit()
    report = await edit.save("greet.py", V1)
    assert report.ok and report.added == ["/greet"]
    async with connect(edit, "/greet") as ws:
        removed = await edit.delete("greet.py")
        assert removed.removed == ["/greet"] and removed.kept_live == 1
        await ws.send_text("still here")
        assert await ws.receive_text() == "hello still here #1"


async def test_a_handlers_folder_is_served_by_livews_server(livews_server, tmp_path) -> None:
    (tmp_path / "greet.py").write_text(V1, encoding="utf-8")
    server = await livews_server(tmp_path)
    async with connect(server, "/greet") as ws:
        await ws.send_text("x")
        assert await ws.receive_text() == "hello x #1"
