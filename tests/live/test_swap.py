"""Moving live instances to a new class: state kept, layout checked once, on_reload run, rest reported."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType

from livews.live.loader import load_file
from livews.live.swap import ClassMap, class_fingerprint, layout_problem, swap_instances


def _classes(module: ModuleType) -> list[type]:
    return [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]


def _load(path: Path, text: str, previous: ModuleType | None = None) -> ModuleType:
    path.write_text(text)
    return load_file(path, _classes, previous).module


V1 = """
class Echo:
    def __init__(self):
        self.count = 0
    def answer(self, text):
        self.count += 1
        return f"v1 {text} {self.count}"
"""

V2 = """
class Echo:
    def answer(self, text):
        self.count += 1
        return f"v2 {text} {self.count}"
    def on_reload(self, old_cls):
        self.reloaded_from = old_cls
"""


def test_instances_move_to_the_new_class_with_their_state(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    a, b = v1.Echo(), v1.Echo()
    a.answer("x")
    v2 = _load(f, V2, v1)
    report = swap_instances([a, b], ClassMap.between_modules(v1, v2))
    assert report.moved == 2 and not report.stuck
    assert type(a) is v2.Echo
    assert a.answer("y") == "v2 y 2"
    assert a.reloaded_from is v1.Echo


def test_instances_of_unrelated_classes_are_left_alone(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    v2 = _load(f, V2, v1)

    class Other:
        pass

    other = Other()
    report = swap_instances([other], ClassMap.between_modules(v1, v2))
    assert report.moved == 0 and type(other) is Other


def test_incompatible_slots_keep_the_old_class_and_are_reported(tmp_path: Path) -> None:
    f = tmp_path / "slotted.py"
    v1 = _load(f, "class S:\n    __slots__ = ('a',)\n")
    s = v1.S()
    s.a = 1
    v2 = _load(f, "class S:\n    __slots__ = ('a', 'b')\n", v1)
    assert layout_problem(v1.S, v2.S) is not None
    report = swap_instances([s, v1.S()], ClassMap.between_modules(v1, v2))
    assert report.moved == 0
    assert report.stuck_count == 2
    assert "__slots__" in report.stuck[0].reason
    assert type(s) is v1.S and s.a == 1


def test_an_instance_left_on_an_older_version_moves_by_qualname_later(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    old = v1.Echo()
    v2 = _load(f, V2, v1)
    v3 = _load(f, V2.replace("v2", "v3"), v2)
    report = swap_instances([old], ClassMap.between_modules(v2, v3))
    assert report.moved == 1 and type(old) is v3.Echo


def test_a_raising_on_reload_is_counted_and_does_not_stop_the_others(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    items = [v1.Echo() for _ in range(3)]
    v2 = _load(f, V1 + "    def on_reload(self, old):\n        raise RuntimeError('boom')\n", v1)
    report = swap_instances(items, ClassMap.between_modules(v1, v2))
    assert report.moved == 3 and report.hook_errors == 3
    assert all(type(i) is v2.Echo for i in items)


def test_an_async_on_reload_is_handed_to_the_scheduler(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    item = v1.Echo()
    v2 = _load(f, V1 + "    async def on_reload(self, old):\n        self.done = True\n", v1)
    scheduled: list[object] = []
    report = swap_instances([item], ClassMap.between_modules(v1, v2), schedule=scheduled.append)
    assert report.moved == 1 and len(scheduled) == 1
    asyncio.run(scheduled[0])  # type: ignore[arg-type]
    assert item.done is True


def test_an_explicit_pair_wins_over_the_qualname(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    item = v1.Echo()
    v2 = _load(f, "class Renamed:\n    pass\nclass Echo:\n    pass\n", v1)
    report = swap_instances([item], ClassMap.between_modules(v1, v2, {v1.Echo: v2.Renamed}))
    assert report.moved == 1 and type(item) is v2.Renamed


def test_a_class_fingerprint_changes_with_code_not_with_position(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    moved_down = _load(f, "\n\n\n" + V1, v1)
    v2 = _load(f, V1.replace("v1 ", "v2 "), moved_down)
    assert class_fingerprint(v1.Echo) == class_fingerprint(moved_down.Echo)
    assert class_fingerprint(v1.Echo) != class_fingerprint(v2.Echo)


def test_a_base_exception_from_on_reload_is_counted_and_never_leaves_the_swap(tmp_path: Path) -> None:
    f = tmp_path / "echo.py"
    v1 = _load(f, V1)
    items = [v1.Echo() for _ in range(2)]
    v2 = _load(f, V1 + "    def on_reload(self, old):\n        raise KeyboardInterrupt\n", v1)
    report = swap_instances(items, ClassMap.between_modules(v1, v2))
    assert report.moved == 2 and report.hook_errors == 2
