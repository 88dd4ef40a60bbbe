"""Loading a handler file into a fresh module: a failure keeps the running module and names file and line."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from livews.live.loader import LoadError, load_file, module_name_for


def _classes(module: ModuleType) -> list[type]:
    return [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_loaded_file_becomes_a_fresh_module_registered_under_a_stable_name(tmp_path: Path) -> None:
    f = _write(tmp_path / "echo.py", "class Echo:\n    pass\n")
    first = load_file(f, _classes)
    second = load_file(f, _classes)
    assert first.module is not second.module
    assert first.module.__name__ == second.module.__name__ == module_name_for(f)
    assert sys.modules[module_name_for(f)] is second.module
    assert [c.__name__ for c in second.resources] == ["Echo"]


def test_same_file_name_in_two_directories_gets_two_module_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert module_name_for(tmp_path / "a" / "echo.py") != module_name_for(tmp_path / "b" / "echo.py")


def test_a_syntax_error_names_file_and_line_and_keeps_the_previous_module(tmp_path: Path) -> None:
    f = _write(tmp_path / "echo.py", "class Echo:\n    pass\n")
    good = load_file(f, _classes)
    _write(f, "class Echo:\n    def on_text(self, t)\n        pass\n")
    with pytest.raises(LoadError) as info:
        load_file(f, _classes, previous=good.module)
    err = info.value
    assert err.line == 2
    assert str(err).startswith(f"{f}:2: SyntaxError")
    assert "def on_text(self, t)" in err.detail
    assert sys.modules[module_name_for(f)] is good.module


def test_an_exception_at_import_time_names_the_line_in_the_handler_file(tmp_path: Path) -> None:
    f = _write(tmp_path / "echo.py", "x = 1\n\ndef f():\n    return 1 / 0\n\nf()\n")
    with pytest.raises(LoadError) as info:
        load_file(f, _classes)
    assert info.value.line == 4
    assert "ZeroDivisionError" in str(info.value)
    assert module_name_for(f) not in sys.modules


def test_a_failing_collect_is_a_load_error_and_restores_the_old_module(tmp_path: Path) -> None:
    f = _write(tmp_path / "echo.py", "class Echo:\n    pass\n")
    good = load_file(f, _classes)

    def bad_collect(module: ModuleType) -> list[type]:
        raise ValueError("two resources claim /echo")

    with pytest.raises(LoadError, match="two resources claim /echo"):
        load_file(f, bad_collect, previous=good.module)
    assert sys.modules[module_name_for(f)] is good.module


def test_a_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="FileNotFoundError"):
        load_file(tmp_path / "gone.py", _classes)


def test_system_exit_in_a_handler_file_is_reported_not_obeyed(tmp_path: Path) -> None:
    f = _write(tmp_path / "quits.py", "raise SystemExit(3)\n")
    with pytest.raises(LoadError, match="SystemExit"):
        load_file(f, _classes)
