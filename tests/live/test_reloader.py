"""Reload contract over a registry, no server: paths re-pointed, instances moved, failures inert."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from livews.live.registry import Registry
from livews.live.reloader import Reloader


@dataclass(frozen=True)
class Res:
    path: str
    handler: type


def _collect(module: ModuleType) -> list[Res]:
    return [
        Res(v.PATH, v)
        for v in vars(module).values()
        if isinstance(v, type) and v.__module__ == module.__name__ and hasattr(v, "PATH")
    ]


class Live:
    """Stands in for the server: the handler instances of live connections, by path."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.conns: list[tuple[str, object]] = []

    def connect(self, path: str) -> object:
        resource = self.registry.resolve(path)
        assert resource is not None, f"{path} not served"
        handler = resource.handler()
        self.conns.append((path, handler))
        return handler

    def instances(self, path: str | None) -> list[object]:
        return [h for p, h in self.conns if path is None or p == path]


def _setup(tmp_path: Path) -> tuple[Registry, Live, Reloader]:
    registry = Registry()
    live = Live(registry)
    return registry, live, Reloader(registry, tmp_path, _collect, live.instances)


ECHO = """
from livews.live.keep import keep
said = keep("said", [])
class Echo:
    PATH = "/echo"
    def __init__(self):
        self.n = 0
    def answer(self, text):
        self.n += 1
        said.append(text)
        return "{tag} " + text + " " + str(self.n)
"""


def test_startup_load_serves_every_handler_file_and_skips_private_ones(tmp_path: Path) -> None:
    registry, _live, reloader = _setup(tmp_path)
    (tmp_path / "echo.py").write_text(ECHO.format(tag="v1"))
    (tmp_path / "_helper.py").write_text("class H:\n    PATH = '/h'\n")
    (tmp_path / ".echo.py.swp").write_text("junk")
    reports = asyncio.run(reloader.load_all())
    assert [r.kind for r in reports] == ["load"]
    assert [e.path for e in registry] == ["/echo"]


def test_a_reload_moves_live_instances_with_state_and_new_connections_get_new_code(tmp_path: Path) -> None:
    _registry, live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        h = live.connect("/echo")
        assert h.answer("a") == "v1 a 1"
        f.write_text(ECHO.format(tag="v2"))
        [report] = await reloader.apply([f])
        assert report.ok and report.kind == "reload"
        assert report.moved == 1 and report.changed == ["Echo"]
        assert report.carried == ["said"]
        assert h.answer("b") == "v2 b 2"
        assert live.connect("/echo").answer("c") == "v2 c 1"
        assert reloader.files[f.resolve()].module.said == ["a", "b", "c"]

    asyncio.run(scenario())


def test_a_broken_version_changes_nothing_and_the_fix_applies(tmp_path: Path) -> None:
    _registry, live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        h = live.connect("/echo")
        f.write_text(ECHO.format(tag="v2").replace("def answer(self, text):", "def answer(self, text)"))
        [report] = await reloader.apply([f])
        assert not report.ok and report.error is not None
        assert report.error.line is not None and "SyntaxError" in str(report)
        assert h.answer("a") == "v1 a 1"
        f.write_text(ECHO.format(tag="v3"))
        [report] = await reloader.apply([f])
        assert report.ok and report.moved == 1
        assert h.answer("b") == "v3 b 2"

    asyncio.run(scenario())


def test_an_unchanged_file_is_not_reloaded_unless_forced(tmp_path: Path) -> None:
    _registry, _live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        assert await reloader.apply([f]) == []
        [report] = await reloader.reload_all()
        assert report.kind == "reload" and report.unchanged == ["Echo"] and not report.changed

    asyncio.run(scenario())


def test_an_empty_read_waits_for_the_save_to_settle_and_loads_what_follows(tmp_path: Path) -> None:
    registry, _live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        f.write_text("")
        applying = asyncio.ensure_future(reloader.apply([f]))
        await asyncio.sleep(reloader.settle / 5)
        f.write_text(ECHO.format(tag="v2"))
        [report] = await applying
        assert report.ok and not report.removed and report.carried == ["said"], str(report)
        assert registry.resolve("/echo") is not None

    asyncio.run(scenario())


def test_a_file_that_stays_empty_stops_serving_once_settled(tmp_path: Path) -> None:
    registry, _live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        f.write_text("")
        [report] = await reloader.apply([f])
        assert report.removed == ["/echo"]
        assert registry.resolve("/echo") is None

    asyncio.run(scenario())


def test_deleting_a_file_stops_new_connections_and_keeps_live_ones(tmp_path: Path) -> None:
    registry, live, reloader = _setup(tmp_path)
    f = tmp_path / "echo.py"
    f.write_text(ECHO.format(tag="v1"))

    async def scenario() -> None:
        await reloader.load_all()
        h = live.connect("/echo")
        f.unlink()
        [report] = await reloader.apply([f])
        assert report.kind == "remove" and report.removed == ["/echo"] and report.kept_live == 1
        assert registry.resolve("/echo") is None
        assert h.answer("still") == "v1 still 1"

    asyncio.run(scenario())


def test_a_resource_removed_from_a_file_stops_accepting_and_an_added_one_is_served(tmp_path: Path) -> None:
    registry, live, reloader = _setup(tmp_path)
    f = tmp_path / "pair.py"
    f.write_text("class A:\n    PATH = '/a'\nclass B:\n    PATH = '/b'\n")

    async def scenario() -> None:
        await reloader.load_all()
        live.connect("/b")
        f.write_text("class A:\n    PATH = '/a'\nclass C:\n    PATH = '/c'\n")
        [report] = await reloader.apply([f])
        assert report.removed == ["/b"] and report.added == ["/c"] and report.kept_live == 1
        assert sorted(e.path for e in registry) == ["/a", "/c"]

    asyncio.run(scenario())


def test_two_files_claiming_one_path_is_an_error_for_the_second(tmp_path: Path) -> None:
    registry, _live, reloader = _setup(tmp_path)
    (tmp_path / "a.py").write_text("class A:\n    PATH = '/x'\n")
    (tmp_path / "b.py").write_text("class B:\n    PATH = '/x'\n")
    reports = asyncio.run(reloader.load_all())
    assert [r.ok for r in reports] == [True, False]
    assert "already served by" in str(reports[1])
    assert registry.resolve("/x").handler.__name__ == "A"


def test_register_on_a_served_path_is_a_live_replace(tmp_path: Path) -> None:
    registry, live, reloader = _setup(tmp_path)
    (tmp_path / "echo.py").write_text(ECHO.format(tag="v1"))

    class Loud:
        def answer(self, text: str) -> str:
            return text.upper()

    async def scenario() -> None:
        await reloader.load_all()
        h = live.connect("/echo")
        report = await reloader.register(Res("/echo", Loud))
        assert report.moved == 1
        assert h.answer("hi") == "HI"
        report = await reloader.unregister("/echo")
        assert report.kept_live == 1 and registry.resolve("/echo") is None
        with pytest.raises(KeyError):
            await reloader.unregister("/echo")

    asyncio.run(scenario())


def test_instances_whose_layout_changed_stay_on_the_old_class_and_are_reported(tmp_path: Path) -> None:
    _registry, live, reloader = _setup(tmp_path)
    f = tmp_path / "slots.py"
    source = "class S:\n    PATH = '/s'\n    __slots__ = SLOTS\n    def hi(self):\n        return 'VERSION'\n"
    f.write_text(source.replace("SLOTS", "('a',)").replace("VERSION", "v1"))

    async def scenario() -> None:
        await reloader.load_all()
        h = live.connect("/s")
        f.write_text(source.replace("SLOTS", "('a', 'b')").replace("VERSION", "v2"))
        [report] = await reloader.apply([f])
        assert report.ok and report.moved == 0 and report.stuck_count == 1
        assert "1 instance of S NOT moved: __slots__ differ" in str(report)
        assert h.hi() == "v1"
        assert live.connect("/s").hi() == "v2"

    asyncio.run(scenario())
